/*
 * The server's request path over the in-memory transport the fuzzer uses:
 * cleartext HTTP/2 reaches handlers; streams that announce big messages and
 * never finish them keep the connection's and the server's buffered bytes
 * bounded (the oldest incomplete calls are refused first), and calls not
 * received in time are refused and their bytes freed.
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

static int memory_handler_calls;

static void counting_handler(struct steep_rpc_call *call, const ProtobufCMessage *message,
                             void *arg)
{
    const SteepTest__EchoRequest *request = (const SteepTest__EchoRequest *)message;
    memory_handler_calls++;
    assert_string_equal(request->message, "hi");
    assert_string_equal(steep_rpc_call_metadata(call, "id"), "alice");
    assert_true(steep_rpc_call_remaining_ms(call) > 0);
    test_echo_say(call, message, arg);
}

/* The fuzzer's path: cleartext HTTP/2 through the server's session code. */
static void test_in_memory_transport_reaches_handlers(void **state)
{
    FILE *seed = fopen("fuzz/corpus/rpc_request/valid_call", "rb");
    assert_non_null(seed);
    uint8_t data[4096];
    size_t size = fread(data, 1, sizeof(data), seed);
    fclose(seed);
    struct steep_rpc_server_config config = {
        .tls = {.credentials = test_identity_credentials, .credentials_arg = &server_identity}};
    struct steep_rpc_server *server = steep_rpc_server_new(&config);
    assert_int_equal(steep_rpc_server_add(server, ECHO_SAY, &steep_test__echo_request__descriptor,
                                          counting_handler, NULL),
                     0);
    struct steep_rpc_conn *conn = steep_rpc_memory_conn_new(server);
    assert_non_null(conn);
    assert_int_equal(steep_rpc_memory_conn_feed(conn, data + 1, size - 1), 0);
    assert_int_equal(memory_handler_calls, 1);
    /* DATA on stream 0 is a connection error: the session ends (GOAWAY). */
    const uint8_t bad[] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 'x'};
    int rc = steep_rpc_memory_conn_feed(conn, bad, sizeof(bad));
    assert_true(rc == -1 || !nghttp2_session_want_read(conn->session));
    steep_rpc_memory_conn_free(conn);
    steep_rpc_server_free(server);
}

static void h2_frame(struct steep_buf *out, uint8_t type, uint8_t flags, uint32_t stream,
                     const void *payload, size_t length)
{
    uint8_t header[9] = {(uint8_t)(length >> 16),
                         (uint8_t)(length >> 8),
                         (uint8_t)length,
                         type,
                         flags,
                         (uint8_t)(stream >> 24),
                         (uint8_t)(stream >> 16),
                         (uint8_t)(stream >> 8),
                         (uint8_t)stream};
    steep_buf_append(out, header, sizeof(header));
    steep_buf_append(out, payload, length);
}

static void h2_literal(struct steep_buf *out, const char *name, const char *value)
{
    steep_buf_append_u8(out, 0);
    steep_buf_append_u8(out, (uint8_t)strlen(name));
    steep_buf_append(out, name, strlen(name));
    steep_buf_append_u8(out, (uint8_t)strlen(value));
    steep_buf_append(out, value, strlen(value));
}

/* A cleartext connection after the preface and SETTINGS. */
static struct steep_rpc_conn *open_conn(struct steep_rpc_server *server)
{
    struct steep_rpc_conn *conn = steep_rpc_memory_conn_new(server);
    assert_non_null(conn);
    struct steep_buf wire = STEEP_BUF_INIT;
    steep_buf_append(&wire, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    h2_frame(&wire, 4, 0, 0, NULL, 0);
    assert_int_equal(steep_rpc_memory_conn_feed(conn, wire.data, wire.len), 0);
    steep_buf_free(&wire);
    return conn;
}

/* HEADERS of an Echo call, a prefix announcing ~4 MiB, then chunks x 16 KiB;
 * never END_STREAM. Returns the call. */
static struct steep_rpc_call *hoard(struct steep_rpc_conn *conn, uint32_t stream, int chunks)
{
    struct steep_buf block = STEEP_BUF_INIT, wire = STEEP_BUF_INIT;
    h2_literal(&block, ":method", "POST");
    h2_literal(&block, ":scheme", "https");
    h2_literal(&block, ":path", ECHO_SAY);
    h2_literal(&block, ":authority", "localhost");
    h2_literal(&block, "content-type", "application/grpc");
    h2_literal(&block, "id", "mallory");
    const uint8_t prefix[5] = {0, 0, 0x3f, 0xff, 0};
    h2_frame(&wire, 1, 4, stream, block.data, block.len);
    h2_frame(&wire, 0, 0, stream, prefix, sizeof(prefix));
    assert_int_equal(steep_rpc_memory_conn_feed(conn, wire.data, wire.len), 0);
    struct steep_rpc_call *call = nghttp2_session_get_stream_user_data(conn->session, stream);
    assert_non_null(call);
    static uint8_t chunk[16384];
    for (int i = 0; i < chunks; i++) {
        wire.len = 0;
        h2_frame(&wire, 0, 0, stream, chunk, sizeof(chunk));
        assert_int_equal(steep_rpc_memory_conn_feed(conn, wire.data, wire.len), 0);
        assert_true(conn->server->buffered <= conn->server->max_buffered);
    }
    steep_buf_free(&block);
    steep_buf_free(&wire);
    return call;
}

/* Over the server's bound the oldest incomplete call goes, whatever its
 * connection; a call not whole in time goes too, and with it its bytes. */
static void test_server_buffer_limit(void **state)
{
    struct steep_rpc_server_config config = {
        .tls = {.credentials = test_identity_credentials, .credentials_arg = &server_identity},
        .max_buffered = 8u * 1024 * 1024,
        .receive_timeout_ms = 5000};
    struct steep_rpc_server *server = steep_rpc_server_new(&config);
    assert_int_equal(steep_rpc_server_add(server, ECHO_SAY, &steep_test__echo_request__descriptor,
                                          test_echo_say, NULL),
                     0);
    struct steep_rpc_conn *a = open_conn(server), *b = open_conn(server);
    struct steep_rpc_call *a1 = hoard(a, 1, 192); /* 3 MiB each */
    struct steep_rpc_call *b1 = hoard(b, 1, 192);
    assert_false(a1->responded);
    assert_true(server->buffered > 6u * 1024 * 1024);
    struct steep_rpc_call *b3 = hoard(b, 3, 192);
    /* a1, the oldest, made room for b3; b1 and b3 go on */
    assert_true(a1->responded);
    assert_int_equal(a->buffered, 0);
    assert_false(b1->responded);
    assert_false(b3->responded);
    assert_int_equal(server->refused_hoarding, 1);
    assert_true(server->buffered <= 8u * 1024 * 1024);
    assert_int_equal(server->buffered, b->buffered);
    /* not received in time: refused, nothing left buffered */
    steep_rpc_expire_receiving(server, steep_rpc_now_ms() + 1000);
    assert_false(b1->responded);
    steep_rpc_expire_receiving(server, steep_rpc_now_ms() + 5000);
    assert_true(b1->responded && b3->responded);
    assert_int_equal(server->buffered, 0);
    assert_int_equal(b->buffered, 0);
    assert_int_equal(server->refused_hoarding, 3);
    assert_null(server->receiving);
    steep_rpc_memory_conn_free(a);
    steep_rpc_memory_conn_free(b);
    steep_rpc_server_free(server);
}

/* Many streams that announce big messages and never finish them: the
 * connection's buffered request bytes stay bounded, and a declared length
 * alone reserves little. */
static void test_connection_buffer_limit(void **state)
{
    struct steep_rpc_server_config config = {
        .tls = {.credentials = test_identity_credentials, .credentials_arg = &server_identity}};
    struct steep_rpc_server *server = steep_rpc_server_new(&config);
    assert_int_equal(steep_rpc_server_add(server, ECHO_SAY, &steep_test__echo_request__descriptor,
                                          test_echo_say, NULL),
                     0);
    struct steep_rpc_conn *conn = steep_rpc_memory_conn_new(server);
    struct steep_buf wire = STEEP_BUF_INIT;
    steep_buf_append(&wire, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    h2_frame(&wire, 4, 0, 0, NULL, 0);
    assert_int_equal(steep_rpc_memory_conn_feed(conn, wire.data, wire.len), 0);
    struct steep_buf block = STEEP_BUF_INIT;
    h2_literal(&block, ":method", "POST");
    h2_literal(&block, ":scheme", "https");
    h2_literal(&block, ":path", ECHO_SAY);
    h2_literal(&block, ":authority", "localhost");
    h2_literal(&block, "content-type", "application/grpc");
    static uint8_t chunk[16384];
    const uint8_t prefix[5] = {0, 0, 0x3f, 0xff, 0};
    size_t peak = 0;
    for (uint32_t stream = 1; stream < 2 * 40; stream += 2) {
        wire.len = 0;
        h2_frame(&wire, 1, 4, stream, block.data, block.len);
        h2_frame(&wire, 0, 0, stream, prefix, sizeof(prefix));
        assert_int_equal(steep_rpc_memory_conn_feed(conn, wire.data, wire.len), 0);
        if (stream == 1)
            assert_true(conn->calls->reader.message.cap <= 128 * 1024);
        for (int i = 0; i < 200; i++) { /* 3.2 MiB of the announced ~4 MiB */
            wire.len = 0;
            h2_frame(&wire, 0, 0, stream, chunk, sizeof(chunk));
            assert_int_equal(steep_rpc_memory_conn_feed(conn, wire.data, wire.len), 0);
            if (conn->buffered > peak)
                peak = conn->buffered;
        }
    }
    /* the default bound: 32 MiB per connection */
    assert_true(peak > 24u * 1024 * 1024);
    assert_true(peak <= 32u * 1024 * 1024);
    assert_true(server->refused_hoarding > 0);
    steep_buf_free(&block);
    steep_buf_free(&wire);
    steep_rpc_memory_conn_free(conn);
    steep_rpc_server_free(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_memory_transport_reaches_handlers),
        cmocka_unit_test(test_connection_buffer_limit),
        cmocka_unit_test(test_server_buffer_limit),
    };
    return fixture_main("memory-transport", tests, sizeof(tests) / sizeof(tests[0]));
}
