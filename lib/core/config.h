/*
 * The platform configuration: ONE TOML file (lib/core/toml.h) shared by all
 * Steep services, holding Teaclave's runtime-config keys plus Steep's own.
 *
 * steep_config_load() parses the file, validates Teaclave's tables as
 * Teaclave does (config/src/runtime.rs) and keeps the whole document so
 * each service reads its own keys with the typed getters below, without
 * editing this module. Relative paths are resolved against the directory
 * of the config file.
 *
 * Teaclave's keys (validated at load; all required unless a default is given):
 *   [api_endpoints]
 *   authentication = { listen_address = "0.0.0.0:7776" }
 *   frontend       = { listen_address = "0.0.0.0:7777" }
 *   [internal_endpoints]            (all six names required)
 *   access_control = { listen_address = "0.0.0.0:17779", advertised_address =
 * "https://localhost:17779" } authentication / management / storage / execution / scheduler: the
 * same shape (listen_address "host:port" or "[v6]:port"; advertised_address "scheme://host:port")
 *   [audit]
 *   enclave_info = { path = "enclave_info.toml" }          (file read at load)
 *   auditor_signatures = [ { path = "a.sign.sha256" }, ... ] (files read at load; may be empty)
 *   [attestation]
 *   algorithm = "sim" | "sgx_epid" | "sgx_ecdsa"
 *   url  = "https://api.trustedservices.intel.com:443"  (default; must be scheme://host)
 *   key  = "<32 chars>", spid = "<32 hex chars>"  (required and checked only for sgx_*)
 *   If all four of AS_ALGO, AS_URL, AS_SPID, AS_KEY are set in the environment
 *   they replace the [attestation] table (then validated the same way).
 *   [mount]
 *   fusion_base_dir = "/tmp/fusion_data"                    (default)
 *
 * Steep's keys are read by their owners through the getters, e.g.
 *   [steep] data_dir = "data"   -> steep_config_service_dir(cfg, "storage")
 *   [execution] slots = 2       -> steep_config_get_int(cfg, "execution.slots", 2)
 * A key of the wrong type makes the getter return the default, log
 * "file:line:column: key must be a T, not a U" and remember the error;
 * steep_config_check() then fails with the first such error, so a service
 * calls it once after reading its keys and exits non-zero on failure.
 * Getters are thread-safe; returned strings live as long as the config.
 */
#ifndef STEEP_CORE_CONFIG_H
#define STEEP_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/toml.h"

enum steep_endpoint {
    STEEP_ENDPOINT_ACCESS_CONTROL,
    STEEP_ENDPOINT_AUTHENTICATION,
    STEEP_ENDPOINT_MANAGEMENT,
    STEEP_ENDPOINT_STORAGE,
    STEEP_ENDPOINT_EXECUTION,
    STEEP_ENDPOINT_SCHEDULER,
    STEEP_ENDPOINT_COUNT,
};

struct steep_internal_endpoint {
    const char *listen_address;     /* "0.0.0.0:17778" */
    const char *advertised_address; /* "https://localhost:17778" */
};

struct steep_config_file {
    char *path; /* resolved */
    uint8_t *data;
    size_t len;
};

struct steep_config_state; /* private: getter caches and remembered errors */

struct steep_config {
    char *path; /* as given */
    char *dir;  /* directory of the file, for relative paths */
    struct steep_toml_value *root;

    const char *api_authentication_listen;
    const char *api_frontend_listen;
    struct steep_internal_endpoint internal[STEEP_ENDPOINT_COUNT];

    struct steep_config_file enclave_info;
    struct steep_config_file *auditor_signatures;
    size_t auditor_signature_count;

    char *attestation_algorithm; /* "sim", "sgx_epid" or "sgx_ecdsa" */
    char *attestation_url;
    char *attestation_key;  /* "" for sim when absent */
    char *attestation_spid; /* "" for sim when absent */

    char *fusion_base_dir; /* resolved */

    struct steep_config_state *state;
};

/* Loads and validates; on failure returns -1 with "file:line:column: message"
 * (or "file: message" for a missing key). */
int steep_config_load(const char *path, struct steep_config **out);
/* The same from bytes already in memory; path names the document in errors
 * and gives the directory for relative paths (tests, fuzzing). */
int steep_config_load_buffer(const char *path, const void *data, size_t len,
                             struct steep_config **out);
void steep_config_free(struct steep_config *cfg);

/* "access_control", "authentication", "management", "storage", "execution",
 * "scheduler" -> endpoint; -1 for anything else. */
int steep_config_endpoint_index(const char *name);
const char *steep_config_endpoint_name(enum steep_endpoint endpoint);
/* The "host:port" to connect to for an advertised address "https://host:port[/]". */
int steep_config_connect_address(const char *advertised, char *out, size_t out_len);
/* What a client of endpoint connects to: its advertised address's
 * "host:port", then those of internal_endpoints.NAME.replica_addresses
 * (the peer's other replicas), comma-separated; lib/rpc fails over between
 * them (rpc.h). */
int steep_config_peer_address(const struct steep_config *cfg, enum steep_endpoint endpoint,
                              char *out, size_t out_len);

/* Typed getters for "table.key" (any depth); the default when absent. */
int64_t steep_config_get_int(const struct steep_config *cfg, const char *key, int64_t def);
const char *steep_config_get_string(const struct steep_config *cfg, const char *key,
                                    const char *def);
bool steep_config_get_bool(const struct steep_config *cfg, const char *key, bool def);
/* An array of strings; returns the count (0 when absent) and sets *items
 * (NULL when absent). */
size_t steep_config_get_string_array(const struct steep_config *cfg, const char *key,
                                     const char *const **items);
/* A string holding a path, resolved against the config file's directory. */
const char *steep_config_get_path(const struct steep_config *cfg, const char *key, const char *def);
/* The raw value (NULL when absent), for shapes the getters do not cover. */
const struct steep_toml_value *steep_config_value(const struct steep_config *cfg, const char *key);
/* 0, or -1 with the first type error any getter met. */
int steep_config_check(const struct steep_config *cfg);

/* Resolves path against the config file's directory (absolute paths are
 * kept); the caller frees the result. */
char *steep_config_resolve(const struct steep_config *cfg, const char *path);
/* <[steep] data_dir (default "data")>/<service>, created (mode 0700) if
 * missing; the caller frees the result. NULL with an error on failure. */
char *steep_config_service_dir(const struct steep_config *cfg, const char *service);

#endif
