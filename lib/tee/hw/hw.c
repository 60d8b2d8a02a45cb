/*
 * Entry points of the hardware verifier: kind detection from the bytes,
 * dispatch to the DCAP (dcap_verify.c) or SEV-SNP (snp.c) verifier, status
 * names, and the fail-closed policy that decides whether verified evidence
 * is acceptable. The policy refuses by default: only UpToDate, no debug,
 * and measurements pinned when the caller gives any; each refusal names the
 * check that failed.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"

static const char *const status_names[] = {
    [STEEP_HW_TCB_UP_TO_DATE] = "UpToDate",
    [STEEP_HW_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
    [STEEP_HW_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
    [STEEP_HW_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
    [STEEP_HW_TCB_OUT_OF_DATE] = "OutOfDate",
    [STEEP_HW_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
    [STEEP_HW_TCB_REVOKED] = "Revoked",
    [STEEP_HW_TCB_NOT_SUPPORTED] = "NotSupported",
    [STEEP_HW_TCB_NOT_APPLICABLE] = "NotApplicable",
};

const char *steep_hw_tcb_status_name(enum steep_hw_tcb_status status)
{
    if ((size_t)status < sizeof(status_names) / sizeof(status_names[0]))
        return status_names[status];
    return "?";
}

int steep_hw_tcb_status_parse(const char *name, enum steep_hw_tcb_status *out)
{
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
        if (name && strcmp(name, status_names[i]) == 0) {
            *out = (enum steep_hw_tcb_status)i;
            return 0;
        }
    return steep_error_set("unknown TCB status '%s'", name ? name : "");
}

const char *steep_hw_kind_name(enum steep_hw_kind kind)
{
    switch (kind) {
    case STEEP_HW_SGX:
        return "sgx";
    case STEEP_HW_TDX:
        return "tdx";
    case STEEP_HW_SNP:
        return "snp";
    default:
        return "unknown";
    }
}

enum steep_hw_kind steep_hw_detect(const uint8_t *data, size_t len)
{
    struct steep_cursor c = steep_cursor_make(data, len);
    uint16_t version, key_type;
    uint32_t tee_type, snp_version, snp_algo;
    if (steep_cursor_read_u16le(&c, &version) < 0 || steep_cursor_read_u16le(&c, &key_type) < 0 ||
        steep_cursor_read_u32le(&c, &tee_type) < 0)
        return STEEP_HW_UNKNOWN;
    if (version >= 3 && version <= 5 && key_type == 2 && len > STEEP_DCAP_HEADER_LEN)
        return tee_type == 0x81 ? STEEP_HW_TDX : tee_type == 0 ? STEEP_HW_SGX : STEEP_HW_UNKNOWN;
    /* SNP: u32 version at 0, u32 SIGNATURE_ALGO at 0x34 */
    c = steep_cursor_make(data, len);
    if (len == STEEP_SNP_REPORT_LEN && steep_cursor_read_u32le(&c, &snp_version) == 0 &&
        steep_cursor_skip(&c, 0x34 - 4) == 0 && steep_cursor_read_u32le(&c, &snp_algo) == 0 &&
        snp_version >= 2 && snp_version < 16 && snp_algo == 1)
        return STEEP_HW_SNP;
    return STEEP_HW_UNKNOWN;
}

int steep_hw_verify(const uint8_t *evidence, size_t len, const struct steep_hw_collateral *c,
                    const struct steep_hw_trust *trust, time_t now, struct steep_hw_report *out)
{
    memset(out, 0, sizeof(*out));
    ENSURE(now > 0, "hardware evidence: no verification time given");
    switch (steep_hw_detect(evidence, len)) {
    case STEEP_HW_SGX:
    case STEEP_HW_TDX:
        return steep_hw_verify_dcap(evidence, len, c, trust, now, out);
    case STEEP_HW_SNP:
        return steep_hw_verify_snp(evidence, len, c, trust, now, out);
    default:
        return steep_error_set("evidence is neither a DCAP quote (v3/v4/v5) nor an SEV-SNP "
                               "report (%zu bytes)",
                               len);
    }
}

/* ---- policy ---- */

static bool advisory_status(enum steep_hw_tcb_status s)
{
    return s == STEEP_HW_TCB_SW_HARDENING_NEEDED || s == STEEP_HW_TCB_CONFIGURATION_NEEDED ||
           s == STEEP_HW_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED;
}

static int check_status(const struct steep_hw_policy *p, const struct steep_hw_report *r)
{
    if (r->kind == STEEP_HW_SNP || r->status == STEEP_HW_TCB_UP_TO_DATE)
        return 0;
    const char *name = steep_hw_tcb_status_name(r->status);
    ENSURE(r->status != STEEP_HW_TCB_REVOKED, "TCB status Revoked: never accepted");
    ENSURE(r->status != STEEP_HW_TCB_NOT_SUPPORTED,
           "TCB status NotSupported: no TCB level of the collateral matches this platform; "
           "never accepted");
    bool listed = false;
    for (size_t i = 0; i < p->n_accepted_statuses && !listed; i++)
        listed = p->accepted_statuses[i] == r->status;
    ENSURE(listed, "TCB status %s is not accepted (only UpToDate, unless the policy lists it)",
           name);
    if (!advisory_status(r->status))
        return 0;
    for (size_t i = 0; i < r->n_advisories; i++) {
        bool ok = false;
        for (size_t j = 0; j < p->n_accepted_advisories && !ok; j++)
            ok = strcmp(p->accepted_advisories[j], r->advisories[i]) == 0;
        ENSURE(ok, "TCB status %s with advisory %s, which the policy does not accept", name,
               r->advisories[i]);
    }
    return 0;
}

static bool measurements_match(const struct steep_hw_measurements *m,
                               const struct steep_hw_report *r)
{
    switch (r->kind) {
    case STEEP_HW_SGX:
        if (!m->have_mr_enclave && !m->have_mr_signer)
            return false;
        return (!m->have_mr_enclave || CRYPTO_memcmp(m->mr_enclave, r->sgx.mr_enclave, 32) == 0) &&
               (!m->have_mr_signer || CRYPTO_memcmp(m->mr_signer, r->sgx.mr_signer, 32) == 0);
    case STEEP_HW_TDX:
        if (!m->have_mr_td || CRYPTO_memcmp(m->mr_td, r->tdx.mr_td, 48) != 0)
            return false;
        for (int i = 0; i < 4; i++)
            if (m->have_rtmr[i] && CRYPTO_memcmp(m->rtmr[i], r->tdx.rtmr[i], 48) != 0)
                return false;
        return true;
    case STEEP_HW_SNP:
        return m->have_snp_measurement &&
               CRYPTO_memcmp(m->snp_measurement, r->snp.measurement, 48) == 0;
    default:
        return false;
    }
}

static int check_measurements(const struct steep_hw_policy *p, const struct steep_hw_report *r,
                              size_t *index)
{
    if (!p->measurements)
        return 0;
    for (size_t i = 0; i < p->n_measurements; i++)
        if (measurements_match(&p->measurements[i], r)) {
            if (index)
                *index = i;
            return 0;
        }
    char hex[97];
    const uint8_t *m = r->kind == STEEP_HW_SGX   ? r->sgx.mr_enclave
                       : r->kind == STEEP_HW_TDX ? r->tdx.mr_td
                                                 : r->snp.measurement;
    steep_hex_encode(m, r->kind == STEEP_HW_SGX ? 32 : 48, hex);
    return steep_error_set("measurement not accepted: %s %s is none of the %zu pinned",
                           r->kind == STEEP_HW_SGX   ? "MRENCLAVE"
                           : r->kind == STEEP_HW_TDX ? "MRTD"
                                                     : "SNP MEASUREMENT",
                           hex, p->n_measurements);
}

int steep_hw_policy_check(const struct steep_hw_policy *p, const struct steep_hw_report *r,
                          size_t *index)
{
    GUARD(check_status(p, r));
    ENSURE(!r->debug || p->allow_debug,
           "%s: a debug %s is refused (its memory is open to the host; allow_debug is off)",
           steep_hw_kind_name(r->kind), r->kind == STEEP_HW_SGX ? "enclave" : "guest");
    return check_measurements(p, r, index);
}
