/*
 * Teaclave's real RA-TLS certificates (tests/fixtures of Teaclave): the v4
 * certificate's report (IAS v4, status OK, 2022-01-17) is signed by a
 * certificate chaining to Teaclave's reference DCAP root. It verifies as
 * hardware evidence with the clock set near its timestamp, is refused
 * against Intel's IAS root and when stale; the v3 layout is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "tee/ratls.h"
#include "tee/report.h"
#include "tee/verify.h"
#include "tee_test_util.h"

#define FIXTURE_MR_ENCLAVE "82bc195bd181ca8e3cf220f633eea98e7a0a55f3217fa7f731cf0d7a8d83253e"
#define FIXTURE_MR_SIGNER  "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e"

static X509 *load_der(const char *name)
{
    char path[512];
    size_t len;
    uint8_t *der = tee_read_all(tee_shared_fixture(name, path, sizeof(path)), &len);
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    free(der);
    assert_non_null(cert);
    return cert;
}

static X509_STORE *roots(const char *name)
{
    char path[512];
    X509_STORE *store = steep_tee_roots_load(tee_shared_fixture(name, path, sizeof(path)));
    assert_non_null(store);
    return store;
}

static void fixture_policy(struct steep_tee_policy *policy, struct steep_tee_enclave_attr *attr,
                           X509_STORE *store)
{
    memset(policy, 0, sizeof(*policy));
    memset(attr, 0, sizeof(*attr));
    strcpy(attr->name, "teaclave_fixture_enclave");
    assert_int_equal(steep_hex_decode(FIXTURE_MR_ENCLAVE, attr->mr_enclave, 32), 0);
    assert_int_equal(steep_hex_decode(FIXTURE_MR_SIGNER, attr->mr_signer, 32), 0);
    policy->roots = store;
    policy->accepted = attr;
    policy->n_accepted = 1;
    /* Hardware evidence: simulation stays refused. */
    policy->insecure_allow_simulated_evidence = false;
    assert_int_equal(steep_report_parse_time("2022-01-17T22:17:49", &policy->now), 0);
}

static void test_v4_parses(void **state)
{
    X509 *cert = load_der("tls_ra_cert_v4.der");
    struct steep_tee_evidence evidence = {0};
    assert_int_equal(steep_ratls_parse(cert, &evidence), 0);
    assert_int_equal(evidence.n_certs, 1);
    assert_int_equal(evidence.signature.len, 512); /* RSA-4096 signing key */
    struct steep_report report;
    assert_int_equal(steep_report_parse(evidence.report.data, evidence.report.len, &report), 0);
    assert_int_equal(report.version, 4);
    assert_string_equal(report.status, "OK");
    assert_string_equal(report.id, "ca0945c3aa3541c8aa7cb86cc2869b4c");
    assert_false(report.simulated);
    assert_int_equal(report.quote_len, 432);
    steep_tee_evidence_free(&evidence);
    X509_free(cert);
}

static void test_v4_verifies_against_dcap_root(void **state)
{
    X509 *cert = load_der("tls_ra_cert_v4.der");
    X509_STORE *store = roots("dcap_root_ca_cert.der");
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    fixture_policy(&policy, &attr, store);
    struct steep_tee_verdict verdict;
    if (steep_tee_verify_cert(cert, &policy, &verdict) != 0)
        fail_msg("refused: %s", steep_error_get());
    assert_string_equal(verdict.name, "teaclave_fixture_enclave");
    assert_false(verdict.simulated);
    assert_string_equal(verdict.status, "OK");
    char hex[65];
    steep_hex_encode(verdict.mr_enclave, 32, hex);
    assert_string_equal(hex, FIXTURE_MR_ENCLAVE);
    steep_hex_encode(verdict.mr_signer, 32, hex);
    assert_string_equal(hex, FIXTURE_MR_SIGNER);
    X509_STORE_free(store);
    X509_free(cert);
}

static void test_v4_refusals(void **state)
{
    X509 *cert = load_der("tls_ra_cert_v4.der");
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    struct steep_tee_verdict verdict;

    X509_STORE *ias = roots("ias_root_ca_cert.der");
    fixture_policy(&policy, &attr, ias);
    assert_int_equal(steep_tee_verify_cert(cert, &policy, &verdict), -1);
    assert_non_null(strstr(steep_error_get(), "does not chain to the trusted attestation root"));
    X509_STORE_free(ias);

    X509_STORE *dcap = roots("dcap_root_ca_cert.der");
    fixture_policy(&policy, &attr, dcap);
    policy.now = 0; /* today: the 2022 report is long stale */
    assert_int_equal(steep_tee_verify_cert(cert, &policy, &verdict), -1);
    assert_non_null(strstr(steep_error_get(), "report is stale"));
    assert_true(verdict.have_quote); /* what it carries is still reported */

    fixture_policy(&policy, &attr, dcap);
    attr.mr_enclave[5] ^= 0x40;
    assert_int_equal(steep_tee_verify_cert(cert, &policy, &verdict), -1);
    assert_non_null(strstr(steep_error_get(), "measurement not accepted"));
    X509_STORE_free(dcap);
    X509_free(cert);
}

static void test_v3_refused(void **state)
{
    X509 *cert = load_der("tls_ra_cert_v3.der");
    X509_STORE *dcap = roots("dcap_root_ca_cert.der");
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    fixture_policy(&policy, &attr, dcap);
    struct steep_tee_verdict verdict;
    assert_int_equal(steep_tee_verify_cert(cert, &policy, &verdict), -1);
    assert_non_null(strstr(steep_error_get(), "has no \"certs\" (pre-v4 layout with "
                                              "\"signing_cert\")"));
    X509_STORE_free(dcap);
    X509_free(cert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_parses),
        cmocka_unit_test(test_v4_verifies_against_dcap_root),
        cmocka_unit_test(test_v4_refusals),
        cmocka_unit_test(test_v3_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
