/*
 * The bounded argon2 pool and the per-source throttle of
 * steep-authentication (issue 14, items 8 and 9), directly and over RPC:
 * a source's share and the queue are bounded (excess refused at once),
 * free threads serve the sources in turn and one source runs at most half
 * of them, a
 * call whose client went away is never hashed, a flood of concurrent logins
 * gets RESOURCE_EXHAUSTED instead of one argon2 each, and one source's
 * failures do not throttle another source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth_harness.h"
#include "authentication/hash_pool.h"
#include "authentication/throttle.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* A job that blocks until released and records when it ran. */
static atomic_int release, order, running, peak;

struct job {
    struct steep_auth_pool *pool;
    uint8_t source[STEEP_AUTH_SOURCE_LEN];
    int ran_as; /* 1-based order of running; 0: never ran */
    bool cancel;
    enum steep_auth_pool_result result;
    pthread_t thread;
};

static void blocking(void *arg)
{
    struct job *job = arg;
    job->ran_as = atomic_fetch_add(&order, 1) + 1;
    int now = atomic_fetch_add(&running, 1) + 1;
    int seen = atomic_load(&peak);
    while (now > seen && !atomic_compare_exchange_weak(&peak, &seen, now))
        ;
    while (!atomic_load(&release))
        sleep_ms(1);
    atomic_fetch_sub(&running, 1);
}

static bool job_cancelled(const void *call)
{
    return ((const struct job *)call)->cancel;
}

static void *submit(void *arg)
{
    struct job *job = arg;
    job->result = steep_auth_pool_run(job->pool, job->source, job_cancelled, job, blocking, job);
    return NULL;
}

static void start(struct job *job, struct steep_auth_pool *pool, uint8_t source)
{
    memset(job, 0, sizeof *job);
    job->pool = pool;
    job->source[15] = source;
    assert_int_equal(pthread_create(&job->thread, NULL, submit, job), 0);
    sleep_ms(30); /* queued in this order */
}

static void test_pool_bounds_and_fairness(void **state)
{
    atomic_store(&release, 0);
    atomic_store(&order, 0);
    atomic_store(&peak, 0);
    struct steep_auth_pool *pool = steep_auth_pool_new(&(struct steep_auth_pool_config){1, 3, 3});
    assert_non_null(pool);
    struct job a[3], b, c, extra;
    for (int i = 0; i < 3; i++)
        start(&a[i], pool, 'A'); /* a[0] runs, a[1], a[2] wait */
    /* source A has its 3: a fourth is refused at once, without a thread */
    memset(&extra, 0, sizeof extra);
    extra.pool = pool;
    extra.source[15] = 'A';
    assert_int_equal(steep_auth_pool_run(pool, extra.source, NULL, NULL, blocking, &extra),
                     STEEP_AUTH_POOL_BUSY);
    start(&b, pool, 'B'); /* queue: a1 a2 b: full */
    extra.source[15] = 'C';
    assert_int_equal(steep_auth_pool_run(pool, extra.source, NULL, NULL, blocking, &extra),
                     STEEP_AUTH_POOL_BUSY);
    atomic_store(&release, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(a[i].thread, NULL);
    pthread_join(b.thread, NULL);
    /* B came last but ran second: A had a hash running when the thread freed */
    assert_int_equal(a[0].ran_as, 1);
    assert_int_equal(b.ran_as, 2);
    assert_int_equal(a[1].ran_as, 3);
    assert_int_equal(a[2].ran_as, 4);
    assert_int_equal(atomic_load(&peak), 1);
    (void)c;
    struct steep_auth_pool_stats stats;
    steep_auth_pool_stats(pool, &stats);
    assert_int_equal(stats.ran, 4);
    assert_int_equal(stats.busy, 2);
    steep_auth_pool_free(pool);
}

/* One source runs at most half the threads: the other half stays free. */
static void test_pool_keeps_threads_for_others(void **state)
{
    atomic_store(&release, 0);
    atomic_store(&order, 0);
    atomic_store(&peak, 0);
    struct steep_auth_pool *pool = steep_auth_pool_new(&(struct steep_auth_pool_config){2, 8, 4});
    assert_non_null(pool);
    struct job a[3], b;
    for (int i = 0; i < 3; i++)
        start(&a[i], pool, 'A');
    assert_int_equal(atomic_load(&running), 1); /* a thread idles, kept for others */
    start(&b, pool, 'B');
    assert_int_equal(b.ran_as, 2); /* at once, while A's first still runs */
    assert_int_equal(atomic_load(&running), 2);
    atomic_store(&release, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(a[i].thread, NULL);
    pthread_join(b.thread, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(a[i].result, STEEP_AUTH_POOL_DONE);
    steep_auth_pool_free(pool);
}

static void test_pool_drops_cancelled(void **state)
{
    atomic_store(&release, 0);
    atomic_store(&order, 0);
    struct steep_auth_pool *pool = steep_auth_pool_new(&(struct steep_auth_pool_config){1, 8, 8});
    assert_non_null(pool);
    struct job first, gone;
    start(&first, pool, 'A');
    start(&gone, pool, 'A');
    gone.cancel = true; /* the client reset its stream while waiting */
    sleep_ms(120);
    /* it left the queue on its own, before any thread was free */
    assert_int_equal(pthread_join(gone.thread, NULL), 0);
    assert_int_equal(gone.result, STEEP_AUTH_POOL_CANCELLED);
    atomic_store(&release, 1);
    pthread_join(first.thread, NULL);
    assert_int_equal(first.result, STEEP_AUTH_POOL_DONE);
    assert_int_equal(gone.ran_as, 0);
    struct steep_auth_pool_stats stats;
    steep_auth_pool_stats(pool, &stats);
    assert_int_equal(stats.ran, 1);
    assert_int_equal(stats.cancelled, 1);
    steep_auth_pool_free(pool);
}

static void test_throttle_per_source(void **state)
{
    struct steep_auth_throttle *throttle = steep_auth_throttle_new(1000, 8000, 3);
    assert_non_null(throttle);
    uint8_t attacker[STEEP_AUTH_SOURCE_LEN] = {0}, owner[STEEP_AUTH_SOURCE_LEN] = {0};
    attacker[15] = 2;
    owner[15] = 1;
    /* the first 3 failures are free */
    for (int i = 0; i < 3; i++)
        assert_int_equal(steep_auth_throttle_failure(throttle, attacker, "admin"), 0);
    assert_int_equal(steep_auth_throttle_wait_ms(throttle, attacker, "admin"), 0);
    assert_int_equal(steep_auth_throttle_failure(throttle, attacker, "admin"), 1000);
    for (int i = 0; i < 20; i++)
        steep_auth_throttle_failure(throttle, attacker, "admin");
    assert_true(steep_auth_throttle_wait_ms(throttle, attacker, "admin") > 7000);
    /* the owner's source is not slowed by the attacker's failures */
    assert_int_equal(steep_auth_throttle_wait_ms(throttle, owner, "admin"), 0);
    /* nor another id from the attacker's source */
    assert_int_equal(steep_auth_throttle_wait_ms(throttle, attacker, "bob"), 0);
    steep_auth_throttle_success(throttle, owner, "admin");
    assert_true(steep_auth_throttle_wait_ms(throttle, attacker, "admin") > 7000);
    steep_auth_throttle_free(throttle);
}

/* ---- a login flood over RPC ---- */

#define FLOOD 48

struct flooder {
    struct auth_env *env;
    int index, code;
    pthread_t thread;
};

static void *flood_login(void *arg)
{
    struct flooder *f = arg;
    char id[32];
    snprintf(id, sizeof id, "nobody-%d", f->index); /* unknown ids: no throttle */
    struct auth_env mine = *f->env;                 /* own last_status; same server */
    f->code = auth_login(&mine, id, "guess", NULL);
    return NULL;
}

static void test_login_flood_refused(void **state)
{
    struct auth_env env;
    assert_int_equal(auth_env_start(&env), 0);
    /* a real cost per hash, one thread, a short queue */
    env.options.argon2 = (struct steep_auth_argon2){1, 4096, 1};
    env.options.pool = (struct steep_auth_pool_config){1, 4, 4};
    assert_int_equal(auth_env_restart(&env), 0);
    struct flooder flood[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        flood[i] = (struct flooder){.env = &env, .index = i};
        assert_int_equal(pthread_create(&flood[i].thread, NULL, flood_login, &flood[i]), 0);
    }
    int refused = 0, failed = 0;
    for (int i = 0; i < FLOOD; i++) {
        pthread_join(flood[i].thread, NULL);
        refused += flood[i].code == 8; /* RESOURCE_EXHAUSTED */
        failed += flood[i].code == 16;
    }
    print_message("flood of %d logins: %d checked, %d refused\n", FLOOD, failed, refused);
    assert_int_equal(refused + failed, FLOOD);
    assert_true(refused > 0);
    assert_true(failed >= 1);
    /* afterwards the service answers normally */
    assert_int_equal(auth_login(&env, "admin", "teaclave", NULL), 0);
    auth_env_destroy(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_bounds_and_fairness),
        cmocka_unit_test(test_pool_keeps_threads_for_others),
        cmocka_unit_test(test_pool_drops_cancelled),
        cmocka_unit_test(test_throttle_per_source),
        cmocka_unit_test(test_login_flood_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
