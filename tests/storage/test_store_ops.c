/*
 * Engine unit tests: every operation of lib/store/store.h, prefix-scan edge
 * cases, FIFO order (also across close/reopen), compare-and-swap, batch
 * atomicity, and concurrent writers through the group committer.
 *
 * The same suite runs on both back-ends: on LevelDB in a temporary
 * directory by default, and on etcd when STEEP_TEST_ETCD_ENDPOINTS names a
 * cluster (test_store_etcd.sh starts one; STEEP_TEST_ETCD_CA, _CERT and _KEY
 * give its TLS files), each test under a key prefix of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "helpers.h"
#include "store/etcd.h"
#include "store/store.h"
#include "store_etcd_env.h"

static const uint8_t test_key[STEEP_STORE_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

struct fixture {
    char *dir;    /* LevelDB */
    char *prefix; /* etcd */
    struct steep_store *store;
};

static int open_store(struct fixture *f, int flags)
{
    if (f->prefix)
        return test_etcd_open(f->prefix, test_key, flags, &f->store);
    return steep_store_open(f->dir, test_key, flags, &f->store);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (test_etcd_enabled())
        f->prefix = test_etcd_prefix("store-ops");
    else
        f->dir = test_temp_dir("store-ops");
    assert_true(f->dir || f->prefix);
    if (open_store(f, STEEP_STORE_CREATE) != 0)
        fail_msg("open: %s", steep_error_get());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    steep_store_close(f->store);
    if (f->dir)
        test_remove_tree(f->dir);
    free(f->dir);
    free(f->prefix);
    free(f);
    return 0;
}

static void reopen(struct fixture *f)
{
    steep_store_close(f->store);
    f->store = NULL;
    if (open_store(f, 0) != 0)
        fail_msg("reopen: %s", steep_error_get());
}

static void put_string(struct steep_store *s, const char *key, const char *value)
{
    assert_int_equal(steep_store_put(s, key, strlen(key), value, strlen(value)), STEEP_STORE_OK);
}

static void expect_record(struct steep_store *s, const void *key, size_t key_len, const char *want)
{
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = steep_store_get(s, key, key_len, &value);
    if (!want) {
        assert_int_equal(rc, STEEP_STORE_NOT_FOUND);
    } else {
        assert_int_equal(rc, STEEP_STORE_OK);
        assert_int_equal(value.len, strlen(want));
        assert_memory_equal(value.data, want, value.len);
    }
    steep_buf_free(&value);
}

static void test_get_put_delete(void **state)
{
    struct fixture *f = *state;
    expect_record(f->store, "a", 1, NULL);
    put_string(f->store, "a", "one");
    expect_record(f->store, "a", 1, "one");
    put_string(f->store, "a", "two");
    expect_record(f->store, "a", 1, "two");
    assert_int_equal(steep_store_put(f->store, "empty", 5, "", 0), STEEP_STORE_OK);
    expect_record(f->store, "empty", 5, "");
    assert_int_equal(steep_store_delete(f->store, "a", 1), STEEP_STORE_OK);
    expect_record(f->store, "a", 1, NULL);
    assert_int_equal(steep_store_delete(f->store, "never", 5), STEEP_STORE_OK);
    /* binary keys and values */
    const uint8_t key[] = {0, 0xff, 0, 0xfe};
    const uint8_t val[] = {0xff, 0, 1};
    struct steep_buf got = STEEP_BUF_INIT;
    assert_int_equal(steep_store_put(f->store, key, sizeof key, val, sizeof val), 0);
    assert_int_equal(steep_store_get(f->store, key, sizeof key, &got), STEEP_STORE_OK);
    assert_int_equal(got.len, sizeof val);
    assert_memory_equal(got.data, val, sizeof val);
    steep_buf_free(&got);
    reopen(f);
    expect_record(f->store, "empty", 5, "");
    expect_record(f->store, "a", 1, NULL);
}

static void test_empty_key_refused(void **state)
{
    struct fixture *f = *state;
    struct steep_buf value = STEEP_BUF_INIT;
    assert_int_equal(steep_store_put(f->store, "", 0, "x", 1), STEEP_STORE_ERROR);
    assert_string_equal(steep_error_get(), "empty key");
    assert_int_equal(steep_store_get(f->store, "", 0, &value), STEEP_STORE_ERROR);
    assert_int_equal(steep_store_delete(f->store, "", 0), STEEP_STORE_ERROR);
    assert_int_equal(steep_store_enqueue(f->store, "", 0, "x", 1), STEEP_STORE_ERROR);
    assert_int_equal(steep_store_dequeue(f->store, "", 0, &value), STEEP_STORE_ERROR);
    steep_buf_free(&value);
}

struct collected {
    char keys[64][32];
    char values[64][32];
    size_t count;
    size_t stop_after;
};

static int collect(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                   size_t value_len)
{
    struct collected *c = arg;
    assert_true(c->count < 64 && key_len < 32 && value_len < 32);
    memcpy(c->keys[c->count], key, key_len);
    c->keys[c->count][key_len] = '\0';
    memcpy(c->values[c->count], value, value_len);
    c->values[c->count][value_len] = '\0';
    c->count++;
    return c->stop_after && c->count == c->stop_after ? 1 : 0;
}

static void scan_expect(struct steep_store *s, const char *prefix, const char *const *want)
{
    struct collected c = {0};
    assert_int_equal(steep_store_scan(s, prefix, strlen(prefix), collect, &c), 0);
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(c.count, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(c.keys[i], want[i]);
}

static void test_scan_prefixes(void **state)
{
    struct fixture *f = *state;
    put_string(f->store, "task-2", "v2");
    put_string(f->store, "task-1", "v1");
    put_string(f->store, "task", "bare");
    put_string(f->store, "tasks-1", "other table");
    put_string(f->store, "task-\xff", "ff");
    put_string(f->store, "task-\xff\xff", "ffff");
    put_string(f->store, "tas", "short");
    put_string(f->store, "\xff", "top");
    /* queues and the marker are not in the user key space */
    assert_int_equal(steep_store_enqueue(f->store, "task-q", 6, "elem", 4), STEEP_STORE_OK);

    scan_expect(f->store, "task-",
                (const char *const[]){"task-1", "task-2", "task-\xff", "task-\xff\xff", NULL});
    scan_expect(f->store, "task",
                (const char *const[]){"task", "task-1", "task-2", "task-\xff", "task-\xff\xff",
                                      "tasks-1", NULL});
    scan_expect(f->store, "task-\xff", (const char *const[]){"task-\xff", "task-\xff\xff", NULL});
    scan_expect(f->store, "\xff", (const char *const[]){"\xff", NULL});
    scan_expect(f->store, "nothing", (const char *const[]){NULL});
    scan_expect(f->store, "",
                (const char *const[]){"tas", "task", "task-1", "task-2", "task-\xff",
                                      "task-\xff\xff", "tasks-1", "\xff", NULL});

    struct collected c = {.stop_after = 2};
    assert_int_equal(steep_store_scan(f->store, "task", 4, collect, &c), 0);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.values[1], "v1");
}

static int fail_scan(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                     size_t value_len)
{
    return steep_error_set("stop here");
}

static void test_scan_callback_failure(void **state)
{
    struct fixture *f = *state;
    put_string(f->store, "k", "v");
    assert_int_equal(steep_store_scan(f->store, "", 0, fail_scan, NULL), -1);
    assert_string_equal(steep_error_get(), "stop here");
}

static void dequeue_expect(struct steep_store *s, const char *queue, const char *want)
{
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = steep_store_dequeue(s, queue, strlen(queue), &value);
    if (!want) {
        assert_int_equal(rc, STEEP_STORE_EMPTY);
    } else {
        assert_int_equal(rc, STEEP_STORE_OK);
        assert_int_equal(value.len, strlen(want));
        assert_memory_equal(value.data, want, value.len);
    }
    steep_buf_free(&value);
}

static void enqueue_string(struct steep_store *s, const char *queue, const char *value)
{
    assert_int_equal(steep_store_enqueue(s, queue, strlen(queue), value, strlen(value)),
                     STEEP_STORE_OK);
}

static void test_queue_fifo(void **state)
{
    struct fixture *f = *state;
    dequeue_expect(f->store, "staged-task", NULL);
    char item[16];
    for (int i = 0; i < 20; i++) {
        snprintf(item, sizeof item, "item%d", i);
        enqueue_string(f->store, "staged-task", item);
        if (i % 3 == 0)
            enqueue_string(f->store, "staged", item); /* a queue named by a prefix */
    }
    put_string(f->store, "staged-task", "a record, not the queue");
    for (int i = 0; i < 20; i++) {
        snprintf(item, sizeof item, "item%d", i);
        dequeue_expect(f->store, "staged-task", item);
    }
    dequeue_expect(f->store, "staged-task", NULL);
    for (int i = 0; i < 20; i += 3) {
        snprintf(item, sizeof item, "item%d", i);
        dequeue_expect(f->store, "staged", item);
    }
    dequeue_expect(f->store, "staged", NULL);
    expect_record(f->store, "staged-task", 11, "a record, not the queue");
    /* a drained queue works again */
    enqueue_string(f->store, "staged-task", "again");
    dequeue_expect(f->store, "staged-task", "again");
    dequeue_expect(f->store, "staged-task", NULL);
}

static void test_queue_fifo_across_reopen(void **state)
{
    struct fixture *f = *state;
    enqueue_string(f->store, "q", "first");
    enqueue_string(f->store, "q", "second");
    enqueue_string(f->store, "q", "third");
    dequeue_expect(f->store, "q", "first");
    reopen(f);
    dequeue_expect(f->store, "q", "second");
    enqueue_string(f->store, "q", "fourth");
    reopen(f);
    dequeue_expect(f->store, "q", "third");
    dequeue_expect(f->store, "q", "fourth");
    dequeue_expect(f->store, "q", NULL);
}

static void test_compare_and_swap(void **state)
{
    struct fixture *f = *state;
    struct steep_buf current = STEEP_BUF_INIT;
    struct steep_store_cas cas = {.key = "lock",
                                  .key_len = 4,
                                  .expect_absent = true,
                                  .value = "owner-a",
                                  .value_len = 7,
                                  .current = &current};
    assert_int_equal(steep_store_compare_and_swap(f->store, &cas), STEEP_STORE_OK);
    assert_true(cas.swapped);
    assert_true(cas.current_absent);
    cas.value = "owner-b";
    assert_int_equal(steep_store_compare_and_swap(f->store, &cas), STEEP_STORE_OK);
    assert_false(cas.swapped);
    assert_false(cas.current_absent);
    assert_int_equal(current.len, 7);
    assert_memory_equal(current.data, "owner-a", 7);
    expect_record(f->store, "lock", 4, "owner-a");

    cas.expect_absent = false;
    cas.expected = "owner-x";
    cas.expected_len = 7;
    assert_int_equal(steep_store_compare_and_swap(f->store, &cas), STEEP_STORE_OK);
    assert_false(cas.swapped);
    expect_record(f->store, "lock", 4, "owner-a");
    cas.expected = "owner-a";
    assert_int_equal(steep_store_compare_and_swap(f->store, &cas), STEEP_STORE_OK);
    assert_true(cas.swapped);
    assert_memory_equal(current.data, "owner-a", 7);
    expect_record(f->store, "lock", 4, "owner-b");

    /* expecting a value on an absent key fails */
    struct steep_store_cas absent = {
        .key = "none", .key_len = 4, .expected = "", .value = "v", .value_len = 1};
    assert_int_equal(steep_store_compare_and_swap(f->store, &absent), STEEP_STORE_OK);
    assert_false(absent.swapped);
    assert_true(absent.current_absent);
    expect_record(f->store, "none", 4, NULL);

    /* writes on other keys ride with the swap, and only when it swaps; the
     * later of two ops on one key wins (etcd: one write per key and txn) */
    put_string(f->store, "then-gone", "x");
    put_string(f->store, "then-old", "1");
    struct steep_store_op then[] = {{false, "then-new", 8, "new", 3},
                                    {true, "then-gone", 9, NULL, 0},
                                    {false, "then-old", 8, "2", 1},
                                    {false, "then-old", 8, "3", 1}};
    cas.then = then;
    cas.n_then = 4;
    cas.expected = "owner-a"; /* stale: no swap, no ops */
    cas.value = "owner-c";
    assert_int_equal(steep_store_compare_and_swap(f->store, &cas), STEEP_STORE_OK);
    assert_false(cas.swapped);
    expect_record(f->store, "then-new", 8, NULL);
    expect_record(f->store, "then-gone", 9, "x");
    expect_record(f->store, "then-old", 8, "1");
    cas.expected = "owner-b";
    assert_int_equal(steep_store_compare_and_swap(f->store, &cas), STEEP_STORE_OK);
    assert_true(cas.swapped);
    expect_record(f->store, "lock", 4, "owner-c");
    expect_record(f->store, "then-new", 8, "new");
    expect_record(f->store, "then-gone", 9, NULL);
    expect_record(f->store, "then-old", 8, "3");
    /* and again over keys the first swap wrote (their revisions moved) */
    put_string(f->store, "then-new", "moved");
    cas.expected = "owner-c";
    cas.value = "owner-d";
    cas.n_then = 1;
    assert_int_equal(steep_store_compare_and_swap(f->store, &cas), STEEP_STORE_OK);
    assert_true(cas.swapped);
    expect_record(f->store, "then-new", 8, "new");
    steep_buf_free(&current);
}

static void test_batch(void **state)
{
    struct fixture *f = *state;
    put_string(f->store, "old", "x");
    struct steep_store_op ops[] = {
        {false, "b1", 2, "one", 3},
        {true, "old", 3, NULL, 0},
        {false, "b2", 2, "two", 3},
        {false, "b1", 2, "one again", 9}, /* later op on the same key wins */
    };
    assert_int_equal(steep_store_batch(f->store, ops, 4), STEEP_STORE_OK);
    expect_record(f->store, "b1", 2, "one again");
    expect_record(f->store, "b2", 2, "two");
    expect_record(f->store, "old", 3, NULL);

    /* one invalid op: nothing of the batch is applied */
    struct steep_store_op bad[] = {{false, "c1", 2, "x", 1}, {false, "", 0, "y", 1}};
    assert_int_equal(steep_store_batch(f->store, bad, 2), STEEP_STORE_ERROR);
    expect_record(f->store, "c1", 2, NULL);
    assert_int_equal(steep_store_batch(f->store, NULL, 0), STEEP_STORE_OK);
}

/* ---- concurrency ---- */

#define WRITERS        16
#define WRITES_EACH    60
#define CAS_THREADS    8
#define CAS_INCREMENTS 25

struct worker {
    struct steep_store *store;
    int id;
    int failures;
};

static void *write_storm(void *arg)
{
    struct worker *w = arg;
    char key[32], value[32];
    for (int i = 0; i < WRITES_EACH; i++) {
        snprintf(key, sizeof key, "w%02d-%04d", w->id, i);
        snprintf(value, sizeof value, "value-%d-%d", w->id, i);
        if (steep_store_put(w->store, key, strlen(key), value, strlen(value)) != 0)
            w->failures++;
        if (steep_store_enqueue(w->store, "storm", 5, key, strlen(key)) != 0)
            w->failures++;
    }
    return NULL;
}

static void *cas_increment(void *arg)
{
    struct worker *w = arg;
    struct steep_buf current = STEEP_BUF_INIT;
    for (int i = 0; i < CAS_INCREMENTS; i++) {
        for (;;) {
            int found = steep_store_get(w->store, "counter", 7, &current);
            char now[16] = "", next[16];
            if (found == STEEP_STORE_OK)
                snprintf(now, sizeof now, "%.*s", (int)current.len, (char *)current.data);
            snprintf(next, sizeof next, "%d", found == STEEP_STORE_OK ? atoi(now) + 1 : 1);
            struct steep_store_cas cas = {.key = "counter",
                                          .key_len = 7,
                                          .expect_absent = found == STEEP_STORE_NOT_FOUND,
                                          .expected = now,
                                          .expected_len = strlen(now),
                                          .value = next,
                                          .value_len = strlen(next)};
            if (steep_store_compare_and_swap(w->store, &cas) != 0) {
                w->failures++;
                break;
            }
            if (cas.swapped)
                break;
        }
    }
    steep_buf_free(&current);
    return NULL;
}

static void run_threads(struct steep_store *store, int n, void *(*fn)(void *))
{
    pthread_t threads[WRITERS];
    struct worker workers[WRITERS];
    for (int i = 0; i < n; i++) {
        workers[i] = (struct worker){store, i, 0};
        pthread_create(&threads[i], NULL, fn, &workers[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(workers[i].failures, 0);
    }
}

static void test_concurrent_writers(void **state)
{
    struct fixture *f = *state;
    run_threads(f->store, WRITERS, write_storm);
    run_threads(f->store, CAS_THREADS, cas_increment);
    reopen(f);
    char key[32], value[32];
    for (int w = 0; w < WRITERS; w++) {
        for (int i = 0; i < WRITES_EACH; i++) {
            snprintf(key, sizeof key, "w%02d-%04d", w, i);
            snprintf(value, sizeof value, "value-%d-%d", w, i);
            expect_record(f->store, key, strlen(key), value);
        }
    }
    char counter[16];
    snprintf(counter, sizeof counter, "%d", CAS_THREADS * CAS_INCREMENTS);
    expect_record(f->store, "counter", 7, counter);
    /* every element once; each writer's elements in its own order */
    uint8_t *seen = calloc(WRITERS * WRITES_EACH, 1);
    int last[WRITERS];
    memset(last, -1, sizeof last);
    struct steep_buf value_buf = STEEP_BUF_INIT;
    for (int n = 0; n < WRITERS * WRITES_EACH; n++) {
        assert_int_equal(steep_store_dequeue(f->store, "storm", 5, &value_buf), STEEP_STORE_OK);
        int w, i;
        assert_int_equal(sscanf((char *)value_buf.data, "w%d-%d", &w, &i), 2);
        assert_false(seen[w * WRITES_EACH + i]);
        seen[w * WRITES_EACH + i] = 1;
        assert_true(i > last[w]);
        last[w] = i;
    }
    assert_int_equal(steep_store_dequeue(f->store, "storm", 5, &value_buf), STEEP_STORE_EMPTY);
    steep_buf_free(&value_buf);
    free(seen);
}

/* ---- wait_change: the long poll behind GetTask's steep-wait-ms ---- */

struct delayed_put {
    struct steep_store *store;
    const char *key, *value;
    int delay_ms;
};

static void *delayed_put_main(void *arg)
{
    struct delayed_put *p = arg;
    struct timespec ts = {p->delay_ms / 1000, (long)(p->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    /* an unrelated key first: it must not end the wait */
    assert_int_equal(steep_store_put(p->store, "other", 5, "x", 1), STEEP_STORE_OK);
    nanosleep(&ts, NULL);
    assert_int_equal(steep_store_put(p->store, p->key, strlen(p->key), p->value, strlen(p->value)),
                     STEEP_STORE_OK);
    return NULL;
}

static double elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) * 1e3 +
           (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

static void test_wait_change(void **state)
{
    struct fixture *f = *state;
    bool changed = true;
    struct timespec start;
    /* absent and known absent: times out */
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(steep_store_wait_change(f->store, "task-1", 6, true, NULL, 0, 50, &changed),
                     STEEP_STORE_OK);
    assert_false(changed);
    assert_true(elapsed_ms(&start) >= 45);
    /* differs on entry: at once */
    put_string(f->store, "task-1", "Staged");
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(steep_store_wait_change(f->store, "task-1", 6, true, NULL, 0, 5000, &changed),
                     STEEP_STORE_OK);
    assert_true(changed);
    assert_int_equal(
        steep_store_wait_change(f->store, "task-1", 6, false, "Running", 7, 5000, &changed),
        STEEP_STORE_OK);
    assert_true(changed);
    assert_true(elapsed_ms(&start) < 1000);
    /* the record still equals what the caller knows: times out */
    assert_int_equal(
        steep_store_wait_change(f->store, "task-1", 6, false, "Staged", 6, 30, &changed),
        STEEP_STORE_OK);
    assert_false(changed);
    /* a later write of the key ends the wait, an unrelated one does not */
    struct delayed_put put = {f->store, "task-1", "Finished", 100};
    pthread_t thread;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(pthread_create(&thread, NULL, delayed_put_main, &put), 0);
    assert_int_equal(
        steep_store_wait_change(f->store, "task-1", 6, false, "Staged", 6, 10000, &changed),
        STEEP_STORE_OK);
    double waited = elapsed_ms(&start);
    pthread_join(thread, NULL);
    assert_true(changed);
    assert_true(waited >= 190);
    assert_true(waited < 5000);
    expect_record(f->store, "task-1", 6, "Finished");
    /* a delete is a change too */
    struct steep_store_op del = {true, "task-1", 6, NULL, 0};
    assert_int_equal(steep_store_batch(f->store, &del, 1), STEEP_STORE_OK);
    assert_int_equal(
        steep_store_wait_change(f->store, "task-1", 6, false, "Finished", 8, 5000, &changed),
        STEEP_STORE_OK);
    assert_true(changed);
    assert_int_equal(steep_store_wait_change(f->store, "", 0, true, NULL, 0, 10, &changed),
                     STEEP_STORE_ERROR);
}

/* ---- watch: the thread-less wake-up behind held WaitChanges ---- */

struct wakes {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int count;
};

static void count_wake(void *arg)
{
    struct wakes *w = arg;
    pthread_mutex_lock(&w->lock);
    w->count++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* The wake count once it has stayed put for settle_ms (at most 5 s). */
static int wakes_after(struct wakes *w, int at_least, int settle_ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pthread_mutex_lock(&w->lock);
    while (w->count < at_least && elapsed_ms(&start) < 5000) {
        pthread_mutex_unlock(&w->lock);
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    nanosleep(&(struct timespec){settle_ms / 1000, (long)(settle_ms % 1000) * 1000000L}, NULL);
    pthread_mutex_lock(&w->lock);
    int count = w->count;
    pthread_mutex_unlock(&w->lock);
    return count;
}

static void test_watch(void **state)
{
    struct fixture *f = *state;
    struct wakes w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct steep_store_watch *watch = steep_store_watch(f->store, "task-w", 6, count_wake, &w);
    assert_non_null(watch);
    /* a start-up wake (etcd: the engine's own watch began) may come first */
    int before = wakes_after(&w, 0, 300);
    put_string(f->store, "task-w", "Staged");
    int after_put = wakes_after(&w, before + 1, 100);
    assert_true(after_put > before);
    /* an unrelated key wakes nothing */
    put_string(f->store, "task-other", "Staged");
    assert_int_equal(wakes_after(&w, 0, 300), after_put);
    /* a delete wakes it; after unwatch nothing does */
    struct steep_store_op del = {true, "task-w", 6, NULL, 0};
    assert_int_equal(steep_store_batch(f->store, &del, 1), STEEP_STORE_OK);
    int after_delete = wakes_after(&w, after_put + 1, 100);
    assert_true(after_delete > after_put);
    steep_store_unwatch(f->store, watch);
    put_string(f->store, "task-w", "Finished");
    assert_int_equal(wakes_after(&w, 0, 300), after_delete);
    assert_null(steep_store_watch(f->store, "", 0, count_wake, &w)); /* an empty key */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_put_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_prefixes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_callback_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_fifo_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compare_and_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
