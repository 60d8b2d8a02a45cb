/*
 * The end-to-end tests' shared fixture (see fixture.h).
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

#include "core/log.h"

struct test_identity server_identity, client_identity, stranger_identity;

struct steep_rpc_server *start_server(const struct steep_rpc_server_config *overrides)
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

struct steep_rpc_client *connect_client(int port, const struct steep_tls_config *tls)
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

int say(struct steep_rpc_client *client, const SteepTest__EchoRequest *request,
        SteepTest__EchoReply **reply, int timeout_ms, struct steep_rpc_status *status)
{
    return steep_rpc_call(client, ECHO_SAY, &request->base, &steep_test__echo_reply__descriptor,
                          (ProtobufCMessage **)reply, NULL, 0, timeout_ms, status);
}

/* One ordinary call that must succeed: run after every refusal. */
void assert_call_works(struct steep_rpc_client *client)
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

int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    fixture->server = start_server(NULL);
    fixture->client = connect_client(steep_rpc_server_port(fixture->server), NULL);
    *state = fixture;
    return 0;
}

int teardown(void **state)
{
    struct fixture *fixture = *state;
    steep_rpc_client_free(fixture->client);
    steep_rpc_server_free(fixture->server);
    free(fixture);
    return 0;
}

int fixture_main(const char *name, const struct CMUnitTest *tests, size_t count)
{
    steep_log_init(name);
    if (test_identity_generate(&server_identity, "server") < 0 ||
        test_identity_generate(&client_identity, "client") < 0 ||
        test_identity_generate(&stranger_identity, "stranger") < 0)
        return 1;
    int failed = _cmocka_run_group_tests(name, tests, count, NULL, NULL);
    test_identity_free(&server_identity);
    test_identity_free(&client_identity);
    test_identity_free(&stranger_identity);
    return failed;
}
