/*
 * An in-process storage service on 127.0.0.1 (a free port), with a test
 * TLS identity, and clients for it. Used by the service tests, the crash
 * driver and the benchmark.
 */
#ifndef STEEP_TESTS_STORAGE_SERVER_HELPER_H
#define STEEP_TESTS_STORAGE_SERVER_HELPER_H

#include "services/storage/service.h"
#include "store/store_client.h"

struct test_storage_server {
    struct steep_store *store;
    struct steep_storage_service service;
    struct steep_rpc_server *server;
    struct steep_tls_config tls;
    int port;
};

extern const uint8_t test_storage_key[STEEP_STORE_KEY_BYTES];

/* The next servers' worker ceiling ([rpc] max_workers; 0: the RPC default; set: 64 queued)
 * and queue bound; workers kept ready is at most this. */
extern int test_storage_max_workers;

/* port 0: any free port. max_key/max_value 0: the defaults. */
int test_storage_server_start(struct test_storage_server *s, const char *dir, int port,
                              size_t max_key, size_t max_value);
void test_storage_server_stop(struct test_storage_server *s);
struct steep_store_client *test_storage_client(int port);

#endif
