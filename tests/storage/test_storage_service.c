/*
 * steep-storage over RPC (in-process server, test TLS identity), through
 * the client library: the semantics and status codes of every RPC, the
 * argument limits, GetKeysByPrefix edge cases, concurrent clients on one
 * connection, and data surviving a restart of the service.
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
#include "server_helper.h"
#include "steep_storage.pb-c.h"

#define MAX_KEY   64
#define MAX_VALUE 1024

struct fixture {
    char *dir;
    struct test_storage_server server;
    struct steep_store_client *client;
};

static void start(struct fixture *f)
{
    assert_int_equal(test_storage_server_start(&f->server, f->dir, 0, MAX_KEY, MAX_VALUE), 0);
    f->client = test_storage_client(f->server.port);
    assert_non_null(f->client);
}

static void stop(struct fixture *f)
{
    steep_store_client_free(f->client);
    f->client = NULL;
    test_storage_server_stop(&f->server);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_temp_dir("storage-service");
    assert_non_null(f->dir);
    start(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    stop(f);
    test_remove_tree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void put(struct fixture *f, const char *key, const char *value)
{
    assert_int_equal(steep_store_client_put(f->client, key, strlen(key), value, strlen(value), 0),
                     STEEP_STORE_OK);
}

static void expect_record(struct fixture *f, const char *key, const char *want)
{
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = steep_store_client_get(f->client, key, strlen(key), &value, 0);
    if (!want) {
        assert_int_equal(rc, STEEP_STORE_NOT_FOUND);
        assert_int_equal(steep_store_client_last_code(), STEEP_GRPC_NOT_FOUND);
    } else {
        assert_int_equal(rc, STEEP_STORE_OK);
        assert_int_equal(value.len, strlen(want));
        assert_memory_equal(value.data, want, value.len);
    }
    steep_buf_free(&value);
}

static void expect_invalid(int rc, const char *message)
{
    assert_int_equal(rc, STEEP_STORE_ERROR);
    assert_int_equal(steep_store_client_last_code(), STEEP_GRPC_INVALID_ARGUMENT);
    if (!strstr(steep_error_get(), message))
        fail_msg("error '%s' lacks '%s'", steep_error_get(), message);
}

static void test_get_put_delete(void **state)
{
    struct fixture *f = *state;
    expect_record(f, "function-1", NULL);
    put(f, "function-1", "{\"name\":\"echo\"}");
    expect_record(f, "function-1", "{\"name\":\"echo\"}");
    put(f, "function-1", "v2");
    expect_record(f, "function-1", "v2");
    assert_int_equal(steep_store_client_put(f->client, "e", 1, "", 0, 0), STEEP_STORE_OK);
    expect_record(f, "e", "");
    assert_int_equal(steep_store_client_delete(f->client, "function-1", 10, 0), STEEP_STORE_OK);
    expect_record(f, "function-1", NULL);
    assert_int_equal(steep_store_client_delete(f->client, "absent", 6, 0), STEEP_STORE_OK);
}

static void test_queue(void **state)
{
    struct fixture *f = *state;
    struct steep_buf value = STEEP_BUF_INIT;
    assert_int_equal(steep_store_client_dequeue(f->client, "staged-task", 11, &value, 0),
                     STEEP_STORE_EMPTY);
    assert_int_equal(steep_store_client_last_code(), STEEP_GRPC_FAILED_PRECONDITION);
    for (int i = 0; i < 5; i++) {
        char item[8];
        snprintf(item, sizeof item, "t%d", i);
        assert_int_equal(steep_store_client_enqueue(f->client, "staged-task", 11, item, 2, 0), 0);
    }
    for (int i = 0; i < 5; i++) {
        char item[8];
        snprintf(item, sizeof item, "t%d", i);
        assert_int_equal(steep_store_client_dequeue(f->client, "staged-task", 11, &value, 0),
                         STEEP_STORE_OK);
        assert_int_equal(value.len, 2);
        assert_memory_equal(value.data, item, 2);
    }
    assert_int_equal(steep_store_client_dequeue(f->client, "staged-task", 11, &value, 0),
                     STEEP_STORE_EMPTY);
    steep_buf_free(&value);
}

struct key_list {
    char keys[16][MAX_KEY + 1];
    size_t count;
};

static int collect(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                   size_t value_len)
{
    struct key_list *list = arg;
    assert_null(value);
    assert_true(list->count < 16 && key_len <= MAX_KEY);
    memcpy(list->keys[list->count], key, key_len);
    list->keys[list->count++][key_len] = '\0';
    return 0;
}

static void expect_keys(struct fixture *f, const char *prefix, const char *const *want)
{
    struct key_list list = {0};
    assert_int_equal(
        steep_store_client_keys_by_prefix(f->client, prefix, strlen(prefix), collect, &list, 0),
        STEEP_STORE_OK);
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(list.count, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(list.keys[i], want[i]);
}

static void test_keys_by_prefix(void **state)
{
    struct fixture *f = *state;
    const char *keys[] = {"task-b", "task-a", "task",      "task-",   "tasks-1",
                          "tas",    "task.x", "task-\xff", "-lonely", "user-1"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put(f, keys[i], "v");
    assert_int_equal(steep_store_client_enqueue(f->client, "task-queue", 10, "x", 1, 0), 0);
    /* exactly prefix + "-", ascending: no "task", no "tasks-1", no "task.x", no queue */
    expect_keys(f, "task", (const char *const[]){"task-", "task-a", "task-b", "task-\xff", NULL});
    expect_keys(f, "tas", (const char *const[]){NULL});
    expect_keys(f, "user", (const char *const[]){"user-1", NULL});
    expect_keys(f, "", (const char *const[]){"-lonely", NULL});
    expect_keys(f, "nothing", (const char *const[]){NULL});
}

static void test_compare_and_swap_and_batch(void **state)
{
    struct fixture *f = *state;
    struct steep_buf current = STEEP_BUF_INIT;
    struct steep_store_cas cas = {.key = "usage-f",
                                  .key_len = 7,
                                  .expect_absent = true,
                                  .value = "1",
                                  .value_len = 1,
                                  .current = &current};
    assert_int_equal(steep_store_client_compare_and_swap(f->client, &cas, 0), STEEP_STORE_OK);
    assert_true(cas.swapped);
    assert_true(cas.current_absent);
    cas.value = "9";
    assert_int_equal(steep_store_client_compare_and_swap(f->client, &cas, 0), STEEP_STORE_OK);
    assert_false(cas.swapped);
    assert_false(cas.current_absent);
    assert_int_equal(current.len, 1);
    assert_memory_equal(current.data, "1", 1);
    cas.expect_absent = false;
    cas.expected = "1";
    cas.expected_len = 1;
    cas.value = "2";
    assert_int_equal(steep_store_client_compare_and_swap(f->client, &cas, 0), STEEP_STORE_OK);
    assert_true(cas.swapped);
    expect_record(f, "usage-f", "2");
    /* With ops on other keys: applied with the swap, and only if it swaps. */
    put(f, "then-gone", "x");
    struct steep_store_op then[] = {{false, "then-new", 8, "new", 3},
                                    {true, "then-gone", 9, NULL, 0}};
    cas.then = then;
    cas.n_then = 2;
    cas.expected = "1"; /* stale: no swap, no ops */
    cas.value = "3";
    assert_int_equal(steep_store_client_compare_and_swap(f->client, &cas, 0), STEEP_STORE_OK);
    assert_false(cas.swapped);
    expect_record(f, "then-new", NULL);
    expect_record(f, "then-gone", "x");
    cas.expected = "2";
    assert_int_equal(steep_store_client_compare_and_swap(f->client, &cas, 0), STEEP_STORE_OK);
    assert_true(cas.swapped);
    expect_record(f, "usage-f", "3");
    expect_record(f, "then-new", "new");
    expect_record(f, "then-gone", NULL);
    cas.then = NULL;
    cas.n_then = 0;
    steep_buf_free(&current);

    put(f, "gone", "x");
    struct steep_store_op ops[] = {
        {false, "b-1", 3, "one", 3}, {true, "gone", 4, NULL, 0}, {false, "b-2", 3, "two", 3}};
    assert_int_equal(steep_store_client_batch(f->client, ops, 3, 0), STEEP_STORE_OK);
    expect_record(f, "b-1", "one");
    expect_record(f, "b-2", "two");
    expect_record(f, "gone", NULL);
    struct steep_store_op bad[] = {{false, "c-1", 3, "x", 1}, {false, "", 0, "y", 1}};
    expect_invalid(steep_store_client_batch(f->client, bad, 2, 0), "ops[1] key is empty");
    expect_record(f, "c-1", NULL);
}

static void test_limits(void **state)
{
    struct fixture *f = *state;
    char big_key[MAX_KEY + 2];
    memset(big_key, 'k', sizeof big_key);
    static char big_value[MAX_VALUE + 1];
    memset(big_value, 'v', sizeof big_value);
    struct steep_buf value = STEEP_BUF_INIT;

    expect_invalid(steep_store_client_put(f->client, "", 0, "x", 1, 0), "key is empty");
    expect_invalid(steep_store_client_get(f->client, "", 0, &value, 0), "key is empty");
    expect_invalid(steep_store_client_delete(f->client, "", 0, 0), "key is empty");
    expect_invalid(steep_store_client_enqueue(f->client, "", 0, "x", 1, 0), "queue key is empty");
    expect_invalid(steep_store_client_dequeue(f->client, "", 0, &value, 0), "queue key is empty");
    expect_invalid(steep_store_client_put(f->client, big_key, MAX_KEY + 1, "x", 1, 0),
                   "key is 65 bytes; the limit is 64 ([storage] max_key_bytes)");
    expect_invalid(steep_store_client_put(f->client, "k", 1, big_value, MAX_VALUE + 1, 0),
                   "value is 1025 bytes; the limit is 1024 ([storage] max_value_bytes)");
    expect_invalid(steep_store_client_enqueue(f->client, "q", 1, big_value, MAX_VALUE + 1, 0),
                   "value is 1025 bytes");
    expect_invalid(steep_store_client_keys_by_prefix(f->client, big_key, MAX_KEY, collect, NULL, 0),
                   "prefix is 65 bytes");
    struct steep_store_cas cas = {.key = "k",
                                  .key_len = 1,
                                  .expect_absent = true,
                                  .value = big_value,
                                  .value_len = MAX_VALUE + 1};
    expect_invalid(steep_store_client_compare_and_swap(f->client, &cas, 0), "value is 1025");
    /* exactly at the limits is fine */
    assert_int_equal(steep_store_client_put(f->client, big_key, MAX_KEY, big_value, MAX_VALUE, 0),
                     STEEP_STORE_OK);
    assert_int_equal(steep_store_client_get(f->client, big_key, MAX_KEY, &value, 0),
                     STEEP_STORE_OK);
    assert_int_equal(value.len, MAX_VALUE);
    expect_record(f, "k", NULL);
    steep_buf_free(&value);
}

static void test_unreachable_service_is_an_error(void **state)
{
    struct fixture *f = *state;
    int port = f->server.port;
    stop(f);
    struct steep_store_client *client = test_storage_client(port);
    struct steep_buf value = STEEP_BUF_INIT;
    assert_int_equal(steep_store_client_get(client, "k", 1, &value, 500), STEEP_STORE_ERROR);
    assert_int_equal(steep_store_client_last_code(), STEEP_GRPC_UNAVAILABLE);
    assert_non_null(strstr(steep_error_get(), "storage Get: UNAVAILABLE"));
    steep_store_client_free(client);
    steep_buf_free(&value);
    start(f);
}

#define THREADS 8
#define EACH    40

struct worker {
    struct steep_store_client *client;
    int id;
    int failures;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    char key[32];
    for (int i = 0; i < EACH; i++) {
        snprintf(key, sizeof key, "c%d-%d", w->id, i);
        if (steep_store_client_put(w->client, key, strlen(key), key, strlen(key), 0) != 0 ||
            steep_store_client_enqueue(w->client, "shared", 6, key, strlen(key), 0) != 0)
            w->failures++;
    }
    return NULL;
}

static void test_concurrent_clients_and_restart(void **state)
{
    struct fixture *f = *state;
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){f->client, i, 0};
        pthread_create(&threads[i], NULL, worker_run, &workers[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(workers[i].failures, 0);
    }
    /* restart the service on the same directory: everything is still there */
    stop(f);
    start(f);
    char key[32];
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < EACH; i++) {
            snprintf(key, sizeof key, "c%d-%d", t, i);
            expect_record(f, key, key);
        }
    }
    struct steep_buf value = STEEP_BUF_INIT;
    int dequeued = 0;
    while (steep_store_client_dequeue(f->client, "shared", 6, &value, 0) == STEEP_STORE_OK)
        dequeued++;
    assert_int_equal(dequeued, THREADS * EACH);
    assert_int_equal(steep_store_client_last_code(), STEEP_GRPC_FAILED_PRECONDITION);
    steep_buf_free(&value);
}

/* ---- WaitChange: the long poll behind GetTask's steep-wait-ms ---- */

struct held_wait {
    struct steep_store_client *client;
    int rc;
    bool changed;
};

static void *held_wait_main(void *arg)
{
    struct held_wait *w = arg;
    w->rc = steep_store_client_wait_change(w->client, "task-w", 6, false, "Staged", 6, 20000,
                                           &w->changed);
    return NULL;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_wait_change(void **state)
{
    struct fixture *f = *state;
    bool changed = true;
    /* a record that differs already answers at once; an equal one times out */
    put(f, "task-w", "Staged");
    assert_int_equal(
        steep_store_client_wait_change(f->client, "task-w", 6, true, NULL, 0, 5000, &changed),
        STEEP_STORE_OK);
    assert_true(changed);
    double start = seconds_now();
    assert_int_equal(
        steep_store_client_wait_change(f->client, "task-w", 6, false, "Staged", 6, 300, &changed),
        STEEP_STORE_OK);
    assert_false(changed);
    assert_true(seconds_now() - start >= 0.25);
    /* a put of the key ends a held wait */
    struct held_wait w = {f->client, -1, false};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, held_wait_main, &w), 0);
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
    start = seconds_now();
    put(f, "task-w", "Finished");
    pthread_join(thread, NULL);
    assert_int_equal(w.rc, STEEP_STORE_OK);
    assert_true(w.changed);
    assert_true(seconds_now() - start < 2.0);
    /* an empty key is refused */
    expect_invalid(steep_store_client_wait_change(f->client, "", 0, true, NULL, 0, 10, &changed),
                   "key");
    /* a held wait does not hold up the server's stop */
    struct steep_store_client *other = test_storage_client(f->server.port);
    assert_non_null(other);
    w = (struct held_wait){other, -1, true};
    assert_int_equal(pthread_create(&thread, NULL, held_wait_main, &w), 0);
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
    start = seconds_now();
    steep_rpc_server_stop(f->server.server, 5000);
    double stopped = seconds_now() - start;
    pthread_join(thread, NULL);
    steep_store_client_free(other);
    assert_true(stopped < 2.0);
}

/* Issue 14 item 7: held waits occupy no worker. With a ceiling of 2
 * workers (and 2 queued calls), 40 waits are parked at once while other
 * calls still answer at once; a write answers every wait, the wait's time
 * answers the others, and a caller that goes frees its holds at once. */
#define PARKED_WAITS 40

struct parked_wait {
    struct steep_store_client *client;
    const char *key;
    int wait_ms;
    int rc;
    bool changed;
    double took;
};

static void *parked_wait_main(void *arg)
{
    struct parked_wait *w = arg;
    double start = seconds_now();
    w->rc = steep_store_client_wait_change(w->client, w->key, strlen(w->key), false, "Staged", 6,
                                           w->wait_ms, &w->changed);
    w->took = seconds_now() - start;
    if (w->rc != STEEP_STORE_OK)
        fprintf(stderr, "wait: %s\n", steep_error_get());
    return NULL;
}

static int parked_now(struct fixture *f)
{
    struct steep_rpc_server_stats stats;
    steep_rpc_server_stats(f->server.server, &stats);
    return stats.parked;
}

/* Waits (bounded) until the server holds want parked calls. */
static void expect_parked(struct fixture *f, int want)
{
    for (int i = 0; i < 500 && parked_now(f) != want; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    if (parked_now(f) != want)
        fail_msg("%d calls parked, not %d: %s", parked_now(f), want, steep_error_get());
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p50 of 21 Gets of an unrelated key, each of which must answer OK. */
static double get_p50(struct fixture *f)
{
    double took[21];
    for (int i = 0; i < 21; i++) {
        double start = seconds_now();
        expect_record(f, "function-x", "x");
        took[i] = seconds_now() - start;
    }
    qsort(took, 21, sizeof *took, compare_double);
    return took[10];
}

static void start_waits(struct parked_wait *waits, pthread_t *threads,
                        struct steep_store_client *client, const char *key, int wait_ms)
{
    for (int i = 0; i < PARKED_WAITS; i++) {
        waits[i] = (struct parked_wait){client, key, wait_ms, -1, false, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, parked_wait_main, &waits[i]), 0);
    }
}

static void test_waits_hold_no_worker(void **state)
{
    struct fixture *f = *state;
    stop(f);
    test_storage_max_workers = 2;
    start(f);
    test_storage_max_workers = 0;
    put(f, "task-p", "Staged");
    put(f, "function-x", "x");
    struct parked_wait waits[PARKED_WAITS];
    pthread_t threads[PARKED_WAITS];

    /* ended by a write of the key */
    start_waits(waits, threads, f->client, "task-p", 20000);
    expect_parked(f, PARKED_WAITS);
    double p50 = get_p50(f);
    printf("storage Get p50 with %d waits parked on 2 workers: %.1f ms\n", PARKED_WAITS, p50 * 1e3);
    assert_true(p50 < 0.2);
    double written = seconds_now();
    put(f, "task-p", "Finished");
    for (int i = 0; i < PARKED_WAITS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(waits[i].rc, STEEP_STORE_OK);
        assert_true(waits[i].changed);
    }
    assert_true(seconds_now() - written < 2.0);
    expect_parked(f, 0);

    /* ended by their time; a write of another key does not end them */
    put(f, "task-q", "Staged");
    start_waits(waits, threads, f->client, "task-q", 700);
    expect_parked(f, PARKED_WAITS);
    put(f, "task-other", "Finished");
    assert_true(get_p50(f) < 0.2);
    for (int i = 0; i < PARKED_WAITS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(waits[i].rc, STEEP_STORE_OK);
        assert_false(waits[i].changed);
        assert_true(waits[i].took >= 0.65 && waits[i].took < 3.0);
    }
    expect_parked(f, 0);
}

/* A caller whose connection closes frees its held waits at once (well
 * before their 20 s). */
struct async_wait {
    int done;
    pthread_mutex_t lock;
};

static void async_wait_done(void *arg, ProtobufCMessage *response,
                            const struct steep_rpc_status *status)
{
    (void)status;
    struct async_wait *w = arg;
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    pthread_mutex_lock(&w->lock);
    w->done++;
    pthread_mutex_unlock(&w->lock);
}

static void test_gone_caller_frees_its_waits(void **state)
{
    struct fixture *f = *state;
    put(f, "task-g", "Staged");
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", f->server.port);
    struct steep_rpc_client_config config = {.address = address};
    struct steep_rpc_client *client = steep_rpc_client_new(&config);
    assert_non_null(client);
    struct async_wait w = {0, PTHREAD_MUTEX_INITIALIZER};
    SteepStorageProto__WaitChangeRequest request = STEEP_STORAGE_PROTO__WAIT_CHANGE_REQUEST__INIT;
    request.key = (ProtobufCBinaryData){6, (uint8_t *)"task-g"};
    request.known = (ProtobufCBinaryData){6, (uint8_t *)"Staged"};
    request.timeout_ms = 20000;
    for (int i = 0; i < PARKED_WAITS; i++)
        assert_int_equal(steep_rpc_call_async(
                             client, "/steep_storage_proto.SteepStorage/WaitChange", &request.base,
                             &steep_storage_proto__wait_change_response__descriptor, NULL, 0, 30000,
                             async_wait_done, &w),
                         0);
    expect_parked(f, PARKED_WAITS);
    double start = seconds_now();
    steep_rpc_client_free(client); /* closes the connection */
    expect_parked(f, 0);
    assert_true(seconds_now() - start < 2.0);
    pthread_mutex_destroy(&w.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_put_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_by_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compare_and_swap_and_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_service_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_clients_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waits_hold_no_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gone_caller_frees_its_waits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
