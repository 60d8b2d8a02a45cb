/*
 * Shared fixture of the RPC end-to-end tests: throwaway identities, an Echo
 * server on a free loopback port, a client to it, and the assertion that an
 * ordinary call still works (run after every refusal).
 */
#ifndef STEEP_TESTS_RPC_FIXTURE_H
#define STEEP_TESTS_RPC_FIXTURE_H

#include "rpc/internal.h"
#include "support.h"

/* CN "server", "client" and "stranger"; made by fixture_main. */
extern struct test_identity server_identity, client_identity, stranger_identity;

struct fixture {
    struct steep_rpc_server *server;
    struct steep_rpc_client *client;
};

/* An Echo server on 127.0.0.1:0 (or overrides->listen) with server_identity. */
struct steep_rpc_server *start_server(const struct steep_rpc_server_config *overrides);
struct steep_rpc_client *connect_client(int port, const struct steep_tls_config *tls);
int say(struct steep_rpc_client *client, const SteepTest__EchoRequest *request,
        SteepTest__EchoReply **reply, int timeout_ms, struct steep_rpc_status *status);
void assert_call_works(struct steep_rpc_client *client);
/* cmocka setup/teardown: a started server and a client to it. */
int setup(void **state);
int teardown(void **state);
/* Makes the identities, runs the group, frees them. */
int fixture_main(const char *name, const struct CMUnitTest *tests, size_t count);

#endif
