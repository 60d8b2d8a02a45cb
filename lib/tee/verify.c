/*
 * The verifier. Every check returns through ENSURE with its own reason, so
 * a refusal always says which check failed and why; nothing is accepted by
 * falling through. The report is only parsed after its signature checks.
 */
#include "tee/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "core/error.h"
#include "tee/keys.h"
#include "tee/quote.h"
#include "tee/ratls.h"
#include "tee/report.h"

static X509 *decode_cert(const struct steep_buf *der)
{
    const unsigned char *p = der->data;
    X509 *cert = d2i_X509(NULL, &p, (long)der->len);
    if (cert && p != der->data + der->len) {
        X509_free(cert);
        cert = NULL;
    }
    return cert;
}

static int check_chain(const struct steep_tee_evidence *evidence, X509 *signer,
                       const struct steep_tee_policy *policy, time_t now)
{
    STACK_OF(X509) *intermediates = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = intermediates && ctx ? 0 : steep_error_set("out of memory");
    for (size_t i = 1; rc == 0 && i < evidence->n_certs; i++) {
        X509 *cert = decode_cert(&evidence->certs[i]);
        if (!cert || !sk_X509_push(intermediates, cert)) {
            X509_free(cert);
            rc = steep_error_set("report certificate %zu is not valid DER", i);
        }
    }
    if (rc == 0 && !X509_STORE_CTX_init(ctx, policy->roots, signer, intermediates))
        rc = steep_error_set("cannot start the certificate chain check");
    if (rc == 0) {
        X509_STORE_CTX_set_time(ctx, 0, now);
        if (X509_verify_cert(ctx) != 1)
            rc = steep_error_set(
                "report signing certificate does not chain to the trusted attestation root: %s",
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(intermediates, X509_free);
    return rc;
}

static int check_signature(const struct steep_tee_evidence *evidence, X509 *signer)
{
    EVP_PKEY *key = X509_get0_pubkey(signer);
    ENSURE(key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA,
           "report signing certificate does not hold an RSA key");
    ENSURE(steep_tee_verify_sha256(key, evidence->signature.data, evidence->signature.len,
                                   evidence->report.data, evidence->report.len),
           "report signature does not verify under the signing certificate");
    return 0;
}

static int check_signed(const struct steep_tee_evidence *evidence,
                        const struct steep_tee_policy *policy, time_t now)
{
    ENSURE(evidence->n_certs >= 1, "evidence carries no report signing certificate");
    X509 *signer = decode_cert(&evidence->certs[0]);
    ENSURE(signer != NULL, "report signing certificate is not valid DER");
    int rc = check_chain(evidence, signer, policy, now);
    if (rc == 0)
        rc = check_signature(evidence, signer);
    X509_free(signer);
    return rc;
}

static int check_age(const struct steep_report *report, const struct steep_tee_policy *policy,
                     time_t now)
{
    int64_t max_age =
        policy->max_report_age > 0 ? policy->max_report_age : STEEP_TEE_DEFAULT_MAX_REPORT_AGE;
    int64_t skew =
        policy->max_future_skew > 0 ? policy->max_future_skew : STEEP_TEE_DEFAULT_FUTURE_SKEW;
    int64_t age = (int64_t)now - (int64_t)report->timestamp;
    ENSURE(age <= max_age, "report is stale: issued %lld s ago (limit %lld s)", (long long)age,
           (long long)max_age);
    ENSURE(-age <= skew, "report is from the future: issued %lld s after the verification time",
           (long long)-age);
    return 0;
}

static int check_status(const struct steep_report *report, const struct steep_tee_policy *policy)
{
    if (strcmp(report->status, "OK") == 0)
        return 0;
    for (size_t i = 0; i < policy->n_accepted_statuses; i++)
        if (strcmp(report->status, policy->accepted_statuses[i]) == 0)
            return 0;
    return steep_error_set("quote status '%s' is not accepted", report->status);
}

static int check_measurement(struct steep_tee_verdict *verdict,
                             const struct steep_tee_policy *policy)
{
    for (size_t i = 0; i < policy->n_accepted; i++) {
        const struct steep_tee_enclave_attr *attr = &policy->accepted[i];
        if (!attr->no_sgx_pair && CRYPTO_memcmp(attr->mr_enclave, verdict->mr_enclave, 32) == 0 &&
            CRYPTO_memcmp(attr->mr_signer, verdict->mr_signer, 32) == 0) {
            snprintf(verdict->name, sizeof(verdict->name), "%s", attr->name);
            return 0;
        }
    }
    char enclave[65], signer[65];
    steep_hex_encode(verdict->mr_enclave, 32, enclave);
    steep_hex_encode(verdict->mr_signer, 32, signer);
    return steep_error_set("measurement not accepted: mr_enclave %s mr_signer %s is none of %zu "
                           "allowed",
                           enclave, signer, policy->n_accepted);
}

int steep_tee_verify_evidence(const struct steep_tee_evidence *evidence,
                              const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                              const struct steep_tee_policy *policy,
                              struct steep_tee_verdict *verdict)
{
    memset(verdict, 0, sizeof(*verdict));
    ENSURE(policy->roots != NULL, "no trusted attestation root configured");
    time_t now = policy->now ? policy->now : time(NULL);
    GUARD(check_signed(evidence, policy, now));

    struct steep_report report;
    GUARD(steep_report_parse(evidence->report.data, evidence->report.len, &report));
    verdict->have_report = true;
    snprintf(verdict->status, sizeof(verdict->status), "%s", report.status);
    verdict->report_time = report.timestamp;
    verdict->simulated = report.simulated;

    struct steep_quote quote;
    if (steep_quote_parse(report.quote_bytes, report.quote_len, &quote) == 0) {
        verdict->have_quote = true;
        memcpy(verdict->mr_enclave, quote.mr_enclave, 32);
        memcpy(verdict->mr_signer, quote.mr_signer, 32);
    }
    GUARD(check_age(&report, policy, now));
    GUARD(check_status(&report, policy));
    ENSURE(!report.simulated || policy->insecure_allow_simulated_evidence,
           "simulated evidence refused: the policy requires hardware attestation "
           "(allow_simulation is off)");
    GUARD(steep_quote_parse(report.quote_bytes, report.quote_len, &quote));
    ENSURE(CRYPTO_memcmp(quote.report_data, report_data, 64) == 0,
           "key binding failed: the certificate key does not match the quote's report_data");
    return check_measurement(verdict, policy);
}

struct steep_hw_measurements *
steep_tee_pinned_measurements(const struct steep_tee_enclave_attr *accepted, size_t n)
{
    struct steep_hw_measurements *pinned = calloc(n + 1, sizeof(*pinned));
    for (size_t i = 0; pinned && i < n; i++) {
        pinned[i] = accepted[i].hw;
        if (!accepted[i].no_sgx_pair) {
            pinned[i].have_mr_enclave = pinned[i].have_mr_signer = true;
            memcpy(pinned[i].mr_enclave, accepted[i].mr_enclave, 32);
            memcpy(pinned[i].mr_signer, accepted[i].mr_signer, 32);
        }
    }
    return pinned;
}

int steep_tee_verify_hw_evidence(const uint8_t *evidence, size_t len,
                                 const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                                 const struct steep_tee_policy *policy,
                                 struct steep_tee_verdict *verdict)
{
    memset(verdict, 0, sizeof(*verdict));
    ENSURE(policy->now > 0, "hardware evidence: the policy gives no verification time");
    ENSURE(policy->collateral != NULL, "hardware evidence: no collateral configured");
    GUARD(steep_hw_verify(evidence, len, policy->collateral, policy->hw_trust, policy->now,
                          &verdict->hw));
    verdict->have_hw = true;
    snprintf(verdict->status, sizeof(verdict->status), "%s",
             steep_hw_tcb_status_name(verdict->hw.status));
    if (verdict->hw.kind == STEEP_HW_SGX) {
        verdict->have_quote = true;
        memcpy(verdict->mr_enclave, verdict->hw.sgx.mr_enclave, 32);
        memcpy(verdict->mr_signer, verdict->hw.sgx.mr_signer, 32);
    }
    struct steep_hw_measurements *pinned =
        steep_tee_pinned_measurements(policy->accepted, policy->n_accepted);
    ENSURE(pinned != NULL, "out of memory");
    struct steep_hw_policy hw = {
        .accepted_statuses = policy->hw_accepted_statuses,
        .n_accepted_statuses = policy->n_hw_accepted_statuses,
        .accepted_advisories = policy->hw_accepted_advisories,
        .n_accepted_advisories = policy->n_hw_accepted_advisories,
        .allow_debug = policy->insecure_allow_debug,
        .measurements = NULL, /* checked last, below */
    };
    int rc = steep_hw_policy_check(&hw, &verdict->hw, NULL);
    if (rc == 0 && CRYPTO_memcmp(verdict->hw.report_data, report_data, 64) != 0)
        rc = steep_error_set("key binding failed: the evidence's report data is not the "
                             "expected key's");
    size_t index = 0;
    if (rc == 0) {
        hw.measurements = pinned;
        hw.n_measurements = policy->n_accepted;
        rc = steep_hw_policy_check(&hw, &verdict->hw, &index);
    }
    if (rc == 0)
        snprintf(verdict->name, sizeof(verdict->name), "%s", policy->accepted[index].name);
    free(pinned);
    return rc;
}

int steep_tee_verify_cert(X509 *cert, const struct steep_tee_policy *policy,
                          struct steep_tee_verdict *verdict)
{
    memset(verdict, 0, sizeof(*verdict));
    struct steep_tee_evidence evidence = {0};
    uint8_t xy[64];
    EVP_PKEY *key = X509_get0_pubkey(cert);
    ENSURE(key != NULL, "certificate has no readable public key");
    GUARD(steep_ratls_parse(cert, &evidence));
    int rc = steep_tee_key_p256_xy(key, xy);
    if (rc < 0)
        steep_error_wrap("key binding failed: certificate key");
    int hw = rc == 0 ? steep_ratls_parse_hw(cert, &evidence) : 0;
    if (hw < 0)
        rc = -1;
    if (rc == 0 && hw == 1 && policy->collateral) {
        /* Raw hardware evidence and collateral of our own: the evidence
         * itself decides, the authority's endorsement is not needed. */
        struct steep_tee_policy own = *policy;
        if (own.now == 0)
            own.now = time(NULL);
        rc = steep_tee_verify_hw_evidence(evidence.hardware.data, evidence.hardware.len, xy, &own,
                                          verdict);
        if (rc < 0)
            steep_error_wrap("hardware evidence extension");
    } else if (rc == 0) {
        rc = steep_tee_verify_evidence(&evidence, xy, policy, verdict);
    }
    steep_tee_evidence_free(&evidence);
    return rc;
}

X509_STORE *steep_tee_roots_load(const char *path)
{
    struct steep_buf file = STEEP_BUF_INIT;
    if (steep_read_file(path, 1 << 20, &file) < 0)
        return NULL;
    X509_STORE *store = X509_STORE_new();
    BIO *bio = BIO_new_mem_buf(file.data, (int)file.len);
    size_t count = 0;
    X509 *cert;
    while (store && bio && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_STORE_add_cert(store, cert);
        X509_free(cert);
        count++;
    }
    if (count == 0 && store) {
        const unsigned char *p = file.data;
        cert = d2i_X509(NULL, &p, (long)file.len);
        if (cert) {
            X509_STORE_add_cert(store, cert);
            X509_free(cert);
            count++;
        }
    }
    BIO_free(bio);
    steep_buf_free(&file);
    if (count == 0) {
        X509_STORE_free(store);
        steep_error_set("%s holds no certificate", path);
        return NULL;
    }
    return store;
}
