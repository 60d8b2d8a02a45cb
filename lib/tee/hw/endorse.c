/* Hardware evidence to IAS v4 reports; see endorse.h. */
#include "tee/hw/endorse.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"
#include "tee/quote.h"
#include "tee/report.h"

const char *steep_hw_ias_status(enum steep_hw_tcb_status status)
{
    switch (status) {
    case STEEP_HW_TCB_UP_TO_DATE:
    case STEEP_HW_TCB_NOT_APPLICABLE:
        return "OK";
    case STEEP_HW_TCB_SW_HARDENING_NEEDED:
        return "SW_HARDENING_NEEDED";
    case STEEP_HW_TCB_CONFIGURATION_NEEDED:
        return "CONFIGURATION_NEEDED";
    case STEEP_HW_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
        return "CONFIGURATION_AND_SW_HARDENING_NEEDED";
    case STEEP_HW_TCB_OUT_OF_DATE:
    case STEEP_HW_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED:
        return "GROUP_OUT_OF_DATE";
    case STEEP_HW_TCB_REVOKED:
        return "GROUP_REVOKED";
    default:
        return "SIGNATURE_INVALID";
    }
}

static int quote_body(const uint8_t *evidence, const struct steep_hw_report *r,
                      uint8_t body[STEEP_QUOTE_LEN])
{
    if (r->kind == STEEP_HW_SGX && r->version == 3) {
        memcpy(body, evidence, STEEP_QUOTE_LEN); /* header and report body as signed */
        return 0;
    }
    struct steep_tee_identity identity;
    GUARD(steep_hw_identity(r->kind, &r->sgx, &r->tdx, &r->snp, &identity));
    steep_quote_build(&identity, r->report_data, body);
    return 0;
}

int steep_hw_endorse(struct steep_authority *authority, const uint8_t *evidence, size_t len,
                     const struct steep_hw_collateral *collateral,
                     const struct steep_hw_policy *policy, time_t now,
                     struct steep_tee_evidence *out)
{
    struct steep_hw_report r;
    return steep_hw_endorse_report(authority, evidence, len, collateral, NULL, policy, now, out,
                                   &r);
}

int steep_hw_endorse_report(struct steep_authority *authority, const uint8_t *evidence, size_t len,
                            const struct steep_hw_collateral *collateral,
                            const struct steep_hw_trust *trust,
                            const struct steep_hw_policy *policy, time_t now,
                            struct steep_tee_evidence *out, struct steep_hw_report *verified)
{
    memset(out, 0, sizeof(*out));
    struct steep_hw_report *rp = verified;
    if (steep_hw_verify(evidence, len, collateral, trust, now, rp) < 0)
        return steep_error_wrap("not endorsed");
    if (steep_hw_policy_check(policy, rp, NULL) < 0)
        return steep_error_wrap("not endorsed");
    uint8_t body[STEEP_QUOTE_LEN], id[16];
    GUARD(quote_body(evidence, rp, body));
    ENSURE(RAND_bytes(id, sizeof(id)) == 1, "no randomness for the report id");
    char id_hex[33], timestamp[40], body64[4 * ((STEEP_QUOTE_LEN + 2) / 3) + 1];
    steep_hex_encode(id, sizeof(id), id_hex);
    steep_report_format_time(now, 0, timestamp);
    EVP_EncodeBlock((unsigned char *)body64, body, STEEP_QUOTE_LEN);
    json_t *advisories = json_array();
    for (size_t i = 0; advisories && i < rp->n_advisories; i++)
        json_array_append_new(advisories, json_string(rp->advisories[i]));
    json_t *report = json_pack(
        "{s:s,s:s,s:i,s:s,s:s,s:o,s:s,s:s}", "id", id_hex, "timestamp", timestamp, "version", 4,
        "isvEnclaveQuoteStatus", steep_hw_ias_status(rp->status), "isvEnclaveQuoteBody", body64,
        "advisoryIDs", advisories ? advisories : json_array(), "steepEvidenceKind",
        steep_hw_kind_name(rp->kind), "steepTcbStatus", steep_hw_tcb_status_name(rp->status));
    char *text = report ? json_dumps(report, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(report);
    ENSURE(text != NULL, "out of memory");
    int rc = steep_buf_append(&out->report, text, strlen(text));
    free(text);
    GUARD(rc);
    GUARD(steep_authority_sign(authority, out->report.data, out->report.len, &out->signature));
    unsigned char *der = NULL;
    int der_len = i2d_X509(steep_authority_cert(authority), &der);
    ENSURE(der_len > 0, "cannot encode the signing certificate");
    rc = steep_buf_append(&out->certs[0], der, (size_t)der_len);
    OPENSSL_free(der);
    out->n_certs = 1;
    return rc;
}
