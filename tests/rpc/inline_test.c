/*
 * Methods registered with steep_rpc_server_add_inline: they run on the
 * server's event-loop thread (and ordinary methods do not), keep the
 * handler contract (metadata both ways, status and message, remaining time,
 * an answer after the deadline replaced by DEADLINE_EXCEEDED, undecodable
 * requests refused), and keep answering while a pool method blocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

#define ECHO_FAST "/steep_test.Echo/Fast"

/* Which thread ran the last call of each method. */
static pthread_t fast_thread, slow_thread;
static atomic_int fast_calls, slow_calls;

static void fast_say(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    fast_thread = pthread_self();
    atomic_fetch_add(&fast_calls, 1);
    test_echo_say(call, request, arg);
}

static void slow_say(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    slow_thread = pthread_self();
    atomic_fetch_add(&slow_calls, 1);
    test_echo_say(call, request, arg);
}

static int setup_inline(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    assert_non_null(fixture);
    struct steep_rpc_server_config config = {.listen = "127.0.0.1:0", .name = "inline-test"};
    config.tls.credentials = test_identity_credentials;
    config.tls.credentials_arg = &server_identity;
    fixture->server = steep_rpc_server_new(&config);
    assert_non_null(fixture->server);
    assert_int_equal(steep_rpc_server_add(fixture->server, ECHO_SAY,
                                          &steep_test__echo_request__descriptor, slow_say, NULL),
                     0);
    assert_int_equal(steep_rpc_server_add_inline(fixture->server, ECHO_FAST,
                                                 &steep_test__echo_request__descriptor, fast_say,
                                                 NULL),
                     0);
    /* The same path cannot be registered twice, inline or not. */
    assert_int_equal(steep_rpc_server_add_inline(fixture->server, ECHO_SAY,
                                                 &steep_test__echo_request__descriptor, fast_say,
                                                 NULL),
                     -1);
    assert_int_equal(steep_rpc_server_start(fixture->server), 0);
    fixture->client = connect_client(steep_rpc_server_port(fixture->server), NULL);
    *state = fixture;
    return 0;
}

static int fast(struct steep_rpc_client *client, const SteepTest__EchoRequest *request,
                SteepTest__EchoReply **reply, int timeout_ms, struct steep_rpc_status *status)
{
    return steep_rpc_call(client, ECHO_FAST, &request->base, &steep_test__echo_reply__descriptor,
                          (ProtobufCMessage **)reply, NULL, 0, timeout_ms, status);
}

static void assert_fast_works(struct steep_rpc_client *client, const char *message)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = (char *)message;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    int rc = fast(client, &request, &reply, 5000, &status);
    if (rc != 0)
        fail_msg("inline call failed: %s %s", steep_grpc_code_name(status.code), status.message);
    assert_string_equal(reply->message, message);
    protobuf_c_message_free_unpacked(&reply->base, NULL);
}

static void test_inline_runs_on_the_loop_and_pool_does_not(void **state)
{
    struct fixture *fixture = *state;
    assert_fast_works(fixture->client, "one");
    pthread_t first = fast_thread;
    assert_fast_works(fixture->client, "two");
    assert_true(pthread_equal(first, fast_thread)); /* always the one loop thread */
    assert_call_works(fixture->client);             /* Say: the pool */
    assert_false(pthread_equal(slow_thread, fast_thread));
    assert_false(pthread_equal(fast_thread, pthread_self()));
}

static void test_inline_metadata_status_and_remaining(void **state)
{
    struct fixture *fixture = *state;
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "md";
    request.echo_metadata = "token";
    request.payload_size = 70000; /* several DATA frames */
    struct steep_rpc_metadata metadata[] = {{"id", "alice"}, {"Token", "jwt.value.here"}};
    struct steep_rpc_received_metadata received;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(steep_rpc_call_with_metadata(fixture->client, ECHO_FAST, &request.base,
                                                  &steep_test__echo_reply__descriptor,
                                                  (ProtobufCMessage **)&reply, metadata, 2, 3000,
                                                  &status, &received),
                     0);
    assert_string_equal(reply->metadata_value, "jwt.value.here");
    assert_int_equal(reply->payload.len, 70000);
    assert_true(reply->remaining_ms > 0 && reply->remaining_ms <= 3000);
    assert_string_equal(steep_rpc_received_metadata_get(&received, "x-echo"), "jwt.value.here");
    steep_rpc_received_metadata_free(&received);
    protobuf_c_message_free_unpacked(&reply->base, NULL);

    /* No deadline: -1. */
    SteepTest__EchoRequest plain = STEEP_TEST__ECHO_REQUEST__INIT;
    plain.message = "no deadline";
    assert_int_equal(fast(fixture->client, &plain, &reply, 0, &status), 0);
    assert_int_equal(reply->remaining_ms, -1);
    protobuf_c_message_free_unpacked(&reply->base, NULL);

    /* A failure keeps its code and message. */
    SteepTest__EchoRequest failing = STEEP_TEST__ECHO_REQUEST__INIT;
    failing.error_code = STEEP_GRPC_NOT_FOUND;
    failing.error_message = "key not found";
    reply = NULL;
    assert_int_equal(fast(fixture->client, &failing, &reply, 3000, &status), -1);
    assert_null(reply);
    assert_int_equal(status.code, STEEP_GRPC_NOT_FOUND);
    assert_string_equal(status.message, "key not found");
    assert_fast_works(fixture->client, "after a failure");
}

static void test_inline_answer_after_deadline(void **state)
{
    struct fixture *fixture = *state;
    /* Misuse on purpose (an inline handler that takes 100 ms): the answer,
     * given after the 30 ms deadline, is replaced by DEADLINE_EXCEEDED. */
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "late";
    request.sleep_ms = 100;
    request.ignore_cancel = true;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(fast(fixture->client, &request, &reply, 30, &status), -1);
    assert_null(reply);
    assert_int_equal(status.code, STEEP_GRPC_DEADLINE_EXCEEDED);
    assert_fast_works(fixture->client, "after a deadline");
}

static void test_inline_undecodable_request(void **state)
{
    struct fixture *fixture = *state;
    SteepTest__BadRequest request = STEEP_TEST__BAD_REQUEST__INIT;
    request.message = 42;
    int before = atomic_load(&fast_calls);
    ProtobufCMessage *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(steep_rpc_call(fixture->client, ECHO_FAST, &request.base,
                                    &steep_test__echo_reply__descriptor, &reply, NULL, 0, 3000,
                                    &status),
                     -1);
    assert_int_equal(status.code, STEEP_GRPC_INVALID_ARGUMENT);
    assert_int_equal(atomic_load(&fast_calls), before); /* the handler never ran */
    assert_fast_works(fixture->client, "after a bad request");
}

struct slow_call {
    struct steep_rpc_client *client;
    atomic_bool done;
    int rc;
};

static void *run_slow_call(void *arg)
{
    struct slow_call *slow = arg;
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "slow";
    request.sleep_ms = 1500;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    slow->rc = say(slow->client, &request, &reply, 10000, &status);
    if (reply)
        protobuf_c_message_free_unpacked(&reply->base, NULL);
    atomic_store(&slow->done, true);
    return NULL;
}

static void test_blocking_pool_method_does_not_stall_inline(void **state)
{
    struct fixture *fixture = *state;
    struct slow_call slow = {.client = fixture->client};
    int slow_before = atomic_load(&slow_calls);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, run_slow_call, &slow), 0);
    for (int i = 0; i < 200 && atomic_load(&slow_calls) == slow_before; i++)
        usleep(5000);
    assert_int_not_equal(atomic_load(&slow_calls), slow_before); /* the slow handler runs */
    /* Same connection, and a second one: inline calls answer while it sleeps. */
    struct steep_rpc_client *other = connect_client(steep_rpc_server_port(fixture->server), NULL);
    int64_t start = steep_rpc_now_ms();
    for (int i = 0; i < 20; i++) {
        assert_fast_works(fixture->client, "meanwhile");
        assert_fast_works(other, "meanwhile too");
    }
    int64_t took = steep_rpc_now_ms() - start;
    assert_false(atomic_load(&slow.done));
    assert_true(took < 1000);
    pthread_join(thread, NULL);
    assert_int_equal(slow.rc, 0);
    steep_rpc_client_free(other);
}

struct mixed_args {
    struct steep_rpc_client *client;
    int index;
    atomic_int *failures;
};

/* 50 calls, one in five to the pool method, the rest inline. */
static void *run_mixed(void *arg)
{
    struct mixed_args *args = arg;
    for (int i = 0; i < 50; i++) {
        char message[32];
        snprintf(message, sizeof(message), "t%d-%d", args->index, i);
        SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
        request.message = message;
        SteepTest__EchoReply *reply = NULL;
        struct steep_rpc_status status;
        int rc = (i % 5 == 0) ? say(args->client, &request, &reply, 5000, &status)
                              : fast(args->client, &request, &reply, 5000, &status);
        if (rc != 0 || strcmp(reply->message, message) != 0)
            atomic_fetch_add(args->failures, 1);
        if (reply)
            protobuf_c_message_free_unpacked(&reply->base, NULL);
    }
    return NULL;
}

static void test_inline_under_concurrency(void **state)
{
    struct fixture *fixture = *state;
    /* Many streams at once on one connection, mixing inline and pool calls. */
    enum { THREADS = 8 };
    pthread_t threads[THREADS];
    struct mixed_args args[THREADS];
    atomic_int failures = 0;
    int fast_before = atomic_load(&fast_calls), slow_before = atomic_load(&slow_calls);
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct mixed_args){fixture->client, i, &failures};
        assert_int_equal(pthread_create(&threads[i], NULL, run_mixed, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(atomic_load(&fast_calls) - fast_before, THREADS * 40);
    assert_int_equal(atomic_load(&slow_calls) - slow_before, THREADS * 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inline_runs_on_the_loop_and_pool_does_not,
                                        setup_inline, teardown),
        cmocka_unit_test_setup_teardown(test_inline_metadata_status_and_remaining, setup_inline,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inline_answer_after_deadline, setup_inline, teardown),
        cmocka_unit_test_setup_teardown(test_inline_undecodable_request, setup_inline, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_pool_method_does_not_stall_inline,
                                        setup_inline, teardown),
        cmocka_unit_test_setup_teardown(test_inline_under_concurrency, setup_inline, teardown),
    };
    return fixture_main("rpc_inline_test", tests, sizeof(tests) / sizeof(tests[0]));
}
