/*
 * Test harness for in-process RPC services (access control and
 * authentication tests): a server on 127.0.0.1 with a free port and a fresh
 * self-signed P-256 certificate, plus a client that verifies nothing
 * (attestation is tested by lib/tee's tests; here the handlers are).
 */
#ifndef STEEP_TESTS_RPC_HARNESS_H
#define STEEP_TESTS_RPC_HARNESS_H

#include "rpc/rpc.h"

struct test_server {
    struct steep_rpc_server *server;
    struct steep_rpc_client *client;
    struct steep_tls_config tls;
    int port;
};

typedef int (*test_register_fn)(struct steep_rpc_server *server, void *arg);

/* Starts a server with the methods `add` registers and connects a client. */
int test_server_start(struct test_server *t, test_register_fn add, void *arg);
void test_server_stop(struct test_server *t);

#endif
