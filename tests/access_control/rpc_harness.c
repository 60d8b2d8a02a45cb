/* In-process RPC server and client for tests; see rpc_harness.h. */
#include "rpc_harness.h"

#include "test_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int test_server_start(struct test_server *t, test_register_fn add, void *arg)
{
    memset(t, 0, sizeof *t);
    if (test_tls_server_identity(&t->tls) < 0)
        return -1;
    struct steep_rpc_server_config config = {
        .listen = "127.0.0.1:0", .tls = t->tls, .workers = 4, .name = "test"};
    t->server = steep_rpc_server_new(&config);
    if (!t->server || add(t->server, arg) < 0 || steep_rpc_server_start(t->server) < 0)
        return -1;
    t->port = steep_rpc_server_port(t->server);
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", t->port);
    struct steep_rpc_client_config client_config = {.address = address, .server_name = "localhost"};
    t->client = steep_rpc_client_new(&client_config);
    return t->client ? 0 : -1;
}

void test_server_stop(struct test_server *t)
{
    if (t->client)
        steep_rpc_client_free(t->client);
    if (t->server) {
        steep_rpc_server_stop(t->server, 1000);
        steep_rpc_server_free(t->server);
    }
    test_tls_server_identity_free(&t->tls);
    memset(t, 0, sizeof *t);
}
