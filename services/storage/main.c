/*
 * steep-storage: the durable, sealed key-value store of the platform.
 *
 * Opens the engine in <[steep] data_dir>/storage (or [storage] data_dir),
 * or on etcd with [storage] backend = "etcd" (lib/store/configured.c),
 * under a key derived from this service's TEE sealing key (label
 * "storage-db"), refusing to start on a corrupt, foreign or wrongly-keyed
 * store, and serves TeaclaveStorage + SteepStorage on
 * [internal_endpoints] storage.listen_address to the attested management
 * and scheduler services only. SIGTERM/SIGINT: stop accepting, let calls
 * in flight finish, close the store.
 *
 * Keys: [storage] max_key_bytes (4096), max_value_bytes (default: half the
 * internal message limit of [rpc] max_message_bytes minus framing, so a
 * compare-and-swap of two values fits one call; a task record carries its
 * arguments and result), workers (RPC handler threads; 0 = the RPC default), data_dir.
 */
#include <openssl/crypto.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "service/service.h"
#include "services/storage/service.h"
#include "tee/attested.h"

#define ETCD_DEFAULT_MAX_VALUE (1536 * 1024 - 128 * 1024)

static const char *const inbound[] = {"teaclave_management_service", "teaclave_scheduler_service"};

static int read_limits(const struct steep_config *config, struct steep_storage_service *service)
{
    int64_t max_key =
        steep_config_get_int(config, "storage.max_key_bytes", STEEP_STORE_DEFAULT_MAX_KEY);
    size_t max_message;
    GUARD(steep_service_max_message(config, &max_message));
    int64_t largest = (int64_t)(steep_rpc_internal_max_message(max_message) / 2) - 64 * 1024;
    /* On etcd a value must also fit one etcd request (--max-request-bytes,
     * 1.5 MiB by default): the default stays under it. */
    int64_t fallback = steep_store_configured_etcd(config) && largest > ETCD_DEFAULT_MAX_VALUE
                           ? ETCD_DEFAULT_MAX_VALUE
                           : largest;
    int64_t max_value = steep_config_get_int(config, "storage.max_value_bytes", fallback);
    ENSURE(max_key > 0 && max_key <= (1 << 20), "[storage] max_key_bytes must be in 1..1048576");
    ENSURE(max_value > 0 && max_value <= largest,
           "[storage] max_value_bytes must be in 1..%lld (half the internal RPC message limit "
           "minus framing)",
           (long long)largest);
    service->max_key_bytes = (size_t)max_key;
    service->max_value_bytes = (size_t)max_value;
    return 0;
}

static char *data_directory(const struct steep_config *config)
{
    const char *configured = steep_config_get_path(config, "storage.data_dir", NULL);
    return configured ? strdup(configured) : steep_config_service_dir(config, "storage");
}

static int open_store(const struct steep_config *config, struct steep_attested *attested,
                      struct steep_store **store)
{
    uint8_t key[STEEP_TEE_SEAL_KEY_LEN];
    char *dir = data_directory(config);
    ENSURE(dir, "no storage data directory: %s", steep_error_get());
    int rc = steep_attested_seal_key(attested, "storage-db", key);
    if (rc == 0)
        rc = steep_store_open_configured(config, "storage", dir, key, store);
    OPENSSL_cleanse(key, sizeof key);
    free(dir);
    return rc;
}

static int add_methods(struct steep_rpc_server *server, void *service)
{
    return steep_storage_service_register(server, service);
}

static int serve(struct steep_config *config, struct steep_attested *attested,
                 struct steep_storage_service *service, const sigset_t *stop)
{
    struct steep_service_endpoint endpoint = {
        .listen = config->internal[STEEP_ENDPOINT_STORAGE].listen_address,
        .name = "storage",
        .workers = (int)steep_config_get_int(config, "storage.workers", 0),
        .inbound = inbound,
        .n_inbound = 2,
        .add_methods = add_methods,
        .arg = service,
    };
    return steep_service_serve(attested, config, &endpoint, 1, stop, 5000);
}

static int run(struct steep_config *config, const sigset_t *stop)
{
    struct steep_storage_service service = {0};
    GUARD(read_limits(config, &service));
    struct steep_attested *attested =
        steep_attested_open_from_config(config, "teaclave_storage_service");
    if (!attested)
        return -1;
    int rc = open_store(config, attested, &service.store);
    if (rc == 0)
        rc = serve(config, attested, &service, stop);
    steep_store_close(service.store);
    steep_attested_free(attested);
    return rc;
}

int main(int argc, char **argv)
{
    sigset_t stop;
    struct steep_config *config = NULL;
    int rc = steep_service_begin(argc, argv, "storage", &stop, &config);
    if (rc)
        return rc;
    rc = run(config, &stop);
    if (rc < 0)
        log_error("%s", steep_error_get());
    steep_config_free(config);
    return rc < 0 ? 1 : 0;
}
