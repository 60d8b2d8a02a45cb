/*
 * Reports the authority issues for real hardware evidence (endorse.h) pass
 * Steep's own IAS-report verifier (verify.h, the path Teaclave's clients
 * take): chain to the authority root, signature, status (IAS names; a poor
 * status only when listed), not simulated, key binding and measurement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "hw_test_util.h"
#include "tee/hw/endorse.h"
#include "tee/hw/hw_internal.h"
#include "tee/verify.h"
#include "tee_test_util.h"

static void endorse_and_verify(struct tee_fixture *f, const char *vector,
                               const enum steep_hw_tcb_status *hw_statuses, size_t n_hw,
                               const char *const *advisories, size_t n_advisories,
                               const char *const *ias_statuses, size_t n_ias, int want)
{
    size_t len;
    uint8_t *quote = hw_evidence(vector, &len);
    struct steep_hw_collateral c;
    hw_collateral(vector, &c);
    time_t now = hw_pinned(vector);
    struct steep_hw_policy hw = {.accepted_statuses = hw_statuses,
                                 .n_accepted_statuses = n_hw,
                                 .accepted_advisories = advisories,
                                 .n_accepted_advisories = n_advisories};
    struct steep_tee_evidence evidence;
    if (steep_hw_endorse(f->authority, quote, len, &c, &hw, now, &evidence) != 0)
        fail_msg("%s: %s", vector, steep_error_get());
    struct steep_hw_report r;
    assert_int_equal(steep_hw_verify(quote, len, &c, NULL, now, &r), 0);
    struct steep_tee_enclave_attr attr = {.name = "svc"};
    struct steep_tee_identity id;
    assert_int_equal(steep_hw_identity(r.kind, &r.sgx, &r.tdx, &r.snp, &id), 0);
    memcpy(attr.mr_enclave, id.mr_enclave, 32);
    memcpy(attr.mr_signer, id.mr_signer, 32);
    struct steep_tee_policy policy = {
        .roots = f->roots,
        /* The authority's certificate is made today, the vectors are from
         * the past: verify now, with the report's age allowed to span it. */
        .now = time(NULL),
        .max_report_age = time(NULL) - now + 60,
        .accepted_statuses = ias_statuses,
        .n_accepted_statuses = n_ias,
        .accepted = &attr,
        .n_accepted = 1,
    };
    struct steep_tee_verdict verdict;
    steep_error_clear();
    int rc = steep_tee_verify_evidence(&evidence, r.report_data, &policy, &verdict);
    if (rc != want)
        fail_msg("%s: verify gave %d: %s", vector, rc, steep_error_get());
    if (rc == 0) {
        assert_false(verdict.simulated);
        assert_string_equal(verdict.name, "svc");
        assert_string_equal(verdict.status, steep_hw_ias_status(r.status));
    } else
        assert_non_null(strstr(steep_error_get(), "quote status"));
    /* Another key than the evidence's: the binding fails. */
    uint8_t other[64];
    memcpy(other, r.report_data, 64);
    other[0] ^= 1;
    policy.n_accepted_statuses = n_ias;
    if (want == 0) {
        assert_int_equal(steep_tee_verify_evidence(&evidence, other, &policy, &verdict), -1);
        assert_non_null(strstr(steep_error_get(), "key binding failed"));
    }
    steep_tee_evidence_free(&evidence);
    steep_hw_collateral_free(&c);
    free(quote);
}

static void test_endorsed_reports_verify(void **state)
{
    (void)state;
    struct tee_fixture f;
    tee_fixture_init(&f);
    endorse_and_verify(&f, "tdx_v4_dcapqvl", NULL, 0, NULL, 0, NULL, 0, 0);
    endorse_and_verify(&f, "tdx_v5_gotdx", NULL, 0, NULL, 0, NULL, 0, 0);
    endorse_and_verify(&f, "snp_milan_virtee", NULL, 0, NULL, 0, NULL, 0, 0);
    const enum steep_hw_tcb_status sgx[] = {STEEP_HW_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED};
    const char *advisories[] = {"INTEL-SA-00289", "INTEL-SA-00615"};
    const char *ias[] = {"CONFIGURATION_AND_SW_HARDENING_NEEDED"};
    /* The authority endorses it under its policy; a client that accepts only
     * OK refuses it, one that lists the status accepts it. */
    endorse_and_verify(&f, "sgx_v3_dcapqvl", sgx, 1, advisories, 2, NULL, 0, -1);
    endorse_and_verify(&f, "sgx_v3_dcapqvl", sgx, 1, advisories, 2, ias, 1, 0);
    tee_fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endorsed_reports_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
