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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <sys/socket.h>
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

static void test_mutual_tls_verify_hook(void **state)
{
    struct test_verifier verifier = {.names = {"client"}};
    struct steep_rpc_server_config config = {0};
    config.tls.verify_peer = test_verifier_check;
    config.tls.verify_arg = &verifier;
    config.tls.require_peer_cert = true;
    struct steep_rpc_server *server = start_server(&config);
    int port = steep_rpc_server_port(server);

    struct steep_tls_config good = {.credentials = test_identity_credentials,
                                    .credentials_arg = &client_identity};
    struct steep_rpc_client *client = connect_client(port, &good);
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(client, &request, &reply, 5000, &status), 0);
    assert_string_equal(reply->peer_name, "client");
    protobuf_c_message_free_unpacked(&reply->base, NULL);

    /* A certificate the hook refuses, then no certificate at all. */
    struct steep_tls_config bad = {.credentials = test_identity_credentials,
                                   .credentials_arg = &stranger_identity};
    struct steep_rpc_client *stranger = connect_client(port, &bad);
    assert_int_equal(say(stranger, &request, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
    steep_rpc_client_free(stranger);
    assert_call_works(client);
    struct steep_rpc_client *anonymous = connect_client(port, NULL);
    assert_int_equal(say(anonymous, &request, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
    steep_rpc_client_free(anonymous);
    assert_call_works(client);
    assert_true(verifier.calls >= 2);
    steep_rpc_client_free(client);
    steep_rpc_server_free(server);
}

static void test_client_verify_hook_refusal_reason(void **state)
{
    struct fixture *fixture = *state;
    struct test_verifier verifier = {.names = {"another-service"}};
    struct steep_tls_config tls = {.verify_peer = test_verifier_check, .verify_arg = &verifier};
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(fixture->server), &tls);
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(client, &request, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
    assert_non_null(strstr(status.message, "common name 'server' is not allowed"));
    /* The hook is asked again on the next call's handshake. */
    verifier.names[1] = "server";
    assert_call_works(client);
    assert_int_equal(verifier.calls, 2);
    steep_rpc_client_free(client);
    assert_call_works(fixture->client);
}

static void test_client_ca_file(void **state)
{
    struct fixture *fixture = *state;
    char directory[] = "/tmp/steep-rpc-test-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char good_ca[128], bad_ca[128], key[128];
    snprintf(good_ca, sizeof(good_ca), "%s/server.crt", directory);
    snprintf(bad_ca, sizeof(bad_ca), "%s/stranger.crt", directory);
    snprintf(key, sizeof(key), "%s/key.pem", directory);
    assert_int_equal(test_identity_write(&server_identity, good_ca, key), 0);
    assert_int_equal(test_identity_write(&stranger_identity, bad_ca, key), 0);
    struct steep_tls_config tls = {.ca_file = good_ca};
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(fixture->server), &tls);
    assert_call_works(client);
    steep_rpc_client_free(client);
    tls.ca_file = bad_ca;
    client = connect_client(steep_rpc_server_port(fixture->server), &tls);
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(client, &request, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
    assert_non_null(strstr(status.message, "certificate verif"));
    steep_rpc_client_free(client);
    unlink(good_ca);
    unlink(bad_ca);
    unlink(key);
    rmdir(directory);
}

static int peer_common_name(void *arg, X509 *leaf, STACK_OF(X509) * chain, char *peer_name,
                            size_t peer_name_len, char *reason, size_t reason_len)
{
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, arg, 64);
    return 0;
}

static void test_renewed_credentials_without_restart(void **state)
{
    struct fixture *fixture = *state;
    char seen[64] = "";
    struct steep_tls_config tls = {.verify_peer = peer_common_name, .verify_arg = seen};
    struct steep_rpc_client *client = connect_client(steep_rpc_server_port(fixture->server), &tls);
    assert_call_works(client);
    assert_string_equal(seen, "server");
    steep_rpc_client_free(client);
    /* Renew: the next handshake presents the new certificate. */
    struct test_identity renewed;
    assert_int_equal(test_identity_generate(&renewed, "server-renewed"), 0);
    pthread_mutex_lock(&server_identity.lock);
    X509 *old_cert = server_identity.cert;
    EVP_PKEY *old_key = server_identity.key;
    server_identity.cert = renewed.cert;
    server_identity.key = renewed.key;
    pthread_mutex_unlock(&server_identity.lock);
    client = connect_client(steep_rpc_server_port(fixture->server), &tls);
    assert_call_works(client);
    assert_string_equal(seen, "server-renewed");
    steep_rpc_client_free(client);
    pthread_mutex_lock(&server_identity.lock);
    server_identity.cert = old_cert;
    server_identity.key = old_key;
    pthread_mutex_unlock(&server_identity.lock);
    test_identity_free(&renewed);
}

static void test_connection_refused_and_timeout(void **state)
{
    struct fixture *fixture = *state;
    int port = steep_rpc_server_port(fixture->server);
    steep_rpc_server_free(fixture->server);
    fixture->server = NULL;
    struct steep_rpc_client *client = connect_client(port, NULL);
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(client, &request, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
    assert_non_null(strstr(status.message, "connect"));
    steep_rpc_client_free(client);
    /* A listener that never completes the handshake: the connect timeout applies. */
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(listener, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(listen(listener, 8), 0);
    socklen_t length = sizeof(address);
    getsockname(listener, (struct sockaddr *)&address, &length);
    char text[64];
    snprintf(text, sizeof(text), "127.0.0.1:%d", ntohs(address.sin_port));
    struct steep_rpc_client_config config = {.address = text, .connect_timeout_ms = 300};
    client = steep_rpc_client_new(&config);
    int64_t start = steep_rpc_now_ms();
    assert_int_equal(say(client, &request, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
    assert_non_null(strstr(status.message, "timed out"));
    assert_true(steep_rpc_now_ms() - start < 2000);
    steep_rpc_client_free(client);
    close(listener);
}

struct plain_tls_server {
    int listener;
    int port;
    pthread_t thread;
};

/* Accepts one connection and completes a TLS handshake without ALPN. */
static void *plain_tls_accept(void *arg)
{
    struct plain_tls_server *plain = arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, server_identity.cert);
    SSL_CTX_use_PrivateKey(ctx, server_identity.key);
    int fd = accept(plain->listener, NULL, NULL);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        char buffer[256];
        while (SSL_read(ssl, buffer, sizeof(buffer)) > 0) {
        }
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    return NULL;
}

static void test_client_refuses_server_without_alpn(void **state)
{
    struct plain_tls_server plain;
    plain.listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(plain.listener, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(listen(plain.listener, 8), 0);
    socklen_t length = sizeof(address);
    getsockname(plain.listener, (struct sockaddr *)&address, &length);
    pthread_create(&plain.thread, NULL, plain_tls_accept, &plain);
    struct steep_rpc_client *client = connect_client(ntohs(address.sin_port), NULL);
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    assert_int_equal(say(client, &request, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
    assert_non_null(strstr(status.message, "ALPN h2"));
    steep_rpc_client_free(client);
    pthread_join(plain.thread, NULL);
    close(plain.listener);
}

static void test_optional_client_certificate(void **state)
{
    struct test_verifier verifier = {.names = {"client"}};
    struct steep_rpc_server_config config = {0};
    config.tls.verify_peer = test_verifier_check;
    config.tls.verify_arg = &verifier;
    struct steep_rpc_server *server = start_server(&config);
    int port = steep_rpc_server_port(server);
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    /* Without a certificate: accepted, no peer name. */
    struct steep_rpc_client *anonymous = connect_client(port, NULL);
    assert_int_equal(say(anonymous, &request, &reply, 5000, &status), 0);
    assert_string_equal(reply->peer_name, "");
    protobuf_c_message_free_unpacked(&reply->base, NULL);
    /* With one: verified and named. */
    struct steep_tls_config tls = {.credentials = test_identity_credentials,
                                   .credentials_arg = &client_identity};
    struct steep_rpc_client *named = connect_client(port, &tls);
    assert_int_equal(say(named, &request, &reply, 5000, &status), 0);
    assert_string_equal(reply->peer_name, "client");
    protobuf_c_message_free_unpacked(&reply->base, NULL);
    /* A certificate the hook refuses is refused even though optional. */
    tls.credentials_arg = &stranger_identity;
    struct steep_rpc_client *stranger = connect_client(port, &tls);
    assert_int_equal(say(stranger, &request, &reply, 5000, &status), -1);
    assert_int_equal(status.code, STEEP_GRPC_UNAVAILABLE);
    assert_call_works(anonymous);
    steep_rpc_client_free(stranger);
    steep_rpc_client_free(named);
    steep_rpc_client_free(anonymous);
    steep_rpc_server_free(server);
}

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
    assert_true(peak > 32u * 1024 * 1024);
    assert_true(peak <= 64u * 1024 * 1024);
    steep_buf_free(&block);
    steep_buf_free(&wire);
    steep_rpc_memory_conn_free(conn);
    steep_rpc_server_free(server);
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
        cmocka_unit_test_setup_teardown(test_compressed_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_declared_oversize_and_bad_framing, setup, teardown),
        cmocka_unit_test(test_configurable_limits),
        cmocka_unit_test(test_mutual_tls_verify_hook),
        cmocka_unit_test_setup_teardown(test_client_verify_hook_refusal_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ca_file, setup, teardown),
        cmocka_unit_test(test_client_refuses_server_without_alpn),
        cmocka_unit_test(test_optional_client_certificate),
        cmocka_unit_test_setup_teardown(test_renewed_credentials_without_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_100_concurrent_calls_one_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_clients, setup, teardown),
        cmocka_unit_test(test_long_blocking_calls_do_not_starve),
        cmocka_unit_test_setup_teardown(test_graceful_stop_finishes_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grace_period_ends_stuck_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_after_server_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_sees_cancellation, setup, teardown),
        cmocka_unit_test(test_in_memory_transport_reaches_handlers),
        cmocka_unit_test(test_connection_buffer_limit),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    test_identity_free(&server_identity);
    test_identity_free(&client_identity);
    test_identity_free(&stranger_identity);
    return failed;
}
