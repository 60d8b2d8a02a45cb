/*
 * The verifier refuses every kind of bad evidence, each with its own reason,
 * and accepts honest SIMULATED evidence only when the policy allows it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "core/error.h"
#include "tee/keys.h"
#include "tee/quote.h"
#include "tee/ratls.h"
#include "tee/report.h"
#include "tee_test_util.h"

static struct tee_fixture fixture;
static struct steep_tee *tee;
static struct steep_tee_identity identity;

static int setup(void **state)
{
    tee_fixture_init(&fixture);
    tee = tee_fixture_open(&fixture, NULL);
    return steep_tee_measure(tee, &identity);
}

static int teardown(void **state)
{
    steep_tee_free(tee);
    tee_fixture_free(&fixture);
    return 0;
}

/* A certificate for key carrying evidence; NULL evidence: honest for key. */
static X509 *cert_for(EVP_PKEY *key, const struct steep_tee_evidence *evidence)
{
    struct steep_tee_evidence own = {0};
    if (!evidence) {
        uint8_t xy[64];
        assert_int_equal(steep_tee_key_p256_xy(key, xy), 0);
        assert_int_equal(steep_tee_evidence(tee, xy, &own), 0);
        evidence = &own;
    }
    X509 *cert = steep_ratls_build(key, evidence);
    assert_non_null(cert);
    steep_tee_evidence_free(&own);
    return cert;
}

static void expect_refusal(X509 *cert, const struct steep_tee_policy *policy, const char *reason)
{
    struct steep_tee_verdict verdict;
    assert_int_equal(steep_tee_verify_cert(cert, policy, &verdict), -1);
    if (!strstr(steep_error_get(), reason))
        fail_msg("reason '%s' does not contain '%s'", steep_error_get(), reason);
}

/* Evidence whose report is `report` signed by the fixture's authority. */
static void signed_report(const char *report, struct steep_tee_evidence *evidence)
{
    memset(evidence, 0, sizeof(*evidence));
    steep_buf_append(&evidence->report, report, strlen(report));
    assert_int_equal(
        steep_authority_sign(fixture.authority, report, strlen(report), &evidence->signature), 0);
    uint8_t quote[STEEP_QUOTE_LEN] = {0};
    struct steep_tee_evidence tmp = {0};
    assert_int_equal(steep_authority_issue(fixture.authority, quote, &tmp), 0);
    steep_buf_append(&evidence->certs[0], tmp.certs[0].data, tmp.certs[0].len);
    evidence->n_certs = 1;
    steep_tee_evidence_free(&tmp);
}

/* A report JSON text around a quote (base64), version and status. */
static void report_text(char *out, size_t size, const uint8_t *quote, size_t quote_len, int version,
                        const char *timestamp)
{
    char body[1024];
    EVP_EncodeBlock((unsigned char *)body, quote, (int)quote_len);
    snprintf(out, size,
             "{\"id\":\"00\",\"timestamp\":\"%s\",\"version\":%d,\"isvEnclaveQuoteStatus\":\"OK\","
             "\"isvEnclaveQuoteBody\":\"%s\",\"steepSimulated\":true}",
             timestamp, version, body);
}

static void now_timestamp(char out[40])
{
    steep_report_format_time(time(NULL), 0, out);
}

static void test_honest_accepted(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    X509 *cert = cert_for(key, NULL);
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "teaclave_storage_service", &identity);
    struct steep_tee_verdict verdict;
    assert_int_equal(steep_tee_verify_cert(cert, &policy, &verdict), 0);
    assert_string_equal(verdict.name, "teaclave_storage_service");
    assert_true(verdict.simulated);
    assert_string_equal(verdict.status, "OK");
    assert_memory_equal(verdict.mr_enclave, identity.mr_enclave, 32);
    assert_memory_equal(verdict.mr_signer, identity.mr_signer, 32);
    assert_true(llabs((long long)(time(NULL) - verdict.report_time)) < 60);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_simulated_refused_by_hardware_policy(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    X509 *cert = cert_for(key, NULL);
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    policy.insecure_allow_simulated_evidence = false;
    expect_refusal(cert, &policy, "simulated evidence refused");
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_tampered_report(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    uint8_t xy[64];
    struct steep_tee_evidence evidence = {0};
    steep_tee_key_p256_xy(key, xy);
    assert_int_equal(steep_tee_evidence(tee, xy, &evidence), 0);
    /* Flip one character of the report id: the signature no longer covers it. */
    char *id = strstr((char *)evidence.report.data, "\"id\":\"") + 6;
    *id = *id == 'a' ? 'b' : 'a';
    X509 *cert = cert_for(key, &evidence);
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    expect_refusal(cert, &policy, "report signature does not verify");
    X509_free(cert);
    steep_tee_evidence_free(&evidence);
    EVP_PKEY_free(key);
}

static void test_wrong_signature(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    uint8_t xy[64];
    struct steep_tee_evidence evidence = {0};
    steep_tee_key_p256_xy(key, xy);
    assert_int_equal(steep_tee_evidence(tee, xy, &evidence), 0);
    /* Replace the signature with one made by the authority over other bytes. */
    steep_buf_reset(&evidence.signature);
    assert_int_equal(steep_authority_sign(fixture.authority, "other", 5, &evidence.signature), 0);
    X509 *cert = cert_for(key, &evidence);
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    expect_refusal(cert, &policy, "report signature does not verify under the signing");
    /* A truncated signature is refused too. */
    evidence.signature.len = 10;
    X509 *cert2 = cert_for(key, &evidence);
    expect_refusal(cert2, &policy, "report signature does not verify");
    X509_free(cert2);
    X509_free(cert);
    steep_tee_evidence_free(&evidence);
    EVP_PKEY_free(key);
}

static void test_foreign_root(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    X509 *cert = cert_for(key, NULL);
    char path[512];
    tee_shared_fixture("ias_root_ca_cert.der", path, sizeof(path));
    X509_STORE *foreign = steep_tee_roots_load(path);
    assert_non_null(foreign);
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    policy.roots = foreign;
    expect_refusal(cert, &policy, "does not chain to the trusted attestation root");
    X509_STORE_free(foreign);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static X509 *cert_with_report_at(EVP_PKEY *key, const char *status, time_t when)
{
    uint8_t xy[64], quote[STEEP_QUOTE_LEN];
    steep_tee_key_p256_xy(key, xy);
    steep_quote_build(&identity, xy, quote);
    struct steep_tee_evidence evidence = {0};
    assert_int_equal(steep_authority_issue_at(fixture.authority, quote, status, when, &evidence),
                     0);
    X509 *cert = cert_for(key, &evidence);
    steep_tee_evidence_free(&evidence);
    return cert;
}

static void test_stale_and_future_report(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    X509 *stale = cert_with_report_at(key, "OK", time(NULL) - 2 * 24 * 3600);
    expect_refusal(stale, &policy, "report is stale");
    /* A shorter configured maximum refuses a younger report. */
    X509 *hour = cert_with_report_at(key, "OK", time(NULL) - 3600);
    struct steep_tee_verdict verdict;
    assert_int_equal(steep_tee_verify_cert(hour, &policy, &verdict), 0);
    policy.max_report_age = 600;
    expect_refusal(hour, &policy, "report is stale: issued 3");
    policy.max_report_age = 0;
    X509 *future = cert_with_report_at(key, "OK", time(NULL) + 3600);
    expect_refusal(future, &policy, "report is from the future");
    /* The injectable clock: a report refused as stale now verifies at its own
     * time (the authority's certificate is valid from an hour ago). */
    X509 *recent = cert_with_report_at(key, "OK", time(NULL) - 50 * 60);
    policy.max_report_age = 600;
    expect_refusal(recent, &policy, "report is stale");
    policy.now = time(NULL) - 50 * 60 + 10;
    assert_int_equal(steep_tee_verify_cert(recent, &policy, &verdict), 0);
    /* ... but not before the signing certificate was valid. */
    policy.now = time(NULL) - 2 * 24 * 3600 + 10;
    policy.max_report_age = 0;
    expect_refusal(stale, &policy, "does not chain to the trusted attestation root");
    X509_free(recent);
    X509_free(stale);
    X509_free(hour);
    X509_free(future);
    EVP_PKEY_free(key);
}

static void test_bad_status(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    X509 *cert = cert_with_report_at(key, "GROUP_OUT_OF_DATE", time(NULL));
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    expect_refusal(cert, &policy, "quote status 'GROUP_OUT_OF_DATE' is not accepted");
    const char *statuses[] = {"SW_HARDENING_NEEDED", "GROUP_OUT_OF_DATE"};
    policy.accepted_statuses = statuses;
    policy.n_accepted_statuses = 2;
    struct steep_tee_verdict verdict;
    assert_int_equal(steep_tee_verify_cert(cert, &policy, &verdict), 0);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_key_mismatch(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    EVP_PKEY *other = steep_tee_key_generate_p256();
    uint8_t xy[64];
    struct steep_tee_evidence evidence = {0};
    steep_tee_key_p256_xy(other, xy);
    assert_int_equal(steep_tee_evidence(tee, xy, &evidence), 0);
    X509 *cert = cert_for(key, &evidence); /* evidence binds `other`, cert holds `key` */
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    expect_refusal(cert, &policy, "key binding failed");
    X509_free(cert);
    /* A key that is not an uncompressed P-256 point cannot bind at all. */
    EVP_PKEY *rsa = steep_tee_key_generate_rsa(1024);
    X509 *rsa_cert = cert_for(rsa, &evidence);
    expect_refusal(rsa_cert, &policy, "key binding failed: certificate key: key is not an EC key");
    X509_free(rsa_cert);
    EVP_PKEY_free(rsa);
    steep_tee_evidence_free(&evidence);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void test_wrong_measurement(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    X509 *cert = cert_for(key, NULL);
    struct steep_tee_identity other = identity;
    other.mr_enclave[0] ^= 1;
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &other);
    expect_refusal(cert, &policy, "measurement not accepted");
    other = identity;
    other.mr_signer[31] ^= 1;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &other);
    expect_refusal(cert, &policy, "measurement not accepted");
    X509_free(cert);
    EVP_PKEY_free(key);
}

static X509 *plain_cert(EVP_PKEY *key)
{
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                               (const unsigned char *)"plain", -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_set_pubkey(cert, key);
    X509_sign(cert, key, EVP_sha256());
    return cert;
}

static void test_missing_extension(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    X509 *cert = plain_cert(key);
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    expect_refusal(cert, &policy, "certificate has no RA-TLS extension");
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_extension_not_first(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    X509 *cert = cert_for(key, NULL);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "CA:FALSE");
    assert_non_null(ext);
    assert_true(X509_add_ext(cert, ext, 0));
    X509_EXTENSION_free(ext);
    X509_sign(cert, key, EVP_sha256());
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    expect_refusal(cert, &policy, "RA-TLS extension is not the first extension");
    X509_free(cert);
    EVP_PKEY_free(key);
}

static X509 *cert_with_extension_value(EVP_PKEY *key, const char *value)
{
    X509 *cert = plain_cert(key);
    ASN1_OCTET_STRING *octets = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(octets, (const unsigned char *)value, (int)strlen(value));
    ASN1_OBJECT *oid = OBJ_txt2obj(STEEP_RATLS_OID, 1);
    X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, octets);
    X509_add_ext(cert, ext, 0);
    X509_sign(cert, key, EVP_sha256());
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(octets);
    return cert;
}

static void test_malformed_json(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);
    static const struct {
        const char *value, *reason;
    } cases[] = {
        {"{\"report\":[1,2", "RA-TLS extension is not valid JSON"},
        {"[1,2,3]", "RA-TLS extension is not a JSON object"},
        {"{\"report\":[256],\"signature\":[],\"certs\":[[1]]}", "\"report\"[0] is not a byte"},
        {"{\"report\":[-1],\"signature\":[],\"certs\":[[1]]}", "\"report\"[0] is not a byte"},
        {"{\"report\":[1.5],\"signature\":[],\"certs\":[[1]]}", "\"report\"[0] is not a byte"},
        {"{\"report\":\"x\",\"signature\":[],\"certs\":[[1]]}", "\"report\" is not an array"},
        {"{\"report\":[],\"signature\":[],\"certs\":[]}", "\"certs\" holds 0 certificates"},
        {"{\"report\":[],\"signature\":[],\"certs\":[[1]]}", "report signing certificate is not "
                                                             "valid DER"},
        {"{\"report\":[],\"signature\":[],\"certs\":[[1]],\"certs\":[[1]]}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        X509 *cert = cert_with_extension_value(key, cases[i].value);
        expect_refusal(cert, &policy, cases[i].reason);
        X509_free(cert);
    }
    EVP_PKEY_free(key);
}

static X509 *cert_with_report(EVP_PKEY *key, const char *report)
{
    struct steep_tee_evidence evidence;
    signed_report(report, &evidence);
    X509 *cert = cert_for(key, &evidence);
    steep_tee_evidence_free(&evidence);
    return cert;
}

static void test_bad_report_and_quote(void **state)
{
    EVP_PKEY *key = steep_tee_key_generate_p256();
    uint8_t xy[64], quote[STEEP_QUOTE_LEN + 8];
    steep_tee_key_p256_xy(key, xy);
    steep_quote_build(&identity, xy, quote);
    char now[40], report[2048];
    now_timestamp(now);
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&fixture, &policy, &attr, "s", &identity);

    /* The signed, honest report of this shape is accepted (the control). */
    report_text(report, sizeof(report), quote, STEEP_QUOTE_LEN, 4, now);
    X509 *cert = cert_with_report(key, report);
    struct steep_tee_verdict verdict;
    assert_int_equal(steep_tee_verify_cert(cert, &policy, &verdict), 0);
    X509_free(cert);

    report_text(report, sizeof(report), quote, STEEP_QUOTE_LEN, 3, now);
    cert = cert_with_report(key, report);
    expect_refusal(cert, &policy, "report version 3 is not 4");
    X509_free(cert);

    report_text(report, sizeof(report), quote, STEEP_QUOTE_LEN - 4, 4, now);
    cert = cert_with_report(key, report);
    expect_refusal(cert, &policy, "quote is 428 bytes, expected 432");
    X509_free(cert);

    report_text(report, sizeof(report), quote, STEEP_QUOTE_LEN + 3, 4, now);
    cert = cert_with_report(key, report);
    expect_refusal(cert, &policy, "quote is 435 bytes, expected 432");
    X509_free(cert);

    quote[0] = 7; /* unknown quote version */
    report_text(report, sizeof(report), quote, STEEP_QUOTE_LEN, 4, now);
    cert = cert_with_report(key, report);
    expect_refusal(cert, &policy, "quote header: unknown quote version 7");
    X509_free(cert);
    quote[0] = 3;
    quote[2] = 9; /* DCAP with an unknown attestation key type */
    report_text(report, sizeof(report), quote, STEEP_QUOTE_LEN, 4, now);
    cert = cert_with_report(key, report);
    expect_refusal(cert, &policy, "unknown attestation key type 9");
    X509_free(cert);

    report_text(report, sizeof(report), quote, STEEP_QUOTE_LEN, 4, "yesterday");
    cert = cert_with_report(key, report);
    expect_refusal(cert, &policy, "not in the IAS format");
    X509_free(cert);

    cert = cert_with_report(key, "{\"version\":4");
    expect_refusal(cert, &policy, "report is not valid JSON");
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_timestamp_format(void **state)
{
    time_t t;
    assert_int_equal(steep_report_parse_time("2022-01-17T22:07:49.022259677", &t), 0);
    assert_int_equal((long long)t, 1642457269LL);
    assert_int_equal(steep_report_parse_time("2022-01-17T22:07:49", &t), 0);
    assert_int_equal(steep_report_parse_time("2022-01-17T22:07:49.", &t), -1);
    assert_int_equal(steep_report_parse_time("2022-01-17T22:07:49Z", &t), -1);
    assert_int_equal(steep_report_parse_time("2022-13-17T22:07:49", &t), -1);
    char text[40];
    steep_report_format_time(1642457269, 22259677, text);
    assert_string_equal(text, "2022-01-17T22:07:49.022259677");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_honest_accepted),
        cmocka_unit_test(test_simulated_refused_by_hardware_policy),
        cmocka_unit_test(test_tampered_report),
        cmocka_unit_test(test_wrong_signature),
        cmocka_unit_test(test_foreign_root),
        cmocka_unit_test(test_stale_and_future_report),
        cmocka_unit_test(test_bad_status),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_wrong_measurement),
        cmocka_unit_test(test_missing_extension),
        cmocka_unit_test(test_extension_not_first),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_bad_report_and_quote),
        cmocka_unit_test(test_timestamp_format),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
