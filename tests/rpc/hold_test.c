/*
 * Held calls, asynchronous client calls and the ceilings on threads and
 * queued calls (issue 14 items 7 and 8), end to end over TLS on loopback:
 *   - calls held by their handler (steep_rpc_call_hold) take no worker:
 *     20 of them on a server with 2 workers, while ordinary calls still
 *     pass; each is answered by its continuation (steep_rpc_call_resume),
 *     including one resumed while its handler is still running;
 *   - asynchronous client calls (steep_rpc_call_async) deliver responses
 *     and errors, and a client's max_pending refuses one more at once;
 *   - at max_workers busy and max_queued waiting, one more call is
 *     answered RESOURCE_EXHAUSTED without running;
 *   - timed holds (steep_rpc_call_hold_until) take no worker either and
 *     end by a wake, by their time, or at once when their client goes;
 *     a wake before the hold is not lost.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

#define HOLD_PATH "/steep_test.Echo/Hold"

/* ---- a server whose Hold method parks its calls ---- */

struct held {
    struct held *next;
    struct steep_rpc_call *call;
    char message[32];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static struct held *holds;
static int n_holds;

static void answer(struct steep_rpc_call *call, void *arg)
{
    struct held *held = arg;
    SteepTest__EchoReply reply = STEEP_TEST__ECHO_REPLY__INIT;
    reply.message = held->message;
    steep_rpc_reply(call, &reply.base);
    free(held);
}

/* Holds the call; message "now" is resumed before the handler returns. */
static void hold(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    const SteepTest__EchoRequest *request = (const void *)message;
    struct held *held = calloc(1, sizeof(*held));
    assert_non_null(held);
    held->call = call;
    snprintf(held->message, sizeof(held->message), "%s", request->message);
    steep_rpc_call_hold(call);
    if (strcmp(request->message, "now") == 0) {
        steep_rpc_call_resume(call, answer, held);
        return;
    }
    pthread_mutex_lock(&lock);
    held->next = holds;
    holds = held;
    n_holds++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void resume_all(void)
{
    pthread_mutex_lock(&lock);
    while (holds) {
        struct held *held = holds;
        holds = held->next;
        n_holds--;
        steep_rpc_call_resume(held->call, answer, held);
    }
    pthread_mutex_unlock(&lock);
}

#define WAIT_PATH "/steep_test.Echo/Wait"
static void timed_wait(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg);

static struct steep_rpc_server *hold_server(int max_workers, int max_queued)
{
    struct steep_rpc_server_config config = {.listen = "127.0.0.1:0",
                                             .name = "hold",
                                             .workers = 1,
                                             .max_workers = max_workers,
                                             .max_queued = max_queued};
    config.tls.credentials = test_identity_credentials;
    config.tls.credentials_arg = &server_identity;
    struct steep_rpc_server *server = steep_rpc_server_new(&config);
    assert_non_null(server);
    assert_int_equal(steep_rpc_server_add(server, ECHO_SAY, &steep_test__echo_request__descriptor,
                                          test_echo_say, NULL),
                     0);
    assert_int_equal(
        steep_rpc_server_add(server, HOLD_PATH, &steep_test__echo_request__descriptor, hold, NULL),
        0);
    assert_int_equal(steep_rpc_server_add(server, WAIT_PATH, &steep_test__echo_request__descriptor,
                                          timed_wait, NULL),
                     0);
    assert_int_equal(steep_rpc_server_start(server), 0);
    return server;
}

/* ---- asynchronous calls and their results ---- */

struct result {
    int code;
    char message[64];
    bool done;
};

static void done(void *arg, ProtobufCMessage *response, const struct steep_rpc_status *status)
{
    struct result *result = arg;
    pthread_mutex_lock(&lock);
    result->code = status->code;
    if (response)
        snprintf(result->message, sizeof(result->message), "%s",
                 ((SteepTest__EchoReply *)response)->message);
    result->done = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
}

static void start(struct steep_rpc_client *client, const char *path, const char *message,
                  int sleep_ms, struct result *result)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = (char *)message;
    request.sleep_ms = sleep_ms;
    request.ignore_cancel = true;
    struct steep_rpc_metadata metadata[] = {{"X-Test", "1"}};
    memset(result, 0, sizeof(*result));
    assert_int_equal(steep_rpc_call_async(client, path, &request.base,
                                          &steep_test__echo_reply__descriptor, metadata, 1, 10000,
                                          done, result),
                     0);
}

static void wait_done(struct result *results, int count)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < count; i++)
        while (!results[i].done)
            pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

static void wait_holds(int count)
{
    pthread_mutex_lock(&lock);
    while (n_holds < count)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

static void test_held_calls_take_no_worker(void **state)
{
    struct steep_rpc_server *server = hold_server(2, 64);
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(server), NULL);
    struct result results[21];
    char message[16];
    for (int i = 0; i < 20; i++) {
        snprintf(message, sizeof(message), "held %d", i);
        start(client, HOLD_PATH, message, 0, &results[i]);
    }
    wait_holds(20);
    struct steep_rpc_server_stats stats;
    steep_rpc_server_stats(server, &stats);
    assert_int_equal(stats.parked, 20);
    assert_true(stats.workers <= 2);
    /* the workers are free: ordinary calls pass, one resumed at once too */
    assert_call_works(client);
    start(client, HOLD_PATH, "now", 0, &results[20]);
    wait_done(&results[20], 1);
    assert_int_equal(results[20].code, STEEP_GRPC_OK);
    assert_string_equal(results[20].message, "now");
    resume_all();
    wait_done(results, 20);
    for (int i = 0; i < 20; i++) {
        snprintf(message, sizeof(message), "held %d", i);
        assert_int_equal(results[i].code, STEEP_GRPC_OK);
        assert_string_equal(results[i].message, message);
    }
    steep_rpc_server_stats(server, &stats);
    assert_int_equal(stats.parked, 0);
    steep_rpc_client_free(client);
    steep_rpc_server_stop(server, 1000);
    steep_rpc_server_free(server);
}

/* A held call whose client goes away is still resumed (its answer is
 * dropped); the server's free waits for that. */
static void test_held_call_outlives_its_client(void **state)
{
    struct steep_rpc_server *server = hold_server(2, 64);
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(server), NULL);
    struct result result;
    start(client, HOLD_PATH, "orphan", 0, &result);
    wait_holds(1);
    steep_rpc_client_free(client); /* completes the async call: UNAVAILABLE */
    assert_true(result.done);
    assert_int_equal(result.code, STEEP_GRPC_UNAVAILABLE);
    steep_rpc_server_stop(server, 200);
    resume_all();
    steep_rpc_server_free(server);
}

static void test_client_max_pending(void **state)
{
    struct steep_rpc_server *server = hold_server(2, 64);
    char address[64];
    snprintf(address, sizeof(address), "127.0.0.1:%d", steep_rpc_server_port(server));
    struct steep_rpc_client *client = steep_rpc_client_new(
        &(struct steep_rpc_client_config){.address = address, .max_pending = 3});
    assert_non_null(client);
    struct result results[4];
    for (int i = 0; i < 3; i++)
        start(client, HOLD_PATH, "pending", 0, &results[i]);
    start(client, HOLD_PATH, "one more", 0, &results[3]);
    assert_true(results[3].done); /* refused at once, on this thread */
    assert_int_equal(results[3].code, STEEP_GRPC_RESOURCE_EXHAUSTED);
    wait_holds(3);
    resume_all();
    wait_done(results, 3);
    assert_int_equal(results[0].code, STEEP_GRPC_OK);
    assert_call_works(client); /* the count went down again */
    steep_rpc_client_free(client);
    steep_rpc_server_stop(server, 1000);
    steep_rpc_server_free(server);
}

static void test_queue_ceiling(void **state)
{
    struct steep_rpc_server *server = hold_server(1, 1);
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(server), NULL);
    struct result results[3];
    start(client, ECHO_SAY, "running", 600, &results[0]);
    usleep(200 * 1000); /* on the one worker */
    start(client, ECHO_SAY, "queued", 0, &results[1]);
    usleep(100 * 1000);
    start(client, ECHO_SAY, "refused", 0, &results[2]);
    wait_done(results, 3);
    assert_int_equal(results[0].code, STEEP_GRPC_OK);
    assert_int_equal(results[1].code, STEEP_GRPC_OK);
    assert_int_equal(results[2].code, STEEP_GRPC_RESOURCE_EXHAUSTED);
    struct steep_rpc_server_stats stats;
    steep_rpc_server_stats(server, &stats);
    assert_int_equal(stats.refused_busy, 1);
    assert_int_equal(stats.workers, 1);
    assert_call_works(client);
    steep_rpc_client_free(client);
    steep_rpc_server_stop(server, 1000);
    steep_rpc_server_free(server);
}

/* ---- timed holds: Wait holds for sleep_ms unless woken ---- */

struct timed {
    struct timed *next;
    struct steep_rpc_call *call;
    bool woken, listed;
};

static struct timed *timed_list;
static int n_timed;
static atomic_int timed_answered;

static void timed_unlist(struct timed *timed)
{
    for (struct timed **link = &timed_list; *link; link = &(*link)->next)
        if (*link == timed) {
            *link = timed->next;
            n_timed--;
            break;
        }
    timed->listed = false;
}

static void timed_answer(struct steep_rpc_call *call, void *arg)
{
    struct timed *timed = arg;
    pthread_mutex_lock(&lock); /* no wake runs after this: the holder's contract */
    if (timed->listed)
        timed_unlist(timed);
    bool woken = timed->woken;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    SteepTest__EchoReply reply = STEEP_TEST__ECHO_REPLY__INIT;
    reply.message = woken ? "woken" : steep_rpc_call_cancelled(call) ? "cancelled" : "time";
    steep_rpc_reply(call, &reply.base);
    atomic_fetch_add(&timed_answered, 1);
    free(timed);
}

/* Message "early": woken before it is held (the wake must be kept). */
static void timed_wait(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    const SteepTest__EchoRequest *request = (const void *)message;
    struct timed *timed = calloc(1, sizeof(*timed));
    assert_non_null(timed);
    timed->call = call;
    pthread_mutex_lock(&lock);
    if (strcmp(request->message, "early") == 0) {
        timed->woken = true;
        steep_rpc_call_wake(call);
    } else {
        timed->next = timed_list;
        timed_list = timed;
        timed->listed = true;
        n_timed++;
    }
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    steep_rpc_call_hold_until(call, (int)request->sleep_ms, timed_answer, timed);
}

static void wake_all(void)
{
    pthread_mutex_lock(&lock);
    while (timed_list) {
        struct timed *timed = timed_list;
        timed_unlist(timed);
        timed->woken = true;
        steep_rpc_call_wake(timed->call);
    }
    pthread_mutex_unlock(&lock);
}

static int parked(struct steep_rpc_server *server)
{
    struct steep_rpc_server_stats stats;
    steep_rpc_server_stats(server, &stats);
    return stats.parked;
}

static void wait_parked(struct steep_rpc_server *server, int count)
{
    for (int i = 0; i < 300 && parked(server) != count; i++)
        usleep(10 * 1000);
    assert_int_equal(parked(server), count);
}

static void test_timed_holds(void **state)
{
    struct steep_rpc_server *server = hold_server(2, 64);
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(server), NULL);
    struct result results[20];
    /* ended by their time, all 20 parked on 2 workers meanwhile */
    int64_t start_ms = steep_rpc_now_ms();
    for (int i = 0; i < 20; i++)
        start(client, WAIT_PATH, "timed", 400, &results[i]);
    wait_parked(server, 20);
    assert_call_works(client);
    wait_done(results, 20);
    int64_t took = steep_rpc_now_ms() - start_ms;
    assert_true(took >= 390 && took < 3000);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(results[i].code, STEEP_GRPC_OK);
        assert_string_equal(results[i].message, "time");
    }
    /* ended by a wake, long before their time */
    for (int i = 0; i < 20; i++)
        start(client, WAIT_PATH, "woken", 20000, &results[i]);
    wait_parked(server, 20);
    start_ms = steep_rpc_now_ms();
    wake_all();
    wait_done(results, 20);
    assert_true(steep_rpc_now_ms() - start_ms < 2000);
    for (int i = 0; i < 20; i++)
        assert_string_equal(results[i].message, "woken");
    /* a wake before the hold ends it at once */
    start(client, WAIT_PATH, "early", 20000, &results[0]);
    wait_done(results, 1);
    assert_string_equal(results[0].message, "woken");
    assert_int_equal(parked(server), 0);
    steep_rpc_client_free(client);
    steep_rpc_server_stop(server, 1000);
    steep_rpc_server_free(server);
}

/* A client that goes ends its timed holds at once (their 20 s unspent). */
static void test_timed_holds_end_with_their_client(void **state)
{
    struct steep_rpc_server *server = hold_server(2, 64);
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(server), NULL);
    struct result results[20];
    atomic_store(&timed_answered, 0);
    for (int i = 0; i < 20; i++)
        start(client, WAIT_PATH, "gone", 20000, &results[i]);
    wait_parked(server, 20);
    int64_t start_ms = steep_rpc_now_ms();
    steep_rpc_client_free(client);
    wait_parked(server, 0);
    for (int i = 0; i < 300 && atomic_load(&timed_answered) < 20; i++)
        usleep(10 * 1000);
    assert_int_equal(atomic_load(&timed_answered), 20);
    assert_true(steep_rpc_now_ms() - start_ms < 2000);
    assert_int_equal(n_timed, 0);
    /* and a stopping server ends the ones of a client still there */
    client = connect_client(steep_rpc_server_port(server), NULL);
    for (int i = 0; i < 5; i++)
        start(client, WAIT_PATH, "stop", 20000, &results[i]);
    wait_parked(server, 5);
    start_ms = steep_rpc_now_ms();
    steep_rpc_server_stop(server, 1000);
    steep_rpc_server_free(server);
    assert_true(steep_rpc_now_ms() - start_ms < 3000);
    steep_rpc_client_free(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_calls_take_no_worker),
        cmocka_unit_test(test_held_call_outlives_its_client),
        cmocka_unit_test(test_client_max_pending),
        cmocka_unit_test(test_queue_ceiling),
        cmocka_unit_test(test_timed_holds),
        cmocka_unit_test(test_timed_holds_end_with_their_client),
    };
    return fixture_main("rpc_hold_test", tests, sizeof(tests) / sizeof(tests[0]));
}
