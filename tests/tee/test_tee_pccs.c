/*
 * The PCCS client (lib/tee/hw/pccs.h) against a PCCS-compatible test server
 * on loopback (tests/tee/pccs_server.py) serving the fixtures' real Intel
 * collateral: each quote verifies at its pinned instant with collateral
 * fetched over HTTP, and over HTTPS trusted through the configured CA file
 * only (the signed objects cut byte for byte from the
 * answers); a second verification is answered from the cache; a set is
 * fetched again within the refresh margin of its next update; when the
 * endpoint is gone the cached set serves until its next update and is then
 * refused as stale, naming the failed refresh; an unknown platform, an
 * unreachable endpoint and a malformed answer are each refused with their
 * reason.
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
#include "pccs_process.h"
#include "tee/hw/hw_internal.h"
#include "tee/hw/pccs.h"

static const char *const both[] = {"sgx_v3_dcapqvl", "tdx_v4_dcapqvl", NULL};

static time_t set_until(const struct steep_hw_collateral *c)
{
    time_t until = 0;
    steep_hw_until(&until, c->tcb_info->next_update);
    steep_hw_until(&until, c->qe_identity->next_update);
    steep_hw_until(&until, steep_hw_asn1_time(X509_CRL_get0_nextUpdate(c->pck_crl)));
    steep_hw_until(&until, steep_hw_asn1_time(X509_CRL_get0_nextUpdate(c->root_crl)));
    return until;
}

static void expect_file(const char *vector, const char *name, const struct steep_buf *got)
{
    char rel[256], path[512];
    snprintf(rel, sizeof(rel), "%s/%s", vector, name);
    size_t len;
    uint8_t *want = hw_read(hw_fixture(rel, path, sizeof(path)), &len);
    assert_int_equal(got->len, len);
    assert_memory_equal(got->data, want, len);
    free(want);
}

static void test_fetch_verify_cache(void **state)
{
    (void)state;
    struct pccs_process server;
    pccs_start(&server, both);
    struct steep_pccs_options options = {.url = server.url};
    struct steep_pccs *pccs = steep_pccs_new(&options);
    assert_non_null(pccs);
    const struct {
        const char *vector, *status;
        size_t advisories;
    } cases[] = {
        {"sgx_v3_dcapqvl", "ConfigurationAndSWHardeningNeeded", 2},
        {"tdx_v4_dcapqvl", "UpToDate", 0},
    };
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        uint8_t *quote = hw_evidence(cases[i].vector, &len);
        time_t now = hw_pinned(cases[i].vector);
        const struct steep_hw_collateral *c = NULL;
        if (steep_pccs_collateral(pccs, quote, len, now, &c) != 0)
            fail_msg("%s: %s", cases[i].vector, steep_error_get());
        /* the signed objects are the exact bytes of the fixture files */
        expect_file(cases[i].vector, "tcb_info.json", &c->tcb_info_json);
        expect_file(cases[i].vector, "qe_identity.json", &c->qe_identity_json);
        struct steep_hw_report r;
        if (steep_hw_verify(quote, len, c, NULL, now, &r) != 0)
            fail_msg("%s: %s", cases[i].vector, steep_error_get());
        assert_string_equal(steep_hw_tcb_status_name(r.status), cases[i].status);
        assert_int_equal(r.n_advisories, cases[i].advisories);
        /* again: from the cache, nothing fetched */
        int before = pccs_requests(&server, "");
        const struct steep_hw_collateral *again = NULL;
        assert_int_equal(steep_pccs_collateral(pccs, quote, len, now, &again), 0);
        assert_ptr_equal(again, c);
        assert_int_equal(pccs_requests(&server, ""), before);
        free(quote);
    }
    assert_int_equal(pccs_requests(&server, "/sgx/certification/v4/tcb?fmspc=00a067110000"), 1);
    assert_int_equal(pccs_requests(&server, "/tdx/certification/v4/tcb?fmspc=b0c06f000000"), 1);
    assert_int_equal(pccs_requests(&server, "/tdx/certification/v4/qe/identity"), 1);
    assert_int_equal(pccs_requests(&server, "pckcrl?ca=processor"), 1);
    assert_int_equal(pccs_requests(&server, "pckcrl?ca=platform"), 1);
    assert_int_equal(pccs_requests(&server, "rootcacrl"), 2);
    struct steep_pccs_stats stats;
    steep_pccs_get_stats(pccs, &stats);
    assert_int_equal(stats.fetches, 2);
    assert_int_equal(stats.hits, 2);
    steep_pccs_free(pccs);
    pccs_stop(&server);
}

static void test_refresh_then_stale(void **state)
{
    (void)state;
    const char *const sgx[] = {"sgx_v3_dcapqvl", NULL};
    struct pccs_process server;
    pccs_start(&server, sgx);
    struct steep_pccs_options options = {.url = server.url, .refresh_margin = 600};
    struct steep_pccs *pccs = steep_pccs_new(&options);
    size_t len;
    uint8_t *quote = hw_evidence("sgx_v3_dcapqvl", &len);
    time_t now = hw_pinned("sgx_v3_dcapqvl");
    const struct steep_hw_collateral *c = NULL, *d = NULL;
    assert_int_equal(steep_pccs_collateral(pccs, quote, len, now, &c), 0);
    time_t until = set_until(c);
    assert_true(until > now + 600);
    /* just outside the margin: cached */
    assert_int_equal(steep_pccs_collateral(pccs, quote, len, until - 601, &d), 0);
    assert_ptr_equal(c, d);
    assert_int_equal(pccs_requests(&server, "/tcb?"), 1);
    /* inside it: fetched again (the old set stays readable) */
    assert_int_equal(steep_pccs_collateral(pccs, quote, len, until - 599, &d), 0);
    assert_ptr_not_equal(c, d);
    assert_int_equal(pccs_requests(&server, "/tcb?"), 2);
    assert_int_equal(c->tcb_info_json.len, d->tcb_info_json.len); /* c not freed */

    /* the endpoint goes away: the cached set serves until its next update */
    pccs_stop(&server);
    assert_int_equal(steep_pccs_collateral(pccs, quote, len, until - 10, &c), 0);
    assert_ptr_equal(c, d);
    struct steep_pccs_stats stats;
    steep_pccs_get_stats(pccs, &stats);
    assert_int_equal(stats.failed_refreshes, 1);
    /* ...and not a second after */
    assert_int_equal(steep_pccs_collateral(pccs, quote, len, until + 1, &c), -1);
    assert_non_null(strstr(steep_error_get(), "stale"));
    assert_non_null(strstr(steep_error_get(), "refresh failed"));
    assert_non_null(strstr(steep_error_get(), "unreachable"));
    free(quote);
    steep_pccs_free(pccs);
}

static void test_refusals(void **state)
{
    (void)state;
    const char *const sgx[] = {"sgx_v3_dcapqvl", NULL};
    struct pccs_process server;
    pccs_start(&server, sgx);
    struct steep_pccs_options options = {.url = server.url};
    struct steep_pccs *pccs = steep_pccs_new(&options);
    size_t len;
    uint8_t *quote = hw_evidence("tdx_v4_dcapqvl", &len);
    const struct steep_hw_collateral *c = NULL;
    /* a platform the endpoint does not know */
    assert_int_equal(steep_pccs_collateral(pccs, quote, len, hw_pinned("tdx_v4_dcapqvl"), &c), -1);
    assert_non_null(strstr(steep_error_get(), "answered HTTP 404"));
    /* not a quote */
    assert_int_equal(steep_pccs_collateral(pccs, (const uint8_t *)"junk", 4, 0, &c), -1);
    assert_non_null(strstr(steep_error_get(), "PCCS"));
    steep_pccs_free(pccs);
    pccs_stop(&server);
    /* nothing listening */
    struct steep_pccs_options gone = {.url = server.url, .timeout_ms = 2000};
    pccs = steep_pccs_new(&gone);
    assert_int_equal(steep_pccs_collateral(pccs, quote, len, hw_pinned("tdx_v4_dcapqvl"), &c), -1);
    assert_non_null(strstr(steep_error_get(), "unreachable"));
    steep_pccs_free(pccs);
    free(quote);
    /* a URL that is not HTTP(S) */
    struct steep_pccs_options bad = {.url = "file:///etc/passwd"};
    assert_null(steep_pccs_new(&bad));
    assert_non_null(strstr(steep_error_get(), "https://"));
}

static void test_https(void **state)
{
    (void)state;
    const char *const sgx[] = {"sgx_v3_dcapqvl", NULL};
    struct pccs_process server;
    pccs_start_tls(&server, sgx);
    size_t len;
    uint8_t *quote = hw_evidence("sgx_v3_dcapqvl", &len);
    time_t now = hw_pinned("sgx_v3_dcapqvl");
    const struct steep_hw_collateral *c = NULL;
    /* the server's certificate is trusted only through pccs_ca_file */
    struct steep_pccs_options untrusted = {.url = server.url};
    struct steep_pccs *pccs = steep_pccs_new(&untrusted);
    assert_int_equal(steep_pccs_collateral(pccs, quote, len, now, &c), -1);
    assert_non_null(strstr(steep_error_get(), "unreachable"));
    assert_int_equal(pccs_requests(&server, ""), 0);
    steep_pccs_free(pccs);
    struct steep_pccs_options trusted = {.url = server.url, .ca_file = server.cert};
    pccs = steep_pccs_new(&trusted);
    if (steep_pccs_collateral(pccs, quote, len, now, &c) != 0)
        fail_msg("https: %s", steep_error_get());
    struct steep_hw_report r;
    assert_int_equal(steep_hw_verify(quote, len, c, NULL, now, &r), 0);
    steep_pccs_free(pccs);
    free(quote);
    pccs_stop(&server);
}

static void test_raw_object(void **state)
{
    (void)state;
    char path[512];
    size_t len, want_len;
    uint8_t *response =
        hw_read(hw_fixture("tdx_v4_gotdx/tcb_info.response.json", path, sizeof(path)), &len);
    uint8_t *want =
        hw_read(hw_fixture("tdx_v4_gotdx/tcb_info.json", path, sizeof(path)), &want_len);
    const char *start;
    size_t n;
    assert_int_equal(steep_pccs_raw_object((const char *)response, len, "tcbInfo", &start, &n), 0);
    assert_int_equal(n, want_len);
    assert_memory_equal(start, want, n);
    /* a nested "tcbInfo" is not the top-level one; unterminated text is refused */
    const char *nested = "{\"x\":{\"tcbInfo\":{\"a\":1}}}";
    assert_int_equal(steep_pccs_raw_object(nested, strlen(nested), "tcbInfo", &start, &n), -1);
    const char *open = "{\"tcbInfo\":{\"a\":\"}";
    assert_int_equal(steep_pccs_raw_object(open, strlen(open), "tcbInfo", &start, &n), -1);
    /* brackets closed by the wrong kind (found by fuzz-pccs) */
    const char *mismatched = "{\"tcbInfo\":{\"a\":[}]},\"signature\":\"00\"}";
    assert_int_equal(steep_pccs_raw_object(mismatched, strlen(mismatched), "tcbInfo", &start, &n),
                     -1);
    assert_non_null(strstr(steep_error_get(), "mismatched"));
    free(response);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_verify_cache), cmocka_unit_test(test_refresh_then_stale),
        cmocka_unit_test(test_refusals),           cmocka_unit_test(test_https),
        cmocka_unit_test(test_raw_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
