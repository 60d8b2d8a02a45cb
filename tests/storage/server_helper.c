/* In-process storage service for tests and benchmarks (server_helper.h). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "server_helper.h"
#include "test_tls.h"

int test_storage_max_workers;

const uint8_t test_storage_key[STEEP_STORE_KEY_BYTES] = {0x5e, 0xe9, 7, 7, 7};

int test_storage_server_start(struct test_storage_server *s, const char *dir, int port,
                              size_t max_key, size_t max_value)
{
    char listen[64];
    memset(s, 0, sizeof *s);
    GUARD(steep_store_open(dir, test_storage_key, STEEP_STORE_CREATE, &s->store));
    s->service = (struct steep_storage_service){s->store, max_key, max_value, 0};
    GUARD(test_tls_server_identity(&s->tls));
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    int ceiling = test_storage_max_workers;
    struct steep_rpc_server_config config = {.listen = listen,
                                             .tls = s->tls,
                                             .workers = ceiling && ceiling < 8 ? ceiling : 8,
                                             .max_workers = ceiling,
                                             .max_queued = ceiling ? 64 : 0,
                                             .name = "storage-test"};
    s->server = steep_rpc_server_new(&config);
    ENSURE(s->server, "server: %s", steep_error_get());
    GUARD(steep_storage_service_register(s->server, &s->service));
    GUARD(steep_rpc_server_start(s->server));
    s->port = steep_rpc_server_port(s->server);
    return 0;
}

void test_storage_server_stop(struct test_storage_server *s)
{
    if (s->server) {
        steep_rpc_server_stop(s->server, 2000);
        steep_rpc_server_free(s->server);
    }
    steep_store_close(s->store);
    test_tls_server_identity_free(&s->tls);
    memset(s, 0, sizeof *s);
}

struct steep_store_client *test_storage_client(int port)
{
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", port);
    struct steep_store_client_config config = {.address = address, .timeout_ms = 10000};
    return steep_store_client_new(&config);
}
