/*
 * Opening a service's store as steep.toml says ([storage] backend and its
 * keys, documented in steep.toml(5)): the embedded LevelDB engine in the
 * service's directory, or an etcd cluster under
 * <storage.etcd_prefix><name>/, so the services sharing a cluster keep
 * apart (the storage service uses "storage").
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "store/etcd.h"
#include "store/store.h"

/* How long a service waits at start for its etcd cluster to answer. */
#define ETCD_START_PATIENCE_S 30

int steep_store_configured_etcd_settings(const struct steep_config *config,
                                         struct steep_etcd_config *etcd)
{
    const char *const *endpoints = NULL;
    size_t n = steep_config_get_string_array(config, "storage.etcd_endpoints", &endpoints);
    ENSURE(n > 0, "[storage] backend = \"etcd\" needs etcd_endpoints (e.g. "
                  "[\"https://10.0.0.1:2379\", \"https://10.0.0.2:2379\"])");
    *etcd = (struct steep_etcd_config){
        .endpoints = endpoints,
        .n_endpoints = n,
        .ca_file = steep_config_get_path(config, "storage.etcd_ca_file", NULL),
        .cert_file = steep_config_get_path(config, "storage.etcd_cert_file", NULL),
        .key_file = steep_config_get_path(config, "storage.etcd_key_file", NULL),
        .timeout_ms = (int)steep_config_get_int(config, "storage.etcd_timeout_ms", 4000),
    };
    ENSURE(etcd->ca_file, "[storage] backend = \"etcd\" needs etcd_ca_file (the CA that signed "
                          "the etcd members' certificates)");
    ENSURE(etcd->timeout_ms > 0, "[storage] etcd_timeout_ms must be positive");
    return 0;
}

bool steep_store_configured_etcd(const struct steep_config *config)
{
    return strcmp(steep_config_get_string(config, "storage.backend", "leveldb"), "etcd") == 0;
}

int steep_store_open_configured(const struct steep_config *config, const char *name,
                                const char *dir, const uint8_t key[STEEP_STORE_KEY_BYTES],
                                struct steep_store **out)
{
    const char *backend = steep_config_get_string(config, "storage.backend", "leveldb");
    if (strcmp(backend, "leveldb") == 0) {
        GUARD(steep_store_open(dir, key, STEEP_STORE_CREATE, out));
        log_info("%s: store open in %s", name, dir);
        return 0;
    }
    ENSURE(strcmp(backend, "etcd") == 0,
           "[storage] backend must be \"leveldb\" or \"etcd\", not \"%s\"", backend);
    struct steep_etcd_config etcd;
    GUARD(steep_store_configured_etcd_settings(config, &etcd));
    const char *base = steep_config_get_string(config, "storage.etcd_prefix", "steep/");
    char prefix[512];
    ENSURE((size_t)snprintf(prefix, sizeof prefix, "%s%s/", base, name) < sizeof prefix,
           "[storage] etcd_prefix is too long");
    /* A cluster started with the platform (steep up, a host's boot) may
     * still be electing its leader: unavailable is retried for a while,
     * anything else (TLS, credentials, a refused request) fails at once. */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int delay_ms = 250;; delay_ms = delay_ms < 2000 ? delay_ms * 2 : 2000) {
        if (steep_store_open_etcd(&etcd, prefix, key, STEEP_STORE_CREATE, out) == 0)
            break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!steep_etcd_last_unavailable() || now.tv_sec - start.tv_sec >= ETCD_START_PATIENCE_S)
            return -1;
        log_warn("%s: %s; retrying in %d ms", name, steep_error_get(), delay_ms);
        struct timespec pause = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    }
    log_info("%s: store open in etcd (%zu endpoints) under prefix '%s'", name, etcd.n_endpoints,
             prefix);
    return 0;
}
