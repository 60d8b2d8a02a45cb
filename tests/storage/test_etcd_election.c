/*
 * Leader election through an etcd lease (lib/store/etcd_election.h) on the
 * cluster of test_store_etcd.sh: of three candidates exactly one leads and
 * all see who; a leader that resigns is replaced at once, one that dies
 * (stops renewing without resigning) within its TTL plus a renewal
 * interval; terms grow with each new leader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "store/etcd_election.h"
#include "store_etcd_env.h"

#define CANDIDATES 3
#define TTL_S      2

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits up to seconds until exactly one live candidate leads; its index. */
static int wait_for_one_leader(struct steep_etcd_election **c, double seconds)
{
    double until = now_s() + seconds;
    for (;;) {
        int leaders = 0, which = -1;
        for (int i = 0; i < CANDIDATES; i++) {
            if (c[i] && steep_etcd_election_is_leader(c[i])) {
                leaders++;
                which = i;
            }
        }
        assert_true(leaders <= 1);
        if (leaders == 1)
            return which;
        if (now_s() > until)
            fail_msg("no leader within %.1f s", seconds);
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

static void test_election(void **state)
{
    struct steep_etcd_config config;
    const char *endpoints[STEEP_ETCD_MAX_ENDPOINTS];
    char *copy = NULL, *prefix = test_etcd_prefix("election"), key[160], id[32];
    test_etcd_config(&config, &copy, endpoints);
    snprintf(key, sizeof key, "%sscheduler-leader", prefix);
    struct steep_etcd_election *c[CANDIDATES] = {0};
    for (int i = 0; i < CANDIDATES; i++) {
        snprintf(id, sizeof id, "scheduler-%d", i);
        if (steep_etcd_election_start(&config, key, id, TTL_S, &c[i]) != 0)
            fail_msg("start: %s", steep_error_get());
    }
    int first = wait_for_one_leader(c, 5);
    int64_t term1 = steep_etcd_election_term(c[first]);
    assert_true(term1 > 0);
    /* everyone learns who leads (followers within a renewal interval) */
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    char holder[128];
    for (int i = 0; i < CANDIDATES; i++) {
        snprintf(id, sizeof id, "scheduler-%d", first);
        assert_string_equal(steep_etcd_election_leader(c[i], holder, sizeof holder), id);
    }

    /* resigning hands over within a renewal interval or two */
    double start = now_s();
    steep_etcd_election_stop(c[first]);
    c[first] = NULL;
    int second = wait_for_one_leader(c, 3);
    printf("resigned leader replaced in %.2f s\n", now_s() - start);
    assert_true(steep_etcd_election_term(c[second]) > term1);

    /* a leader that dies is replaced once its lease runs out */
    start = now_s();
    steep_etcd_election_abandon(c[second]);
    c[second] = NULL;
    int third = wait_for_one_leader(c, TTL_S + 3);
    double took = now_s() - start;
    printf("dead leader replaced in %.2f s (TTL %d s)\n", took, TTL_S);
    assert_true(took >= TTL_S * 0.5); /* it waited for the lease, not a resignation */
    for (int i = 0; i < CANDIDATES; i++)
        steep_etcd_election_stop(c[i]);
    (void)third;
    free(copy);
    free(prefix);
}

int main(void)
{
    if (!test_etcd_enabled()) {
        fprintf(stderr, "test_etcd_election needs STEEP_TEST_ETCD_ENDPOINTS (run it through "
                        "test_store_etcd.sh)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_election)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
