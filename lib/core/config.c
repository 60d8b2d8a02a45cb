/*
 * Loading the platform config and validating Teaclave's runtime-config
 * tables (see config.h for the keys).
 *
 * Required keys are read through require_*() helpers that name the key and,
 * for a value of the wrong type or shape, its position in the file. The
 * attestation table follows Teaclave's rules for the SGX algorithms
 * (32-character key and SPID, URL with a scheme); the "sim" algorithm needs
 * neither key nor SPID. Files named by [audit] are read at load, as Teaclave
 * does, so a missing enclave_info fails at start-up rather than later.
 */
#include "core/config.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/config_internal.h"
#include "core/error.h"
#include "core/text.h"

#define CONFIG_MAX_AUDIT_FILE   (1024 * 1024)
#define DEFAULT_ATTESTATION_URL "https://api.trustedservices.intel.com:443"
#define DEFAULT_FUSION_BASE_DIR "/tmp/fusion_data"

static const char *const endpoint_names[STEEP_ENDPOINT_COUNT] = {
    "access_control", "authentication", "management", "storage", "execution", "scheduler",
};

int steep_config_endpoint_index(const char *name)
{
    for (int i = 0; i < STEEP_ENDPOINT_COUNT; i++)
        if (strcmp(name, endpoint_names[i]) == 0)
            return i;
    return -1;
}

const char *steep_config_endpoint_name(enum steep_endpoint endpoint)
{
    return endpoint < STEEP_ENDPOINT_COUNT ? endpoint_names[endpoint] : "unknown";
}

/* ---- required keys -------------------------------------------------------- */

static int require_value(const struct steep_config *cfg, const char *key, enum steep_toml_type type,
                         const struct steep_toml_value **out)
{
    const struct steep_toml_value *value = steep_toml_find(cfg->root, key);
    ENSURE(value, "%s: missing key '%s'", cfg->path, key);
    if (value->type != type)
        return steep_config_type_error(cfg, key, value, type);
    *out = value;
    return 0;
}

static int require_string(const struct steep_config *cfg, const char *key, const char **out)
{
    const struct steep_toml_value *value;
    GUARD(require_value(cfg, key, STEEP_TOML_STRING, &value));
    *out = value->as.string;
    return 0;
}

static int value_error(const struct steep_config *cfg, const char *key,
                       const struct steep_toml_value *value, const char *problem)
{
    return steep_error_set("%s:%u:%u: %s %s", cfg->path, value->line, value->column, key, problem);
}

/* "host:port" or "[v6]:port" with a decimal port 0..65535. */
static bool valid_socket_address(const char *address)
{
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address)
        return false;
    if (address[0] == '[' && colon[-1] != ']')
        return false;
    const char *port = colon + 1;
    uint64_t number;
    return strlen(port) <= 5 && steep_parse_u64(port, strlen(port), 65535, &number) == 0;
}

static bool has_scheme(const char *url)
{
    const char *sep = strstr(url, "://");
    return sep && sep != url && sep[3] != '\0' && sep[3] != '/';
}

int steep_config_connect_address(const char *advertised, char *out, size_t out_len)
{
    const char *sep = strstr(advertised, "://");
    ENSURE(sep && sep != advertised, "address '%s' has no scheme (expected https://host:port)",
           advertised);
    const char *host = sep + 3;
    size_t n = strcspn(host, "/");
    ENSURE(n > 0 && n < out_len, "address '%s' has no usable host", advertised);
    memcpy(out, host, n);
    out[n] = '\0';
    ENSURE(valid_socket_address(out), "address '%s' has no host:port", advertised);
    return 0;
}

int steep_config_peer_address(const struct steep_config *cfg, enum steep_endpoint endpoint,
                              char *out, size_t out_len)
{
    ENSURE(endpoint < STEEP_ENDPOINT_COUNT, "unknown endpoint %d", (int)endpoint);
    GUARD(steep_config_connect_address(cfg->internal[endpoint].advertised_address, out, out_len));
    char key[128];
    snprintf(key, sizeof key, "internal_endpoints.%s.replica_addresses", endpoint_names[endpoint]);
    const char *const *replicas = NULL;
    size_t n = steep_config_get_string_array(cfg, key, &replicas);
    for (size_t i = 0; i < n; i++) {
        char one[256];
        GUARD(steep_config_connect_address(replicas[i], one, sizeof one));
        size_t used = strlen(out);
        ENSURE(used + 1 + strlen(one) < out_len, "%s: too many replica addresses", key);
        out[used] = ',';
        memcpy(out + used + 1, one, strlen(one) + 1);
    }
    return 0;
}

static int require_listen(const struct steep_config *cfg, const char *key, const char **out)
{
    GUARD(require_string(cfg, key, out));
    if (!valid_socket_address(*out))
        return value_error(cfg, key, steep_toml_find(cfg->root, key),
                           "must be a socket address host:port");
    return 0;
}

/* ---- tables --------------------------------------------------------------- */

static int load_endpoints(struct steep_config *cfg)
{
    GUARD(require_listen(cfg, "api_endpoints.authentication.listen_address",
                         &cfg->api_authentication_listen));
    GUARD(require_listen(cfg, "api_endpoints.frontend.listen_address", &cfg->api_frontend_listen));
    for (int i = 0; i < STEEP_ENDPOINT_COUNT; i++) {
        char key[128];
        snprintf(key, sizeof key, "internal_endpoints.%s.listen_address", endpoint_names[i]);
        GUARD(require_listen(cfg, key, &cfg->internal[i].listen_address));
        snprintf(key, sizeof key, "internal_endpoints.%s.advertised_address", endpoint_names[i]);
        GUARD(require_string(cfg, key, &cfg->internal[i].advertised_address));
        char host_port[256];
        if (steep_config_connect_address(cfg->internal[i].advertised_address, host_port,
                                         sizeof host_port) < 0)
            return value_error(cfg, key, steep_toml_find(cfg->root, key),
                               "must be scheme://host:port (e.g. https://localhost:17778)");
        snprintf(key, sizeof key, "internal_endpoints.%s.replica_addresses", endpoint_names[i]);
        const struct steep_toml_value *replicas = steep_toml_find(cfg->root, key);
        if (replicas && replicas->type != STEEP_TOML_ARRAY)
            return steep_config_type_error(cfg, key, replicas, STEEP_TOML_ARRAY);
        for (size_t j = 0; replicas && j < replicas->as.array.count; j++) {
            const struct steep_toml_value *one = replicas->as.array.items[j];
            if (one->type != STEEP_TOML_STRING ||
                steep_config_connect_address(one->as.string, host_port, sizeof host_port) < 0)
                return value_error(cfg, key, one,
                                   "must list scheme://host:port strings (the peer's other "
                                   "replicas)");
        }
    }
    return 0;
}

static int read_path_file(struct steep_config *cfg, const char *key,
                          const struct steep_toml_value *table, struct steep_config_file *file)
{
    if (table->type != STEEP_TOML_TABLE)
        return steep_config_type_error(cfg, key, table, STEEP_TOML_TABLE);
    const struct steep_toml_value *path = steep_toml_get(table, "path");
    if (!path)
        return value_error(cfg, key, table, "needs a 'path' key");
    if (path->type != STEEP_TOML_STRING)
        return steep_config_type_error(cfg, key, path, STEEP_TOML_STRING);
    file->path = steep_config_resolve(cfg, path->as.string);
    ENSURE(file->path, "out of memory");
    struct steep_buf data = STEEP_BUF_INIT;
    if (steep_read_file(file->path, CONFIG_MAX_AUDIT_FILE, &data) < 0)
        return steep_error_wrap("%s:%u:%u: %s", cfg->path, path->line, path->column, key);
    file->data = steep_buf_detach(&data, &file->len);
    return 0;
}

static int load_audit(struct steep_config *cfg)
{
    const struct steep_toml_value *info;
    GUARD(require_value(cfg, "audit.enclave_info", STEEP_TOML_TABLE, &info));
    GUARD(read_path_file(cfg, "audit.enclave_info", info, &cfg->enclave_info));
    const struct steep_toml_value *signatures;
    GUARD(require_value(cfg, "audit.auditor_signatures", STEEP_TOML_ARRAY, &signatures));
    size_t n = signatures->as.array.count;
    if (n == 0)
        return 0;
    cfg->auditor_signatures = calloc(n, sizeof *cfg->auditor_signatures);
    ENSURE(cfg->auditor_signatures, "out of memory");
    cfg->auditor_signature_count = n;
    for (size_t i = 0; i < n; i++)
        GUARD(read_path_file(cfg, "audit.auditor_signatures", signatures->as.array.items[i],
                             &cfg->auditor_signatures[i]));
    return 0;
}

static int copy_string(char **out, const char *value)
{
    *out = strdup(value);
    ENSURE(*out, "out of memory");
    return 0;
}

static int optional_string(const struct steep_config *cfg, const char *key, const char *def,
                           char **out)
{
    const struct steep_toml_value *value = steep_toml_find(cfg->root, key);
    if (!value)
        return copy_string(out, def);
    if (value->type != STEEP_TOML_STRING)
        return steep_config_type_error(cfg, key, value, STEEP_TOML_STRING);
    return copy_string(out, value->as.string);
}

static int validate_attestation(const struct steep_config *cfg, const char *source)
{
    const char *algorithm = cfg->attestation_algorithm;
    if (strcmp(algorithm, "sim") == 0)
        return 0;
    ENSURE(strcmp(algorithm, "sgx_epid") == 0 || strcmp(algorithm, "sgx_ecdsa") == 0,
           "%s: attestation algorithm '%s' is not one of sim, sgx_epid, sgx_ecdsa", source,
           algorithm);
    ENSURE(has_scheme(cfg->attestation_url), "%s: attestation url '%s' is not a valid URL", source,
           cfg->attestation_url);
    ENSURE(strlen(cfg->attestation_key) == 32, "%s: attestation key must be 32 characters", source);
    ENSURE(strlen(cfg->attestation_spid) == 32, "%s: attestation spid must be 32 characters",
           source);
    return 0;
}

static int load_attestation(struct steep_config *cfg)
{
    const char *algo = getenv("AS_ALGO"), *url = getenv("AS_URL");
    const char *spid = getenv("AS_SPID"), *key = getenv("AS_KEY");
    if (algo && url && spid && key) {
        GUARD(copy_string(&cfg->attestation_algorithm, algo));
        GUARD(copy_string(&cfg->attestation_url, url));
        GUARD(copy_string(&cfg->attestation_spid, spid));
        GUARD(copy_string(&cfg->attestation_key, key));
        return validate_attestation(cfg, "environment AS_*");
    }
    const char *algorithm;
    GUARD(require_string(cfg, "attestation.algorithm", &algorithm));
    GUARD(copy_string(&cfg->attestation_algorithm, algorithm));
    GUARD(optional_string(cfg, "attestation.url", DEFAULT_ATTESTATION_URL, &cfg->attestation_url));
    GUARD(optional_string(cfg, "attestation.key", "", &cfg->attestation_key));
    GUARD(optional_string(cfg, "attestation.spid", "", &cfg->attestation_spid));
    return validate_attestation(cfg, cfg->path);
}

static int load_mount(struct steep_config *cfg)
{
    char *dir = NULL;
    GUARD(optional_string(cfg, "mount.fusion_base_dir", DEFAULT_FUSION_BASE_DIR, &dir));
    cfg->fusion_base_dir = steep_config_resolve(cfg, dir);
    free(dir);
    ENSURE(cfg->fusion_base_dir, "out of memory");
    return 0;
}

/* ---- load / free ---------------------------------------------------------- */

static int config_directory(struct steep_config *cfg)
{
    char *copy = strdup(cfg->path);
    ENSURE(copy, "out of memory");
    const char *dir = dirname(copy);
    if (dir[0] == '/') {
        cfg->dir = strdup(dir);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            free(copy);
            return steep_error_set("cannot get the working directory: %s", strerror(errno));
        }
        size_t n = strlen(cwd) + strlen(dir) + 2;
        cfg->dir = malloc(n);
        if (cfg->dir)
            snprintf(cfg->dir, n, "%s/%s", cwd, dir);
    }
    free(copy);
    ENSURE(cfg->dir, "out of memory");
    return 0;
}

static int config_init(struct steep_config *cfg, const char *path)
{
    GUARD(copy_string(&cfg->path, path));
    GUARD(config_directory(cfg));
    cfg->state = calloc(1, sizeof *cfg->state);
    ENSURE(cfg->state, "out of memory");
    pthread_mutex_init(&cfg->state->lock, NULL);
    return 0;
}

static int config_validate(struct steep_config *cfg)
{
    GUARD(load_endpoints(cfg));
    GUARD(load_audit(cfg));
    GUARD(load_attestation(cfg));
    GUARD(load_mount(cfg));
    return 0;
}

static int config_finish(struct steep_config *cfg, int rc, struct steep_config **out)
{
    if (rc < 0) {
        steep_config_free(cfg);
        return -1;
    }
    *out = cfg;
    return 0;
}

int steep_config_load(const char *path, struct steep_config **out)
{
    struct steep_config *cfg = calloc(1, sizeof *cfg);
    ENSURE(cfg, "out of memory");
    int rc = config_init(cfg, path);
    if (rc == 0)
        rc = steep_toml_parse_file(path, &cfg->root);
    if (rc == 0)
        rc = config_validate(cfg);
    return config_finish(cfg, rc, out);
}

int steep_config_load_buffer(const char *path, const void *data, size_t len,
                             struct steep_config **out)
{
    struct steep_config *cfg = calloc(1, sizeof *cfg);
    ENSURE(cfg, "out of memory");
    int rc = config_init(cfg, path);
    if (rc == 0)
        rc = steep_toml_parse(path, data, len, &cfg->root);
    if (rc == 0)
        rc = config_validate(cfg);
    return config_finish(cfg, rc, out);
}

static void file_free(struct steep_config_file *file)
{
    free(file->path);
    free(file->data);
}

void steep_config_free(struct steep_config *cfg)
{
    if (!cfg)
        return;
    file_free(&cfg->enclave_info);
    for (size_t i = 0; i < cfg->auditor_signature_count; i++)
        file_free(&cfg->auditor_signatures[i]);
    free(cfg->auditor_signatures);
    free(cfg->attestation_algorithm);
    free(cfg->attestation_url);
    if (cfg->attestation_key)
        OPENSSL_cleanse(cfg->attestation_key, strlen(cfg->attestation_key));
    free(cfg->attestation_key);
    free(cfg->attestation_spid);
    free(cfg->fusion_base_dir);
    if (cfg->state) {
        struct config_allocation *a = cfg->state->allocations;
        while (a) {
            struct config_allocation *next = a->next;
            free(a->pointer);
            free(a);
            a = next;
        }
        free(cfg->state->first_error);
        pthread_mutex_destroy(&cfg->state->lock);
        free(cfg->state);
    }
    steep_toml_free(cfg->root);
    free(cfg->dir);
    free(cfg->path);
    free(cfg);
}
