/*
 * Concurrency end to end: 100 concurrent calls on one connection, several
 * clients, 50 long-blocking handlers that must not starve a fast call,
 * graceful stop (in-flight calls finish; the grace period ends stuck ones),
 * reconnection after the server restarts on the same port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <pthread.h>

#include "fixture.h"

/* ---- concurrency ---- */

struct caller {
    struct steep_rpc_client *client;
    int sleep_ms;
    bool ignore_cancel;
    int calls;
    int failures;
    pthread_t thread;
};

static void *caller_run(void *arg)
{
    struct caller *caller = arg;
    for (int i = 0; i < caller->calls; i++) {
        char text[32];
        snprintf(text, sizeof(text), "call %d", i);
        SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
        request.message = text;
        request.sleep_ms = caller->sleep_ms;
        request.ignore_cancel = caller->ignore_cancel;
        SteepTest__EchoReply *reply = NULL;
        struct steep_rpc_status status;
        if (say(caller->client, &request, &reply, 20000, &status) != 0 ||
            strcmp(reply->message, text) != 0)
            caller->failures++;
        if (reply)
            protobuf_c_message_free_unpacked(&reply->base, NULL);
    }
    return NULL;
}

static void run_callers(struct caller *callers, int count)
{
    for (int i = 0; i < count; i++)
        pthread_create(&callers[i].thread, NULL, caller_run, &callers[i]);
    for (int i = 0; i < count; i++) {
        pthread_join(callers[i].thread, NULL);
        assert_int_equal(callers[i].failures, 0);
    }
}

static void test_100_concurrent_calls_one_connection(void **state)
{
    struct fixture *fixture = *state;
    struct caller callers[100];
    for (int i = 0; i < 100; i++)
        callers[i] = (struct caller){.client = fixture->client, .sleep_ms = 20, .calls = 3};
    run_callers(callers, 100);
}

static void test_several_clients(void **state)
{
    struct fixture *fixture = *state;
    struct steep_rpc_client *clients[4];
    struct caller callers[40];
    for (int i = 0; i < 4; i++)
        clients[i] = connect_client(steep_rpc_server_port(fixture->server), NULL);
    for (int i = 0; i < 40; i++)
        callers[i] = (struct caller){.client = clients[i % 4], .calls = 20};
    run_callers(callers, 40);
    for (int i = 0; i < 4; i++)
        steep_rpc_client_free(clients[i]);
}

static int64_t timed_fast_call(struct steep_rpc_client *client)
{
    int64_t start = steep_rpc_now_ms();
    assert_call_works(client);
    return steep_rpc_now_ms() - start;
}

static void test_long_blocking_calls_do_not_starve(void **state)
{
    struct steep_rpc_server_config config = {.workers = 2};
    struct steep_rpc_server *server = start_server(&config);
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(server), NULL);
    assert_call_works(client);
    /* 50 handlers blocked for 2.5 s, on a pool that started with 2 workers. */
    struct caller callers[50];
    for (int i = 0; i < 50; i++)
        callers[i] = (struct caller){.client = client, .sleep_ms = 2500, .calls = 1};
    for (int i = 0; i < 50; i++)
        pthread_create(&callers[i].thread, NULL, caller_run, &callers[i]);
    usleep(200 * 1000);
    int64_t took = timed_fast_call(client);
    if (took > 1200)
        fail_msg("a fast call took %lld ms behind 50 blocked handlers", (long long)took);
    for (int i = 0; i < 50; i++) {
        pthread_join(callers[i].thread, NULL);
        assert_int_equal(callers[i].failures, 0);
    }
    steep_rpc_client_free(client);
    steep_rpc_server_free(server);
}

struct stopper {
    struct steep_rpc_server *server;
    pthread_t thread;
};

static void *stop_after_delay(void *arg)
{
    struct stopper *stopper = arg;
    usleep(150 * 1000);
    steep_rpc_server_stop(stopper->server, 5000);
    return NULL;
}

static void test_graceful_stop_finishes_in_flight(void **state)
{
    struct fixture *fixture = *state;
    struct caller slow = {
        .client = fixture->client, .sleep_ms = 800, .ignore_cancel = true, .calls = 1};
    pthread_create(&slow.thread, NULL, caller_run, &slow);
    usleep(50 * 1000);
    struct stopper stopper = {.server = fixture->server};
    int64_t start = steep_rpc_now_ms();
    pthread_create(&stopper.thread, NULL, stop_after_delay, &stopper);
    pthread_join(slow.thread, NULL);
    assert_int_equal(slow.failures, 0);
    pthread_join(stopper.thread, NULL);
    assert_true(steep_rpc_now_ms() - start < 3000);
    /* Stopped: new calls are refused. */
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(fixture->client, &request, &reply, 2000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
}

static void test_grace_period_ends_stuck_calls(void **state)
{
    struct fixture *fixture = *state;
    struct caller stuck = {
        .client = fixture->client, .sleep_ms = 1500, .ignore_cancel = true, .calls = 1};
    pthread_create(&stuck.thread, NULL, caller_run, &stuck);
    usleep(100 * 1000);
    int64_t start = steep_rpc_now_ms();
    steep_rpc_server_stop(fixture->server, 300);
    assert_true(steep_rpc_now_ms() - start < 2000);
    pthread_join(stuck.thread, NULL);
    assert_int_equal(stuck.failures, 1); /* UNAVAILABLE: the connection closed */
}

static void test_reconnect_after_server_restart(void **state)
{
    struct fixture *fixture = *state;
    int port = steep_rpc_server_port(fixture->server);
    assert_call_works(fixture->client);
    steep_rpc_server_free(fixture->server);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    struct steep_rpc_server_config config = {.listen = listen};
    fixture->server = start_server(&config);
    assert_call_works(fixture->client);
    assert_call_works(fixture->client);
}

struct stop_in_background {
    struct steep_rpc_server *server;
    pthread_t thread;
};

static void *stop_with_grace(void *arg)
{
    struct stop_in_background *stop = arg;
    steep_rpc_server_stop(stop->server, 5000);
    return NULL;
}

/* A graceful restart on the same port: the old server sends GOAWAY, closes
 * its listener and drains a slow call while the new one already listens.
 * A call made meanwhile waits for the drain, then goes to the new server. */
static void test_call_during_graceful_restart(void **state)
{
    struct fixture *fixture = *state;
    int port = steep_rpc_server_port(fixture->server);
    struct caller slow = {
        .client = fixture->client, .sleep_ms = 1000, .ignore_cancel = true, .calls = 1};
    pthread_create(&slow.thread, NULL, caller_run, &slow);
    usleep(150 * 1000);
    struct stop_in_background stop = {.server = fixture->server};
    pthread_create(&stop.thread, NULL, stop_with_grace, &stop);
    usleep(150 * 1000);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    struct steep_rpc_server_config config = {.listen = listen};
    struct steep_rpc_server *new_server = start_server(&config);
    assert_call_works(fixture->client);
    pthread_join(slow.thread, NULL);
    assert_int_equal(slow.failures, 0);
    pthread_join(stop.thread, NULL);
    steep_rpc_server_free(fixture->server);
    fixture->server = new_server;
    assert_call_works(fixture->client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_100_concurrent_calls_one_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_clients, setup, teardown),
        cmocka_unit_test(test_long_blocking_calls_do_not_starve),
        cmocka_unit_test_setup_teardown(test_graceful_stop_finishes_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grace_period_ends_stuck_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_after_server_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_during_graceful_restart, setup, teardown),
    };
    return fixture_main("concurrency", tests, sizeof(tests) / sizeof(tests[0]));
}
