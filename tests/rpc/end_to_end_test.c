/*
 * Our client against our server over TLS on loopback: calls, metadata,
 * status codes, every refusal the server makes (each followed by a call
 * that works), TLS policy, concurrency, long-blocking handlers, graceful
 * stop and reconnection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "rpc/internal.h"
#include "support.h"

static struct test_identity server_identity, client_identity, stranger_identity;

struct fixture {
    struct steep_rpc_server *server;
    struct steep_rpc_client *client;
    char address[64];
};

static struct steep_rpc_server *start_server(const struct steep_rpc_server_config *overrides)
{
    struct steep_rpc_server_config config = {0};
    if (overrides)
        config = *overrides;
    config.listen = config.listen ? config.listen : "127.0.0.1:0";
    config.tls.credentials = test_identity_credentials;
    config.tls.credentials_arg = &server_identity;
    config.name = "test";
    struct steep_rpc_server *server = steep_rpc_server_new(&config);
    assert_non_null(server);
    assert_int_equal(steep_rpc_server_add(server, ECHO_SAY, &steep_test__echo_request__descriptor,
                                          test_echo_say, NULL),
                     0);
    assert_int_equal(steep_rpc_server_start(server), 0);
    return server;
}

static struct steep_rpc_client *connect_client(int port, const struct steep_tls_config *tls)
{
    char address[64];
    snprintf(address, sizeof(address), "127.0.0.1:%d", port);
    struct steep_rpc_client_config config = {.address = address};
    if (tls)
        config.tls = *tls;
    struct steep_rpc_client *client = steep_rpc_client_new(&config);
    assert_non_null(client);
    return client;
}

static int say(struct steep_rpc_client *client, const SteepTest__EchoRequest *request,
               SteepTest__EchoReply **reply, int timeout_ms, struct steep_rpc_status *status)
{
    return steep_rpc_call(client, ECHO_SAY, &request->base, &steep_test__echo_reply__descriptor,
                          (ProtobufCMessage **)reply, NULL, 0, timeout_ms, status);
}

/* One ordinary call that must succeed: run after every refusal. */
static void assert_call_works(struct steep_rpc_client *client)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "still fine";
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    int rc = say(client, &request, &reply, 5000, &status);
    if (rc != 0)
        fail_msg("call failed: %s %s", steep_grpc_code_name(status.code), status.message);
    assert_string_equal(reply->message, "still fine");
    protobuf_c_message_free_unpacked(&reply->base, NULL);
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    fixture->server = start_server(NULL);
    fixture->client = connect_client(steep_rpc_server_port(fixture->server), NULL);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    steep_rpc_client_free(fixture->client);
    steep_rpc_server_free(fixture->server);
    free(fixture);
    return 0;
}

static void test_unary_call(void **state)
{
    struct fixture *fixture = *state;
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "hello";
    request.payload_size = 1000;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(fixture->client, &request, &reply, 0, &status), 0);
    assert_int_equal(status.code, STEEP_GRPC_OK);
    assert_string_equal(reply->message, "hello");
    assert_int_equal(reply->payload.len, 1000);
    assert_int_equal(reply->remaining_ms, -1);
    protobuf_c_message_free_unpacked(&reply->base, NULL);
}

static void test_metadata_both_ways(void **state)
{
    struct fixture *fixture = *state;
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "md";
    request.echo_metadata = "token";
    struct steep_rpc_metadata metadata[] = {{"id", "alice"}, {"token", "jwt.value.here"}};
    struct steep_rpc_received_metadata received;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(steep_rpc_call_with_metadata(fixture->client, ECHO_SAY, &request.base,
                                                  &steep_test__echo_reply__descriptor,
                                                  (ProtobufCMessage **)&reply, metadata, 2, 3000,
                                                  &status, &received),
                     0);
    assert_string_equal(reply->metadata_value, "jwt.value.here");
    assert_true(reply->remaining_ms > 0 && reply->remaining_ms <= 3000);
    assert_string_equal(steep_rpc_received_metadata_get(&received, "x-echo"), "jwt.value.here");
    assert_null(steep_rpc_received_metadata_get(&received, "grpc-status"));
    steep_rpc_received_metadata_free(&received);
    protobuf_c_message_free_unpacked(&reply->base, NULL);
}

static void test_error_status_and_message(void **state)
{
    struct fixture *fixture = *state;
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.error_code = STEEP_GRPC_PERMISSION_DENIED;
    request.error_message = "permission denied: 100% \xc3\xa9t\xc3\xa9\nnext line";
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(fixture->client, &request, &reply, 0, &status), -1);
    assert_null(reply);
    assert_int_equal(status.code, STEEP_GRPC_PERMISSION_DENIED);
    assert_string_equal(status.message, request.error_message);
    assert_call_works(fixture->client);
}

static void test_unknown_method(void **state)
{
    struct fixture *fixture = *state;
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(steep_rpc_call(fixture->client, "/steep_test.Echo/Missing", &request.base,
                                    &steep_test__echo_reply__descriptor, &reply, NULL, 0, 0,
                                    &status),
                     -1);
    assert_int_equal(status.code, STEEP_GRPC_UNIMPLEMENTED);
    assert_call_works(fixture->client);
}

static void test_undecodable_request(void **state)
{
    struct fixture *fixture = *state;
    SteepTest__BadRequest request = STEEP_TEST__BAD_REQUEST__INIT;
    request.message = 42;
    ProtobufCMessage *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(steep_rpc_call(fixture->client, ECHO_SAY, &request.base,
                                    &steep_test__echo_reply__descriptor, &reply, NULL, 0, 0,
                                    &status),
                     -1);
    assert_int_equal(status.code, STEEP_GRPC_INVALID_ARGUMENT);
    assert_call_works(fixture->client);
}

static void test_oversize_request(void **state)
{
    struct fixture *fixture = *state;
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    size_t size = STEEP_RPC_DEFAULT_MAX_MESSAGE + 100;
    request.payload.data = calloc(1, size);
    request.payload.len = size;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(fixture->client, &request, &reply, 10000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_RESOURCE_EXHAUSTED);
    /* Just under the limit works. */
    request.payload.len = STEEP_RPC_DEFAULT_MAX_MESSAGE - 64;
    assert_int_equal(say(fixture->client, &request, &reply, 10000, &status), 0);
    assert_int_equal(reply->payload_received, (int)request.payload.len);
    protobuf_c_message_free_unpacked(&reply->base, NULL);
    free(request.payload.data);
    assert_call_works(fixture->client);
}

static void test_deadline_exceeded(void **state)
{
    struct fixture *fixture = *state;
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.sleep_ms = 2000;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    int64_t start = steep_rpc_now_ms();
    assert_int_equal(say(fixture->client, &request, &reply, 200, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_DEADLINE_EXCEEDED);
    int64_t took = steep_rpc_now_ms() - start;
    assert_true(took >= 190 && took < 1500);
    assert_call_works(fixture->client);
}

int main(void)
{
    steep_log_init("rpc-test");
    assert_int_equal(test_identity_generate(&server_identity, "server"), 0);
    assert_int_equal(test_identity_generate(&client_identity, "client"), 0);
    assert_int_equal(test_identity_generate(&stranger_identity, "stranger"), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unary_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_status_and_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undecodable_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_exceeded, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    test_identity_free(&server_identity);
    test_identity_free(&client_identity);
    test_identity_free(&stranger_identity);
    return failed;
}
