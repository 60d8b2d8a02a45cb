/*
 * Our client against our server over TLS on loopback: calls, metadata,
 * status codes, and every refusal the server makes (unknown method,
 * undecodable, oversize, compressed, bad framing, deadline), each followed
 * by a call that works on the same connection.
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

#include "fixture.h"

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
    struct steep_rpc_metadata metadata[] = {{"id", "alice"}, {"Token", "jwt.value.here"}};
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

static void raw_call_expect(struct steep_rpc_client *client, const uint8_t *body, size_t len,
                            int code)
{
    struct steep_rpc_status status;
    int64_t start = steep_rpc_now_ms();
    assert_int_equal(steep_rpc_call_raw(client, ECHO_SAY, body, len, 5000, &status), -1);
    if (status.code != code)
        fail_msg("expected %s, got %s: %s", steep_grpc_code_name(code),
                 steep_grpc_code_name(status.code), status.message);
    assert_true(steep_rpc_now_ms() - start < 3000);
}

static void test_compressed_flag(void **state)
{
    struct fixture *fixture = *state;
    const uint8_t body[] = {1, 0, 0, 0, 2, 0x0a, 0x00};
    raw_call_expect(fixture->client, body, sizeof(body), STEEP_GRPC_UNIMPLEMENTED);
    assert_call_works(fixture->client);
}

static void test_declared_oversize_and_bad_framing(void **state)
{
    struct fixture *fixture = *state;
    /* The prefix announces 5 MiB but only a few bytes follow: refused at once. */
    const uint8_t oversize[] = {0, 0, 0x50, 0, 0, 1, 2, 3};
    raw_call_expect(fixture->client, oversize, sizeof(oversize), STEEP_GRPC_RESOURCE_EXHAUSTED);
    assert_call_works(fixture->client);
    const uint8_t truncated[] = {0, 0, 0, 0, 9, 0x0a};
    raw_call_expect(fixture->client, truncated, sizeof(truncated), STEEP_GRPC_INVALID_ARGUMENT);
    assert_call_works(fixture->client);
    raw_call_expect(fixture->client, NULL, 0, STEEP_GRPC_INVALID_ARGUMENT);
    assert_call_works(fixture->client);
    const uint8_t two[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    raw_call_expect(fixture->client, two, sizeof(two), STEEP_GRPC_INVALID_ARGUMENT);
    assert_call_works(fixture->client);
}

/* A connection idle past the server's idle timeout gets GOAWAY and closes;
 * our client notices and its next call reconnects without an error. */
static void test_idle_connection_reconnects(void **state)
{
    struct steep_rpc_server_config config = {.idle_timeout_ms = 500};
    struct steep_rpc_server *server = start_server(&config);
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(server), NULL);
    assert_call_works(client);
    int handshakes = server_identity.handshakes;
    assert_non_null(server->conns);
    /* the check runs once a second: idle + check + the peer's close */
    for (int i = 0; i < 40 && server->n_conns > 0; i++)
        usleep(100 * 1000);
    assert_int_equal(server->n_conns, 0);
    assert_call_works(client);
    assert_int_equal(server_identity.handshakes, handshakes + 1);
    /* a connection kept busy stays */
    for (int i = 0; i < 15; i++) {
        assert_call_works(client);
        usleep(100 * 1000);
    }
    assert_int_equal(server_identity.handshakes, handshakes + 1);
    steep_rpc_client_free(client);
    steep_rpc_server_free(server);
}

static void test_configurable_limits(void **state)
{
    struct steep_rpc_server_config config = {.max_message = 1000};
    struct steep_rpc_server *server = start_server(&config);
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(server), NULL);
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    uint8_t payload[2000] = {0};
    request.payload.data = payload;
    request.payload.len = sizeof(payload);
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(client, &request, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_RESOURCE_EXHAUSTED);
    assert_call_works(client);
    /* The server does not send a response over its own limit either. */
    SteepTest__EchoRequest big_reply = STEEP_TEST__ECHO_REQUEST__INIT;
    big_reply.payload_size = 2000;
    assert_int_equal(say(client, &big_reply, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_RESOURCE_EXHAUSTED);
    assert_call_works(client);
    steep_rpc_client_free(client);
    steep_rpc_server_free(server);

    /* The client refuses a response over its limit. */
    server = start_server(NULL);
    char address[64];
    snprintf(address, sizeof(address), "127.0.0.1:%d", steep_rpc_server_port(server));
    struct steep_rpc_client_config client_config = {.address = address, .max_message = 500};
    client = steep_rpc_client_new(&client_config);
    big_reply.payload_size = 1000;
    assert_int_equal(say(client, &big_reply, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_RESOURCE_EXHAUSTED);
    assert_call_works(client);
    steep_rpc_client_free(client);
    steep_rpc_server_free(server);
}
static void test_handler_sees_cancellation(void **state)
{
    struct fixture *fixture = *state;
    /* The echo handler polls steep_rpc_call_cancelled while sleeping: a
     * cancelled call frees its worker early, so the server can stop fast. */
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.sleep_ms = 5000;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(fixture->client, &request, &reply, 100, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_DEADLINE_EXCEEDED);
    int64_t start = steep_rpc_now_ms();
    steep_rpc_server_free(fixture->server); /* waits for handlers */
    fixture->server = NULL;
    assert_true(steep_rpc_now_ms() - start < 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unary_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_status_and_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undecodable_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_exceeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_declared_oversize_and_bad_framing, setup, teardown),
        cmocka_unit_test(test_configurable_limits),
        cmocka_unit_test(test_idle_connection_reconnects),
        cmocka_unit_test_setup_teardown(test_handler_sees_cancellation, setup, teardown),
    };
    return fixture_main("calls", tests, sizeof(tests) / sizeof(tests[0]));
}
