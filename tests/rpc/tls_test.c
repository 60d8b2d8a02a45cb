/*
 * TLS policy end to end: the verify hook on both sides (peer names,
 * refusals with their reason), required and optional client certificates,
 * CA-file verification, renewed credentials without restart, ALPN h2
 * required of the server, connect failures and timeouts.
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include "fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_tls_verify_hook),
        cmocka_unit_test_setup_teardown(test_client_verify_hook_refusal_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ca_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewed_credentials_without_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused_and_timeout, setup, teardown),
        cmocka_unit_test(test_client_refuses_server_without_alpn),
        cmocka_unit_test(test_optional_client_certificate),
    };
    return fixture_main("tls", tests, sizeof(tests) / sizeof(tests[0]));
}
