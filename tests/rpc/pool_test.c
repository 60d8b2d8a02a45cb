/*
 * The handler pool grows while all its workers are blocked (so long polls
 * never starve other calls), never beyond its cap, runs every submitted
 * call exactly once, and shrinks back to its minimum when idle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc/internal.h"

static atomic_int ran, running, most_running;

static void slow_run(struct steep_rpc_call *call)
{
    int now = atomic_fetch_add(&running, 1) + 1;
    int seen = atomic_load(&most_running);
    while (now > seen && !atomic_compare_exchange_weak(&most_running, &seen, now)) {
    }
    usleep(200 * 1000);
    atomic_fetch_sub(&running, 1);
    atomic_fetch_add(&ran, 1);
}

static void test_grows_when_busy_and_shrinks_when_idle(void **state)
{
    struct steep_rpc_pool *pool = steep_rpc_pool_new(1, 6, 100, 100, slow_run);
    assert_non_null(pool);
    assert_int_equal(steep_rpc_pool_threads(pool), 1);
    struct steep_rpc_call calls[10] = {0};
    int64_t start = steep_rpc_now_ms();
    for (int i = 0; i < 10; i++)
        assert_int_equal(steep_rpc_pool_submit(pool, &calls[i], false), 0);
    assert_int_equal(steep_rpc_pool_threads(pool), 6); /* capped */
    while (atomic_load(&ran) < 10)
        usleep(10 * 1000);
    int64_t took = steep_rpc_now_ms() - start;
    assert_int_equal(atomic_load(&most_running), 6);
    assert_true(took >= 400 && took < 1500); /* two rounds of 200 ms, not ten */
    for (int i = 0; i < 100 && steep_rpc_pool_threads(pool) > 1; i++)
        usleep(20 * 1000);
    assert_int_equal(steep_rpc_pool_threads(pool), 1);
    /* Still works after shrinking. */
    assert_int_equal(steep_rpc_pool_submit(pool, &calls[0], false), 0);
    while (atomic_load(&ran) < 11)
        usleep(10 * 1000);
    steep_rpc_pool_free(pool);
}

static void test_free_waits_for_queued_work(void **state)
{
    atomic_store(&ran, 0);
    struct steep_rpc_pool *pool = steep_rpc_pool_new(2, 2, 1000, 100, slow_run);
    struct steep_rpc_call calls[4] = {0};
    for (int i = 0; i < 4; i++)
        steep_rpc_pool_submit(pool, &calls[i], false);
    steep_rpc_pool_free(pool);
    assert_int_equal(atomic_load(&ran), 4);
}

/* Issue 14 item 8: at max_threads busy, max_queued calls wait and more are
 * refused (the server answers them RESOURCE_EXHAUSTED); forced submissions
 * (continuations of held calls) still pass; the refused ones never ran. */
static void test_queue_is_bounded(void **state)
{
    atomic_store(&ran, 0);
    struct steep_rpc_pool *pool = steep_rpc_pool_new(1, 3, 1000, 4, slow_run);
    struct steep_rpc_call calls[12] = {0};
    int accepted = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        if (i == 3)
            usleep(100 * 1000); /* the 3 threads took the first 3 calls */
        if (steep_rpc_pool_submit(pool, &calls[i], false) == 0)
            accepted++;
        else
            refused++;
    }
    assert_int_equal(accepted, 3 + 4); /* 3 threads busy, 4 waiting */
    assert_int_equal(refused, 3);
    assert_int_equal(steep_rpc_pool_threads(pool), 3);
    assert_int_equal(steep_rpc_pool_submit(pool, &calls[10], true), 0);
    steep_rpc_pool_free(pool);
    assert_int_equal(atomic_load(&ran), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_when_busy_and_shrinks_when_idle),
        cmocka_unit_test(test_free_waits_for_queued_work),
        cmocka_unit_test(test_queue_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
