/*
 * Negative cases derived from each real vector (README "Negative cases a
 * test should derive"): one byte changed in the header, body, signature,
 * attestation key, QE report, its signature, the QE authentication data,
 * the certification data, the TCB info or QE identity (or their
 * signatures); collateral of another platform; SNP reports altered,
 * re-encoded big-endian, under another chip's VCEK or another product's
 * chain. Each is refused with the reason of the check it breaks. Offsets
 * come from expected.json.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "core/buf.h"
#include "core/error.h"
#include "hw_test_util.h"
#include "tee/hw/hw_internal.h"

static const char *const intel_vectors[] = {"sgx_v3_dcapqvl", "tdx_v4_dcapqvl", "tdx_v5_gotdx",
                                            "tdx_v5_dcapqvl", "tdx_v4_gotdx"};
#define N_INTEL (sizeof(intel_vectors) / sizeof(intel_vectors[0]))

static size_t offset_of(const char *vector, const char *section, const char *key)
{
    json_t *v = json_object_get(json_object_get(hw_vector(vector), section), key);
    json_t *off = json_object_get(v, "offset");
    if (!json_is_integer(off))
        fail_msg("%s: no %s.%s.offset in expected.json", vector, section, key);
    return (size_t)json_integer_value(off);
}

/* Verifies a copy of the quote with byte `at` XORed with `mask`. */
static void expect_flip(const char *vector, const uint8_t *quote, size_t len,
                        const struct steep_hw_collateral *c, size_t at, uint8_t mask,
                        const char *reason)
{
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, quote, len);
    assert_true(at < len);
    copy[at] ^= mask;
    struct steep_hw_report r;
    int rc = hw_verify(copy, len, c, hw_pinned(vector), &r);
    if (rc == 0 || !strstr(steep_error_get(), reason))
        fail_msg("%s: byte %zu ^ 0x%02x: expected a refusal naming '%s', got rc %d: %s", vector, at,
                 mask, reason, rc, steep_error_get());
    free(copy);
}

/* Replaces the base64 character `back` bytes before the n-th PEM end marker. */
static void expect_pem_damage(const char *vector, const uint8_t *quote, size_t len,
                              const struct steep_hw_collateral *c, int n, const char *reason)
{
    size_t cert = offset_of(vector, "layout", "cert_data");
    const char *marker = "-----END CERTIFICATE-----";
    size_t at = 0;
    int seen = 0;
    for (size_t i = cert; i + strlen(marker) <= len; i++)
        if (memcmp(quote + i, marker, strlen(marker)) == 0 && seen++ == n) {
            at = i - 8; /* inside the signature's base64, before "==" padding and newline */
            break;
        }
    assert_true(at > cert);
    while (quote[at] == '=' || quote[at] == '\n')
        at--;
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, quote, len);
    copy[at] = copy[at] == 'A' ? 'B' : 'A';
    struct steep_hw_report r;
    int rc = hw_verify(copy, len, c, hw_pinned(vector), &r);
    if (rc == 0 || !strstr(steep_error_get(), reason))
        fail_msg("%s: PEM %d damaged: expected '%s', got rc %d: %s", vector, n, reason, rc,
                 steep_error_get());
    free(copy);
}

static void test_quote_mutations(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_INTEL; i++) {
        const char *v = intel_vectors[i];
        size_t len;
        uint8_t *quote = hw_evidence(v, &len);
        struct steep_hw_collateral c;
        hw_collateral(v, &c);
        const char *sig = "quote signature does not verify";
        expect_flip(v, quote, len, &c, offset_of(v, "body", "reportdata"), 0x01, sig);
        expect_flip(v, quote, len, &c, 48 + 20, 0x01, sig); /* inside every body */
        expect_flip(v, quote, len, &c, 28, 0x01, sig);      /* header user data */
        size_t qs = offset_of(v, "layout", "quote_signature");
        expect_flip(v, quote, len, &c, qs + 5, 0x01, sig);
        expect_flip(v, quote, len, &c, qs + 40, 0x01, sig);
        size_t key = offset_of(v, "layout", "attestation_key");
        expect_flip(v, quote, len, &c, key + 3, 0x01, "QE report does not bind");
        size_t qe = offset_of(v, "layout", "qe_report");
        expect_flip(v, quote, len, &c, qe + 258, 0x01, "QE report signature does not verify");
        expect_flip(v, quote, len, &c, qe + 100, 0x80, "QE report signature does not verify");
        expect_flip(v, quote, len, &c, offset_of(v, "layout", "qe_report_signature") + 7, 0x01,
                    "QE report signature does not verify");
        expect_flip(v, quote, len, &c, offset_of(v, "layout", "qe_auth_data") + 2, 0x01,
                    "QE report does not bind");
        size_t sig_len = offset_of(v, "layout", "sig_data_len");
        expect_flip(v, quote, len, &c, sig_len + 1, 0x10, "quote");
        expect_flip(v, quote, len, &c, offset_of(v, "layout", "cert_data_type_size"), 0x01,
                    "certification data");
        expect_pem_damage(v, quote, len, &c, 0, "PCK certificate chain");
        expect_pem_damage(v, quote, len, &c, 1, "PCK certificate chain");
        expect_pem_damage(v, quote, len, &c, 2, "PCK certificate chain");
        free(quote);
        steep_hw_collateral_free(&c);
    }
}

/* Reads a file of the vector's collateral directory; free() it. */
static uint8_t *collateral_file(const char *vector, const char *name, size_t *len)
{
    char rel[256], path[1024];
    snprintf(rel, sizeof(rel), "%s/%s", vector, name);
    return hw_read(hw_fixture(rel, path, sizeof(path)), len);
}

static void expect_collateral(const char *vector, const struct steep_hw_collateral *c,
                              const char *reason)
{
    size_t len;
    uint8_t *quote = hw_evidence(vector, &len);
    struct steep_hw_report r;
    int rc = hw_verify(quote, len, c, hw_pinned(vector), &r);
    if (rc == 0 || !strstr(steep_error_get(), reason))
        fail_msg("%s: expected a refusal naming '%s', got rc %d: %s", vector, reason, rc,
                 steep_error_get());
    free(quote);
}

/* The JSON (still valid) with one digit of tcbEvaluationDataNumber changed,
 * or re-serialised with a space, or the signature flipped: all refused. */
static void mutate_json(const char *vector, const char *json_name, const char *sig_name,
                        int (*set)(struct steep_hw_collateral *, const void *, size_t,
                                   const uint8_t *),
                        const char *reason)
{
    size_t json_len, sig_len;
    uint8_t *json = collateral_file(vector, json_name, &json_len);
    uint8_t *sig = collateral_file(vector, sig_name, &sig_len);
    assert_int_equal(sig_len, 64);
    struct steep_hw_collateral c;
    hw_collateral(vector, &c);

    const char *key = "\"tcbEvaluationDataNumber\":";
    char *at = strstr((char *)json, key);
    assert_non_null(at);
    char *digit = at + strlen(key);
    char saved = *digit;
    *digit = *digit == '9' ? '8' : (char)(*digit + 1);
    assert_int_equal(set(&c, json, json_len, sig), 0); /* parses: still valid JSON */
    expect_collateral(vector, &c, reason);
    *digit = saved;

    /* Re-serialised: a space after the opening brace. */
    uint8_t *spaced = malloc(json_len + 1);
    assert_non_null(spaced);
    spaced[0] = '{';
    spaced[1] = ' ';
    memcpy(spaced + 2, json + 1, json_len - 1);
    assert_int_equal(set(&c, spaced, json_len + 1, sig), 0);
    expect_collateral(vector, &c, reason);
    free(spaced);

    sig[10] ^= 0x01;
    assert_int_equal(set(&c, json, json_len, sig), 0);
    expect_collateral(vector, &c, reason);
    sig[10] ^= 0x01;
    assert_int_equal(set(&c, json, json_len, sig), 0);
    size_t len;
    uint8_t *quote = hw_evidence(vector, &len);
    struct steep_hw_report r;
    if (hw_verify(quote, len, &c, hw_pinned(vector), &r) != 0)
        fail_msg("%s: restored collateral: %s", vector, steep_error_get());
    free(quote);
    free(json);
    free(sig);
    steep_hw_collateral_free(&c);
}

static void test_collateral_mutations(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_INTEL; i++) {
        mutate_json(intel_vectors[i], "tcb_info.json", "tcb_info.sig",
                    steep_hw_collateral_set_tcb_info, "TCB info signature does not verify");
        mutate_json(intel_vectors[i], "qe_identity.json", "qe_identity.sig",
                    steep_hw_collateral_set_qe_identity, "QE identity signature does not verify");
    }
}

/* Swaps the TCB info (and its signature) of `from` into `vector`'s collateral. */
static void cross_tcb_info(const char *vector, const char *from, const char *reason)
{
    size_t json_len, sig_len;
    uint8_t *json = collateral_file(from, "tcb_info.json", &json_len);
    uint8_t *sig = collateral_file(from, "tcb_info.sig", &sig_len);
    struct steep_hw_collateral c;
    hw_collateral(vector, &c);
    assert_int_equal(steep_hw_collateral_set_tcb_info(&c, json, json_len, sig), 0);
    expect_collateral(vector, &c, reason);
    steep_hw_collateral_free(&c);
    free(json);
    free(sig);
}

static void cross_pck_crl(const char *vector, const char *from, const char *reason)
{
    struct steep_hw_collateral c, other;
    hw_collateral(vector, &c);
    hw_collateral(from, &other);
    X509_CRL_free(c.pck_crl);
    c.pck_crl = other.pck_crl;
    other.pck_crl = NULL;
    expect_collateral(vector, &c, reason);
    steep_hw_collateral_free(&c);
    steep_hw_collateral_free(&other);
}

static void test_cross_wired_collateral(void **state)
{
    (void)state;
    cross_tcb_info("sgx_v3_dcapqvl", "tdx_v4_dcapqvl", "TCB info is for TDX, the quote is SGX");
    cross_tcb_info("tdx_v4_dcapqvl", "tdx_v5_dcapqvl", "FMSPC");
    cross_tcb_info("tdx_v5_gotdx", "tdx_v4_dcapqvl", "FMSPC");
    cross_tcb_info("tdx_v4_gotdx", "tdx_v5_gotdx", "FMSPC");
    cross_tcb_info("tdx_v5_dcapqvl", "tdx_v4_gotdx", "FMSPC");
    /* Processor-CA CRL for a Platform-CA quote, and the other way round. */
    cross_pck_crl("tdx_v4_dcapqvl", "sgx_v3_dcapqvl", "PCK CRL was not issued by this quote's");
    cross_pck_crl("sgx_v3_dcapqvl", "tdx_v4_dcapqvl", "PCK CRL was not issued by this quote's");
    /* The QE identity of SGX for a TDX quote. */
    size_t json_len, sig_len;
    uint8_t *json = collateral_file("sgx_v3_dcapqvl", "qe_identity.json", &json_len);
    uint8_t *sig = collateral_file("sgx_v3_dcapqvl", "qe_identity.sig", &sig_len);
    struct steep_hw_collateral c;
    hw_collateral("tdx_v4_dcapqvl", &c);
    assert_int_equal(steep_hw_collateral_set_qe_identity(&c, json, json_len, sig), 0);
    expect_collateral("tdx_v4_dcapqvl", &c, "QE identity is for QE, the quote needs TD_QE");
    steep_hw_collateral_free(&c);
    free(json);
    free(sig);
    /* No collateral at all. */
    struct steep_hw_collateral empty = {0};
    expect_collateral("tdx_v4_dcapqvl", &empty, "collateral: no TCB info");
}

static void test_collateral_times(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_INTEL; i++) {
        const char *v = intel_vectors[i];
        json_t *tcb = json_object_get(hw_vector(v), "tcb_info");
        time_t next = hw_time(json_string_value(json_object_get(tcb, "nextUpdate")));
        size_t len;
        uint8_t *quote = hw_evidence(v, &len);
        struct steep_hw_collateral c;
        hw_collateral(v, &c);
        struct steep_hw_report r;
        assert_int_not_equal(hw_verify(quote, len, &c, next + 1, &r), 0);
        const char *e = steep_error_get();
        if (!strstr(e, "stale") && !strstr(e, "expired"))
            fail_msg("%s 1 s after TCB info nextUpdate: %s", v, e);
        free(quote);
        steep_hw_collateral_free(&c);
    }
    /* go-tdx-guest's expectation for its PCK at 2053, and its TCB Signing
     * certificate expired after 2025-05-21. */
    size_t len;
    uint8_t *quote = hw_evidence("tdx_v4_gotdx", &len);
    struct steep_hw_collateral c;
    hw_collateral("tdx_v4_gotdx", &c);
    struct steep_hw_report r;
    assert_int_not_equal(hw_verify(quote, len, &c, hw_time("2053-07-01T01:00:00Z"), &r), 0);
    assert_non_null(strstr(steep_error_get(), "certificate has expired"));
    free(quote);
    steep_hw_collateral_free(&c);
}

/* Trailing bytes after the declared end are ignored (documented in
 * dcap_quote.c): stripping or extending them changes nothing. */
static void test_trailing_bytes(void **state)
{
    (void)state;
    const char *padded[] = {"tdx_v4_dcapqvl", "tdx_v4_gotdx"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = padded[i];
        json_t *e = hw_vector(v);
        size_t end = (size_t)json_integer_value(json_object_get(e, "declared_quote_end"));
        size_t trailing = (size_t)json_integer_value(json_object_get(e, "trailing_bytes"));
        size_t len;
        uint8_t *quote = hw_evidence(v, &len);
        assert_int_equal(end + trailing, len);
        struct steep_dcap_quote q;
        assert_int_equal(steep_dcap_quote_parse(quote, len, &q), 0);
        assert_int_equal(q.quote_len, end);
        assert_int_equal(q.trailing_len, trailing);
        struct steep_hw_collateral c;
        hw_collateral(v, &c);
        struct steep_hw_report full, stripped;
        assert_int_equal(hw_verify(quote, len, &c, hw_pinned(v), &full), 0);
        assert_int_equal(hw_verify(quote, end, &c, hw_pinned(v), &stripped), 0);
        assert_int_equal(full.status, stripped.status);
        /* One byte short of the declared end is a truncated quote. */
        assert_int_not_equal(hw_verify(quote, end - 1, &c, hw_pinned(v), &stripped), 0);
        free(quote);
        steep_hw_collateral_free(&c);
    }
}

/* ---- SEV-SNP ---- */

static void expect_snp(const char *vector, const uint8_t *report, size_t len,
                       const struct steep_hw_collateral *c, time_t now, const char *reason)
{
    struct steep_hw_report r;
    int rc = hw_verify(report, len, c, now, &r);
    if (rc == 0 || !strstr(steep_error_get(), reason))
        fail_msg("%s: expected a refusal naming '%s', got rc %d: %s", vector, reason, rc,
                 steep_error_get());
}

static void snp_flip(const char *vector, size_t at, uint8_t mask, const char *reason)
{
    size_t len;
    uint8_t *report = hw_evidence(vector, &len);
    struct steep_hw_collateral c;
    hw_collateral(vector, &c);
    report[at] ^= mask;
    expect_snp(vector, report, len, &c, hw_pinned(vector), reason);
    free(report);
    steep_hw_collateral_free(&c);
}

static void test_snp_mutations(void **state)
{
    (void)state;
    const char *vectors[] = {"snp_milan_gosev", "snp_milan_virtee"};
    const char *bad = "SNP report signature does not verify";
    for (size_t i = 0; i < 2; i++) {
        const char *v = vectors[i];
        snp_flip(v, 0x50, 0x01, bad);  /* REPORT_DATA[0] */
        snp_flip(v, 0x90, 0x01, bad);  /* MEASUREMENT[0] */
        snp_flip(v, 21, 0x80, bad);    /* POLICY */
        snp_flip(v, 0x187, 0x01, bad); /* REPORTED_TCB microcode */
        snp_flip(v, 0x2A0, 0x01, bad); /* R, least significant byte */
        snp_flip(v, 0x2E8 + 47, 0x01, bad);
        snp_flip(v, 0x2A0 + 60, 0x01, "padding of r or s is not zero");
        snp_flip(v, 0x400, 0x01, "reserved area after the signature is not zero");
        snp_flip(v, 0x48, 0x04, "VLEK"); /* SIGNING_KEY = 1 */

        /* r and s written big-endian: named as the encoding bug it is. */
        size_t len;
        uint8_t *report = hw_evidence(v, &len);
        struct steep_hw_collateral c;
        hw_collateral(v, &c);
        for (size_t field = 0x2A0; field <= 0x2E8; field += 0x48)
            for (size_t k = 0; k < 24; k++) {
                uint8_t t = report[field + k];
                report[field + k] = report[field + 47 - k];
                report[field + 47 - k] = t;
            }
        expect_snp(v, report, len, &c, hw_pinned(v), "big-endian");
        free(report);

        /* Another product's chain (Genoa's real ASK and ARK). */
        char path[1024];
        size_t pem_len;
        uint8_t *pem =
            hw_read(hw_fixture("common/amd_ask_ark_genoa.pem", path, sizeof(path)), &pem_len);
        report = hw_evidence(v, &len);
        STACK_OF(X509) *milan = c.ask_ark;
        c.ask_ark = steep_hw_pem_chain(pem, pem_len);
        assert_non_null(c.ask_ark);
        expect_snp(v, report, len, &c, hw_pinned(v), "VCEK chain");
        sk_X509_pop_free(c.ask_ark, X509_free);
        c.ask_ark = milan;
        free(pem);
        free(report);
        steep_hw_collateral_free(&c);
    }
    /* The gosev report under the virtee VCEK. */
    size_t len;
    uint8_t *report = hw_evidence("snp_milan_gosev", &len);
    struct steep_hw_collateral c;
    hw_collateral("snp_milan_virtee", &c);
    expect_snp("snp_milan_gosev", report, len, &c, hw_pinned("snp_milan_gosev"),
               "does not verify under the VCEK");
    steep_hw_collateral_free(&c);
    /* The gosev VCEK's window. */
    hw_collateral("snp_milan_gosev", &c);
    expect_snp("snp_milan_gosev", report, len, &c, hw_time("2029-09-24T00:55:29Z"), "expired");
    expect_snp("snp_milan_gosev", report, len, &c, hw_time("2022-09-24T00:55:27Z"),
               "not yet valid");
    free(report);
    steep_hw_collateral_free(&c);
}

static void test_turin_vcek_damaged(void **state)
{
    (void)state;
    size_t len;
    uint8_t *der = collateral_file("snp_turin_virtee", "vcek.der", &len);
    der[len - 10] ^= 0x01; /* inside the signature */
    const unsigned char *p = der;
    X509 *vcek = d2i_X509(NULL, &p, (long)len);
    assert_non_null(vcek);
    struct steep_hw_collateral c;
    hw_collateral("snp_turin_virtee", &c);
    struct steep_snp_vcek_info info;
    steep_error_clear();
    assert_int_not_equal(
        steep_snp_verify_vcek(vcek, c.ask_ark, NULL, hw_pinned("snp_turin_virtee"), &info), 0);
    assert_non_null(strstr(steep_error_get(), "VCEK chain"));
    assert_non_null(strstr(steep_error_get(), "signature"));
    X509_free(vcek);
    free(der);
    steep_hw_collateral_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_mutations),        cmocka_unit_test(test_collateral_mutations),
        cmocka_unit_test(test_cross_wired_collateral), cmocka_unit_test(test_collateral_times),
        cmocka_unit_test(test_trailing_bytes),         cmocka_unit_test(test_snp_mutations),
        cmocka_unit_test(test_turin_vcek_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
