/*
 * The fail-closed policy over real evidence, through verify.h's
 * steep_tee_verify_hw_evidence: only UpToDate by default; a listed status
 * needs its advisories listed too; Revoked/NotSupported are never accepted;
 * debug guests are refused unless allowed; measurements are pinned from
 * enclave_info entries of the hardware kinds; the report data binds the
 * expected key; stale collateral is refused. Each refusal names its check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "hw_test_util.h"
#include "tee/enclave_info.h"
#include "tee/hw/hw_config.h"
#include "tee/verify.h"

struct subject {
    uint8_t *evidence;
    size_t len;
    struct steep_hw_collateral c;
    struct steep_enclave_info info;
    struct steep_tee_policy policy;
    uint8_t report_data[64];
};

/* An enclave_info entry pinning the vector's own measurement (from expected.json). */
static void subject_open(const char *vector, struct subject *s)
{
    memset(s, 0, sizeof(*s));
    s->evidence = hw_evidence(vector, &s->len);
    hw_collateral(vector, &s->c);
    json_t *v = hw_vector(vector);
    char toml[1024];
    const char *report_data;
    if (strncmp(vector, "snp", 3) == 0) {
        json_t *r = json_object_get(v, "report");
        snprintf(toml, sizeof(toml), "[svc]\nsnp_measurement = \"%s\"\n",
                 json_string_value(json_object_get(r, "measurement")));
        report_data = json_string_value(json_object_get(r, "report_data"));
    } else {
        json_t *body = json_object_get(v, "body");
#define VALUE(k) json_string_value(json_object_get(json_object_get(body, k), "value"))
        if (strncmp(vector, "sgx", 3) == 0)
            snprintf(toml, sizeof(toml), "[svc]\nmr_enclave = \"%s\"\nmr_signer = \"%s\"\n",
                     VALUE("mrenclave"), VALUE("mrsigner"));
        else
            snprintf(toml, sizeof(toml), "[svc]\ntdx_mrtd = \"%s\"\ntdx_rtmr0 = \"%s\"\n",
                     VALUE("mrtd"), VALUE("rtmr0"));
        report_data = VALUE("reportdata");
#undef VALUE
    }
    assert_non_null(report_data);
    assert_int_equal(steep_hex_decode(report_data, s->report_data, 64), 0);
    if (steep_enclave_info_parse("ei.toml", toml, strlen(toml), &s->info) != 0)
        fail_msg("%s", steep_error_get());
    s->policy.now = hw_pinned(vector);
    s->policy.collateral = &s->c;
    s->policy.accepted = s->info.attrs;
    s->policy.n_accepted = s->info.count;
}

static void subject_close(struct subject *s)
{
    free(s->evidence);
    steep_hw_collateral_free(&s->c);
    steep_enclave_info_free(&s->info);
}

static int verify(struct subject *s, struct steep_tee_verdict *verdict)
{
    steep_error_clear();
    return steep_tee_verify_hw_evidence(s->evidence, s->len, s->report_data, &s->policy, verdict);
}

static void expect_refused(struct subject *s, const char *reason)
{
    struct steep_tee_verdict verdict;
    int rc = verify(s, &verdict);
    if (rc == 0 || !strstr(steep_error_get(), reason))
        fail_msg("expected a refusal naming '%s', got rc %d: %s", reason, rc, steep_error_get());
}

static void expect_accepted(struct subject *s)
{
    struct steep_tee_verdict verdict;
    if (verify(s, &verdict) != 0)
        fail_msg("refused: %s", steep_error_get());
    assert_true(verdict.have_hw);
    assert_string_equal(verdict.name, "svc");
}

static void test_up_to_date_accepted_by_default(void **state)
{
    (void)state;
    const char *vectors[] = {"tdx_v4_dcapqvl", "tdx_v5_gotdx", "snp_milan_virtee"};
    for (size_t i = 0; i < 3; i++) {
        struct subject s;
        subject_open(vectors[i], &s);
        expect_accepted(&s);
        subject_close(&s);
    }
}

static void test_statuses_and_advisories(void **state)
{
    (void)state;
    struct subject s;
    subject_open("sgx_v3_dcapqvl", &s);
    expect_refused(&s, "TCB status ConfigurationAndSWHardeningNeeded is not accepted");
    const enum steep_hw_tcb_status listed[] = {STEEP_HW_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED};
    s.policy.hw_accepted_statuses = listed;
    s.policy.n_hw_accepted_statuses = 1;
    expect_refused(&s, "with advisory INTEL-SA-00289, which the policy does not accept");
    const char *one[] = {"INTEL-SA-00289"};
    s.policy.hw_accepted_advisories = one;
    s.policy.n_hw_accepted_advisories = 1;
    expect_refused(&s, "with advisory INTEL-SA-00615, which the policy does not accept");
    const char *both[] = {"INTEL-SA-00615", "INTEL-SA-00289"};
    s.policy.hw_accepted_advisories = both;
    s.policy.n_hw_accepted_advisories = 2;
    expect_accepted(&s);
    /* A listed status does not widen to another one. */
    const enum steep_hw_tcb_status other[] = {STEEP_HW_TCB_SW_HARDENING_NEEDED};
    s.policy.hw_accepted_statuses = other;
    expect_refused(&s, "is not accepted");
    subject_close(&s);

    const char *unsupported[] = {"tdx_v5_dcapqvl", "tdx_v4_gotdx"};
    for (size_t i = 0; i < 2; i++) {
        subject_open(unsupported[i], &s);
        const enum steep_hw_tcb_status all[] = {STEEP_HW_TCB_NOT_SUPPORTED,
                                                STEEP_HW_TCB_OUT_OF_DATE};
        s.policy.hw_accepted_statuses = all;
        s.policy.n_hw_accepted_statuses = 2;
        expect_refused(&s, "TCB status NotSupported");
        subject_close(&s);
    }
}

static void test_debug(void **state)
{
    (void)state;
    struct subject s;
    subject_open("snp_milan_gosev", &s);
    expect_refused(&s, "snp: a debug guest is refused");
    s.policy.insecure_allow_debug = true;
    expect_accepted(&s);
    subject_close(&s);
    /* virtee's negative case flips bit 7 of byte 21 (POLICY): the signature
     * fails before any policy could accept it. */
    subject_open("snp_milan_virtee", &s);
    s.evidence[21] ^= 0x80;
    s.policy.insecure_allow_debug = true;
    expect_refused(&s, "SNP report signature does not verify");
    subject_close(&s);
}

static void test_measurements_and_binding(void **state)
{
    (void)state;
    const char *vectors[] = {"sgx_v3_dcapqvl", "tdx_v4_dcapqvl", "snp_milan_virtee"};
    const char *kinds[] = {"MRENCLAVE", "MRTD", "SNP MEASUREMENT"};
    const enum steep_hw_tcb_status listed[] = {STEEP_HW_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED};
    const char *advisories[] = {"INTEL-SA-00615", "INTEL-SA-00289"};
    for (size_t i = 0; i < 3; i++) {
        struct subject s;
        subject_open(vectors[i], &s);
        s.policy.hw_accepted_statuses = listed;
        s.policy.n_hw_accepted_statuses = 1;
        s.policy.hw_accepted_advisories = advisories;
        s.policy.n_hw_accepted_advisories = 2;
        expect_accepted(&s);
        s.report_data[63] ^= 1;
        expect_refused(&s, "key binding failed");
        s.report_data[63] ^= 1;
        struct steep_tee_enclave_attr *attr = &s.info.attrs[0];
        if (i == 0)
            attr->mr_signer[0] ^= 1;
        else if (i == 1)
            attr->hw.rtmr[0][0] ^= 1;
        else
            attr->hw.snp_measurement[47] ^= 1;
        char reason[64];
        snprintf(reason, sizeof(reason), "measurement not accepted: %s", kinds[i]);
        expect_refused(&s, reason);
        /* No measurement of this kind pinned at all. */
        attr->no_sgx_pair = true;
        memset(&attr->hw, 0, sizeof(attr->hw));
        expect_refused(&s, "measurement not accepted");
        subject_close(&s);
    }
}

static void test_stale_collateral(void **state)
{
    (void)state;
    struct subject s;
    subject_open("tdx_v5_gotdx", &s);
    json_t *tcb = json_object_get(hw_vector("tdx_v5_gotdx"), "tcb_info");
    s.policy.now = hw_time(json_string_value(json_object_get(tcb, "nextUpdate"))) + 1;
    expect_refused(&s, "TCB info is stale");
    s.policy.now = 0;
    expect_refused(&s, "no verification time");
    s.policy.now = hw_pinned("tdx_v5_gotdx");
    s.policy.collateral = NULL;
    expect_refused(&s, "no collateral configured");
    subject_close(&s);
}

/* The operator's list of statuses (tee.hw_accepted_statuses, --accept-status). */
static void test_status_lists(void **state)
{
    (void)state;
    enum steep_hw_tcb_status out[STEEP_HW_MAX_ACCEPTED_STATUSES];
    size_t n;
    const char *good[] = {"SWHardeningNeeded", "OutOfDate"};
    assert_int_equal(steep_tee_hw_statuses_parse(good, 2, out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[1], STEEP_HW_TCB_OUT_OF_DATE);
    const char *never[] = {"Revoked", "NotSupported"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(steep_tee_hw_statuses_parse(&never[i], 1, out, &n), -1);
        assert_non_null(strstr(steep_error_get(), "can never be accepted"));
    }
    const char *typo[] = {"UpToDat"};
    assert_int_equal(steep_tee_hw_statuses_parse(typo, 1, out, &n), -1);
    assert_non_null(strstr(steep_error_get(), "unknown TCB status 'UpToDat'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_up_to_date_accepted_by_default),
        cmocka_unit_test(test_statuses_and_advisories),
        cmocka_unit_test(test_debug),
        cmocka_unit_test(test_measurements_and_binding),
        cmocka_unit_test(test_stale_collateral),
        cmocka_unit_test(test_status_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
