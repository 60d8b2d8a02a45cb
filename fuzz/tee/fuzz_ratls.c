/*
 * libFuzzer target for the RA-TLS parsers: arbitrary bytes as (1) a DER
 * certificate through steep_ratls_parse and the full verifier (with
 * Teaclave's DCAP root and the clock of its fixture), (2) the extension
 * JSON, (3) an IAS report and (4) an SGX quote. Nothing may crash, leak
 * or read out of bounds; nothing forged may be accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "tee/quote.h"
#include "tee/ratls.h"
#include "tee/report.h"
#include "tee/verify.h"

/* Teaclave's reference DCAP root (fixtures/teaclave/dcap_root_ca_cert.der),
 * loaded once from the environment or the default relative path. */
static X509_STORE *roots(void)
{
    static X509_STORE *store;
    static int tried;
    if (!tried) {
        tried = 1;
        const char *shared = getenv("STEEP_SHARED_DIR");
        char path[1024];
        snprintf(path, sizeof(path), "%s/fixtures/teaclave/dcap_root_ca_cert.der",
                 shared ? shared : "../shared");
        store = steep_tee_roots_load(path);
        if (!store)
            store = X509_STORE_new(); /* trusts nothing */
    }
    return store;
}

static void as_certificate(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    X509 *cert = d2i_X509(NULL, &p, (long)size);
    if (!cert)
        return;
    struct steep_tee_enclave_attr any = {.name = "fuzz"};
    struct steep_tee_policy policy = {
        .roots = roots(),
        .now = 1642457269 + 60,
        .accepted = &any,
        .n_accepted = 1,
        .insecure_allow_simulated_evidence = true,
    };
    struct steep_tee_verdict verdict;
    if (steep_tee_verify_cert(cert, &policy, &verdict) == 0)
        abort(); /* the all-zero measurement matches no real report */
    X509_free(cert);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_certificate(data, size);

    struct steep_tee_evidence evidence = {0};
    if (steep_ratls_parse_json(data, size, &evidence) == 0)
        steep_tee_evidence_free(&evidence);

    struct steep_report report;
    if (steep_report_parse(data, size, &report) == 0) {
        struct steep_quote quote;
        steep_quote_parse(report.quote_bytes, report.quote_len, &quote);
    }
    struct steep_quote quote;
    steep_quote_parse(data, size, &quote);
    return 0;
}
