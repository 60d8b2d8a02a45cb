/*
 * The verifier. Every check returns through ENSURE with its own reason, so
 * a refusal always says which check failed and why; nothing is accepted by
 * falling through. The report is only parsed after its signature checks.
 */
#include "tee/verify.h"

#include <stdio.h>
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
        if (CRYPTO_memcmp(attr->mr_enclave, verdict->mr_enclave, 32) == 0 &&
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
    if (rc == 0)
        rc = steep_tee_verify_evidence(&evidence, xy, policy, verdict);
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
