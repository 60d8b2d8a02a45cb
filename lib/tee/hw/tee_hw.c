/*
 * The hardware TEE back-ends behind tee.h's interface: "sgx" through
 * Gramine's /dev/attestation, "tdx" and "snp" through configfs-tsm
 * (backend.h). Evidence is the raw quote or report (evidence->hardware),
 * checked to be of the back-end's kind. measure() takes the identity from a
 * fresh quote: SGX's MRENCLAVE and MRSIGNER as they are; for TDX and SNP,
 * whose measurements are 48 bytes, SHA-256 digests of them (TDX: MRTD and
 * RTMR0-2 for mr_enclave, MROWNER for mr_signer; SNP: MEASUREMENT, and
 * ID_KEY_DIGEST || AUTHOR_KEY_DIGEST) — the full values are what
 * enclave_info's tdx_* / snp_* keys pin. Sealing: Gramine's SGX sealing
 * keys (_sgx_mrsigner / _sgx_mrenclave), expanded per label with HKDF;
 * TDX and SNP have no sealing primitive: sealing is refused here, and the
 * endorsed back-end (endorsed.c) asks the authority's key broker instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

#include "core/config.h"
#include "core/error.h"
#include "tee/hw/backend.h"
#include "tee/hw/hw_internal.h"

struct hw_state {
    enum steep_hw_kind kind;
    char root[2048];
    char entry[64];
};

static struct hw_state *state_of(struct steep_tee *tee)
{
    return tee->state;
}

static int hw_evidence(struct steep_tee *tee, const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                       struct steep_tee_evidence *evidence)
{
    memset(evidence, 0, sizeof(*evidence));
    struct hw_state *s = state_of(tee);
    if (s->kind == STEEP_HW_SGX) {
        if (steep_gramine_get_quote(s->root, report_data, &evidence->hardware) < 0) {
            steep_tee_evidence_free(evidence);
            return -1;
        }
    } else {
        struct steep_tsm_report r;
        GUARD(steep_tsm_get_report(s->root, s->entry, report_data, &r));
        const char *want = s->kind == STEEP_HW_TDX ? "tdx_guest" : "sev_guest";
        if (strcmp(r.provider, want) != 0) {
            steep_tsm_report_free(&r);
            return steep_error_set("configfs-tsm provider is '%s', the %s back-end needs '%s'",
                                   r.provider, steep_hw_kind_name(s->kind), want);
        }
        evidence->hardware = r.outblob;
        evidence->hardware_aux = r.auxblob;
    }
    enum steep_hw_kind got = steep_hw_detect(evidence->hardware.data, evidence->hardware.len);
    if (got != s->kind) {
        steep_tee_evidence_free(evidence);
        return steep_error_set("the %s back-end received %s evidence", steep_hw_kind_name(s->kind),
                               steep_hw_kind_name(got));
    }
    return 0;
}

static int digest(const struct steep_hw_part *parts, size_t n, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, steep_hw_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i].data, parts[i].len) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, out, &len) == 1;
    EVP_MD_CTX_free(ctx);
    ENSURE(ok, "cannot hash the measurement");
    return 0;
}

int steep_hw_identity(enum steep_hw_kind kind, const struct steep_sgx_report_body *sgx,
                      const struct steep_tdx_report_body *tdx, const struct steep_snp_report *snp,
                      struct steep_tee_identity *identity)
{
    if (kind == STEEP_HW_SGX) {
        memcpy(identity->mr_enclave, sgx->mr_enclave, 32);
        memcpy(identity->mr_signer, sgx->mr_signer, 32);
        return 0;
    }
    if (kind == STEEP_HW_TDX) {
        struct steep_hw_part td[4] = {
            {tdx->mr_td, 48}, {tdx->rtmr[0], 48}, {tdx->rtmr[1], 48}, {tdx->rtmr[2], 48}};
        struct steep_hw_part owner = {tdx->mr_owner, 48};
        GUARD(digest(td, 4, identity->mr_enclave));
        return digest(&owner, 1, identity->mr_signer);
    }
    struct steep_hw_part m = {snp->measurement, 48};
    struct steep_hw_part keys[2] = {{snp->id_key_digest, 48}, {snp->author_key_digest, 48}};
    GUARD(digest(&m, 1, identity->mr_enclave));
    return digest(keys, 2, identity->mr_signer);
}

static int hw_measure(struct steep_tee *tee, struct steep_tee_identity *identity)
{
    static const uint8_t zero[STEEP_TEE_REPORT_DATA_LEN];
    struct steep_tee_evidence evidence;
    GUARD(hw_evidence(tee, zero, &evidence));
    const uint8_t *data = evidence.hardware.data;
    size_t len = evidence.hardware.len;
    enum steep_hw_kind kind = state_of(tee)->kind;
    struct steep_snp_report snp;
    struct steep_dcap_quote q;
    int rc = kind == STEEP_HW_SNP ? steep_snp_report_parse(data, len, &snp)
                                  : steep_dcap_quote_parse(data, len, &q);
    if (rc == 0)
        rc = steep_hw_identity(kind, &q.sgx, &q.tdx, &snp, identity);
    steep_tee_evidence_free(&evidence);
    return rc;
}

static int hkdf(const uint8_t *secret, size_t len, const char *label, uint8_t out[32])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label)),
        OSSL_PARAM_construct_end(),
    };
    bool ok = ctx && EVP_KDF_derive(ctx, out, 32, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    ENSURE(ok, "cannot derive the sealing key");
    return 0;
}

static int hw_seal_key(struct steep_tee *tee, enum steep_tee_seal_policy policy, const char *label,
                       uint8_t key[STEEP_TEE_SEAL_KEY_LEN])
{
    struct hw_state *s = state_of(tee);
    ENSURE(s->kind == STEEP_HW_SGX,
           "the %s back-end cannot seal: TDX and SEV-SNP guests have no sealing key; their "
           "sealing keys come from the attestation authority's key broker ([tee] "
           "authority_address)",
           steep_hw_kind_name(s->kind));
    char path[4096];
    snprintf(path, sizeof(path), "%s/keys/%s", s->root,
             policy == STEEP_TEE_SEAL_SIGNER ? "_sgx_mrsigner" : "_sgx_mrenclave");
    struct steep_buf secret = STEEP_BUF_INIT;
    steep_buf_wipe(&secret);
    if (steep_read_file(path, 64, &secret) < 0)
        return steep_error_wrap("Gramine sealing key");
    int rc = secret.len == 16 ? hkdf(secret.data, secret.len, label, key)
                              : steep_error_set("Gramine sealing key %s is %zu bytes, expected 16",
                                                path, secret.len);
    steep_buf_free(&secret);
    return rc;
}

static void hw_free(struct steep_tee *tee)
{
    free(tee->state);
    free(tee);
}

static const struct steep_tee_backend sgx_backend = {"sgx", hw_measure, hw_evidence, hw_seal_key,
                                                     hw_free};
static const struct steep_tee_backend tdx_backend = {"tdx", hw_measure, hw_evidence, hw_seal_key,
                                                     hw_free};
static const struct steep_tee_backend snp_backend = {"snp", hw_measure, hw_evidence, hw_seal_key,
                                                     hw_free};

struct steep_tee *steep_tee_open_hw(const struct steep_tee_hw_options *options)
{
    const char *name = options && options->backend ? options->backend : "";
    const struct steep_tee_backend *backend = strcmp(name, "sgx") == 0   ? &sgx_backend
                                              : strcmp(name, "tdx") == 0 ? &tdx_backend
                                              : strcmp(name, "snp") == 0 ? &snp_backend
                                                                         : NULL;
    if (!backend) {
        steep_error_set("unknown hardware back-end '%s' (sgx, tdx or snp)", name);
        return NULL;
    }
    struct steep_tee *tee = calloc(1, sizeof(*tee));
    struct hw_state *s = calloc(1, sizeof(*s));
    if (!tee || !s) {
        free(tee);
        free(s);
        steep_error_set("out of memory");
        return NULL;
    }
    s->kind = backend == &sgx_backend   ? STEEP_HW_SGX
              : backend == &tdx_backend ? STEEP_HW_TDX
                                        : STEEP_HW_SNP;
    const char *root = options->root             ? options->root
                       : s->kind == STEEP_HW_SGX ? STEEP_GRAMINE_DEFAULT_ROOT
                                                 : STEEP_TSM_DEFAULT_ROOT;
    snprintf(s->root, sizeof(s->root), "%s", root);
    /* One entry per process: concurrent reports of one process are
     * serialised by the generation check, not by sharing an entry. */
    snprintf(s->entry, sizeof(s->entry), "steep-%ld", (long)getpid());
    tee->backend = backend;
    tee->state = s;
    return tee;
}

struct steep_tee *steep_tee_open_hw_from_config(const struct steep_config *config)
{
    const char *backend = steep_config_get_string(config, "tee.backend", "sim");
    const char *root = strcmp(backend, "sgx") == 0
                           ? steep_config_get_path(config, "tee.gramine_root", NULL)
                           : steep_config_get_path(config, "tee.tsm_root", NULL);
    struct steep_tee_hw_options options = {.backend = backend, .root = root};
    return steep_tee_open_hw(&options);
}
