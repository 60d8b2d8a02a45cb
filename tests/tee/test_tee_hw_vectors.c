/*
 * The real hardware vectors of fixtures/hw-attestation: each verifies at its
 * pinned instant with the status and advisories of expected.json (read from
 * the file, never restated here), its fields as expected.json lists them,
 * and is refused just outside its common validity window. Then the
 * README's mutations, each refused with the reason of the check it breaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/error.h"
#include "hw_test_util.h"

static const char *const intel_vectors[] = {"sgx_v3_dcapqvl", "tdx_v4_dcapqvl", "tdx_v5_gotdx",
                                            "tdx_v5_dcapqvl", "tdx_v4_gotdx"};
static const char *const snp_vectors[] = {"snp_milan_gosev", "snp_milan_virtee"};
#define N_INTEL (sizeof(intel_vectors) / sizeof(intel_vectors[0]))
#define N_SNP   (sizeof(snp_vectors) / sizeof(snp_vectors[0]))

static void assert_hex(const char *expected_hex, const uint8_t *got, size_t n)
{
    char hex[2 * 128 + 1];
    assert_true(n <= 128);
    steep_hex_encode(got, n, hex);
    assert_string_equal(hex, expected_hex);
}

static const char *field(json_t *section, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(section, key), "value"));
    assert_non_null(v);
    return v;
}

static void assert_refused(int rc, const char *reason)
{
    if (rc == 0 || !strstr(steep_error_get(), reason))
        fail_msg("expected a refusal naming '%s', got rc %d: %s", reason, rc, steep_error_get());
}

static void test_intel_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_INTEL; i++) {
        const char *name = intel_vectors[i];
        json_t *v = hw_vector(name);
        size_t len;
        uint8_t *quote = hw_evidence(name, &len);
        struct steep_hw_collateral c;
        hw_collateral(name, &c);
        struct steep_hw_report r;
        int rc = hw_verify(quote, len, &c, hw_pinned(name), &r);
        if (rc != 0)
            fail_msg("%s: %s", name, steep_error_get());
        assert_string_equal(steep_hw_tcb_status_name(r.status),
                            hw_vector_string(name, "expected_tcb_status"));
        json_t *advisories = json_object_get(v, "expected_advisory_ids");
        assert_int_equal(r.n_advisories, json_array_size(advisories));
        for (size_t a = 0; a < r.n_advisories; a++)
            assert_string_equal(r.advisories[a], json_string_value(json_array_get(advisories, a)));
        json_t *header = json_object_get(v, "header");
        assert_int_equal(r.version, json_integer_value(json_object_get(header, "version")));
        const char *fmspc = json_string_value(
            json_object_get(json_object_get(json_object_get(v, "pck"), "ext"), "fmspc"));
        assert_non_null(fmspc);
        char got[13];
        steep_hex_encode(r.fmspc, 6, got);
        assert_true(strcasecmp(got, fmspc) == 0);
        json_t *body = json_object_get(v, "body");
        if (strncmp(name, "sgx", 3) == 0) {
            assert_int_equal(r.kind, STEEP_HW_SGX);
            assert_hex(field(body, "mrenclave"), r.sgx.mr_enclave, 32);
            assert_hex(field(body, "mrsigner"), r.sgx.mr_signer, 32);
            assert_hex(field(body, "reportdata"), r.report_data, 64);
        } else {
            assert_int_equal(r.kind, STEEP_HW_TDX);
            assert_hex(field(body, "mrtd"), r.tdx.mr_td, 48);
            assert_hex(field(body, "rtmr0"), r.tdx.rtmr[0], 48);
            assert_hex(field(body, "rtmr2"), r.tdx.rtmr[2], 48);
            assert_hex(field(body, "reportdata"), r.report_data, 64);
        }
        assert_false(r.debug);
        free(quote);
        steep_hw_collateral_free(&c);
    }
}

static void test_intel_windows(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_INTEL; i++) {
        const char *name = intel_vectors[i];
        json_t *window = json_object_get(hw_vector(name), "common_window");
        time_t from = hw_time(json_string_value(json_array_get(window, 0)));
        time_t to = hw_time(json_string_value(json_array_get(window, 1)));
        size_t len;
        uint8_t *quote = hw_evidence(name, &len);
        struct steep_hw_collateral c;
        hw_collateral(name, &c);
        struct steep_hw_report r;
        if (hw_verify(quote, len, &c, from, &r) != 0 || hw_verify(quote, len, &c, to, &r) != 0)
            fail_msg("%s at its window's edges: %s", name, steep_error_get());
        assert_refused(hw_verify(quote, len, &c, from - 1, &r), "not valid yet");
        assert_int_not_equal(hw_verify(quote, len, &c, to + 1, &r), 0);
        assert_true(strstr(steep_error_get(), "stale") || strstr(steep_error_get(), "expired"));
        /* Far future: the PCK certificate itself has expired. */
        assert_refused(hw_verify(quote, len, &c, hw_time("2053-07-01T01:00:00Z"), &r), "expired");
        assert_true(r.valid_until == 0);
        free(quote);
        steep_hw_collateral_free(&c);
    }
}

static void test_snp_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SNP; i++) {
        const char *name = snp_vectors[i];
        json_t *report = json_object_get(hw_vector(name), "report");
        size_t len;
        uint8_t *data = hw_evidence(name, &len);
        struct steep_hw_collateral c;
        hw_collateral(name, &c);
        struct steep_hw_report r;
        if (hw_verify(data, len, &c, hw_pinned(name), &r) != 0)
            fail_msg("%s: %s", name, steep_error_get());
        assert_int_equal(r.kind, STEEP_HW_SNP);
        assert_int_equal(r.version, json_integer_value(json_object_get(report, "version")));
        assert_hex(json_string_value(json_object_get(report, "measurement")), r.snp.measurement,
                   48);
        assert_hex(json_string_value(json_object_get(report, "chip_id")), r.snp.chip_id, 64);
        char policy[17];
        snprintf(policy, sizeof(policy), "%016llx", (unsigned long long)r.snp.policy);
        assert_string_equal(policy, json_string_value(json_object_get(report, "policy")));
        assert_int_equal(r.debug, (r.snp.policy >> 19) & 1);
        assert_string_equal(r.snp_product, "Milan-B0");
        json_t *window = json_object_get(hw_vector(name), "common_window");
        time_t from = hw_time(json_string_value(json_array_get(window, 0)));
        time_t to = hw_time(json_string_value(json_array_get(window, 1)));
        /* OpenSSL takes a certificate's notAfter as its first invalid second. */
        if (hw_verify(data, len, &c, from, &r) != 0 || hw_verify(data, len, &c, to - 1, &r) != 0)
            fail_msg("%s at its window's edges: %s", name, steep_error_get());
        assert_refused(hw_verify(data, len, &c, from - 1, &r), "not yet valid");
        assert_refused(hw_verify(data, len, &c, to + 1, &r), "expired");
        free(data);
        steep_hw_collateral_free(&c);
    }
    /* go-sev-guest's own instant works too. */
    size_t len;
    uint8_t *data = hw_evidence("snp_milan_gosev", &len);
    struct steep_hw_collateral c;
    hw_collateral("snp_milan_gosev", &c);
    struct steep_hw_report r;
    assert_int_equal(hw_verify(data, len, &c, hw_time("2022-09-24T01:00:00Z"), &r), 0);
    free(data);
    steep_hw_collateral_free(&c);
}

static void test_turin_chain(void **state)
{
    (void)state;
    struct steep_hw_collateral c;
    hw_collateral("snp_turin_virtee", &c);
    json_t *vcek = json_object_get(hw_vector("snp_turin_virtee"), "vcek");
    json_t *ext = json_object_get(vcek, "ext");
    struct steep_snp_vcek_info info;
    time_t now = hw_pinned("snp_turin_virtee");
    if (steep_snp_verify_vcek(c.vcek, c.ask_ark, NULL, now, &info) != 0)
        fail_msg("Turin chain: %s", steep_error_get());
    assert_true(info.turin);
    assert_string_equal(info.product, json_string_value(json_object_get(ext, "productName")));
    assert_int_equal(info.hwid_len, 8);
    assert_hex(json_string_value(json_object_get(ext, "hwID")), info.hwid, 8);
    assert_int_equal(info.ucode_spl, json_integer_value(json_object_get(ext, "ucodeSPL")));
    assert_int_equal(info.fmc_spl, json_integer_value(json_object_get(ext, "fmcSPL")));
    time_t from = hw_time(json_string_value(json_object_get(vcek, "not_before")));
    assert_int_not_equal(steep_snp_verify_vcek(c.vcek, c.ask_ark, NULL, from - 1, &info), 0);
    /* A Milan chain does not issue a Turin VCEK. */
    struct steep_hw_collateral milan;
    hw_collateral("snp_milan_gosev", &milan);
    assert_refused(steep_snp_verify_vcek(c.vcek, milan.ask_ark, NULL, now, &info), "VCEK chain");
    steep_hw_collateral_free(&milan);
    steep_hw_collateral_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intel_vectors),
        cmocka_unit_test(test_intel_windows),
        cmocka_unit_test(test_snp_vectors),
        cmocka_unit_test(test_turin_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
