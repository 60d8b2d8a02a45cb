/*
 * peer.h: steep_attested_open_from_config() with exe_path pointing at the
 * impersonated service's binary.
 */
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"

struct steep_attested *peer_open(const struct steep_config *config, const char *service_name,
                                 const char *exe)
{
    static char exe_path[4096];
    const char *bin = getenv("STEEP_BIN");
    snprintf(exe_path, sizeof exe_path, "%s/%s", bin ? bin : "build/bin", exe);
    size_t n = config->auditor_signature_count;
    struct steep_enclave_info_signature *signatures = calloc(n + 1, sizeof *signatures);
    for (size_t i = 0; signatures && i < n; i++)
        signatures[i] = (struct steep_enclave_info_signature){config->auditor_signatures[i].data,
                                                              config->auditor_signatures[i].len,
                                                              config->auditor_signatures[i].path};
    const char *const *keys = NULL;
    size_t n_keys = steep_config_get_string_array(config, "tee.auditor_public_keys", &keys);
    char **resolved = calloc(n_keys + 1, sizeof *resolved);
    for (size_t i = 0; resolved && i < n_keys; i++)
        resolved[i] = steep_config_resolve(config, keys[i]);
    struct steep_attested_options options = {
        .service_name = service_name,
        .exe_path = exe_path,
        .authority_key = steep_config_get_path(config, "tee.authority_key", NULL),
        .authority_cert = steep_config_get_path(config, "tee.authority_cert", NULL),
        .platform_public_key = steep_config_get_path(config, "tee.platform_public_key", NULL),
        .master_key = steep_config_get_path(config, "tee.master_key", NULL),
        .root_ca = steep_config_get_path(config, "tee.as_root_ca_cert", NULL),
        .enclave_info_path = config->enclave_info.path,
        .enclave_info_data = config->enclave_info.data,
        .enclave_info_len = config->enclave_info.len,
        .signatures = signatures,
        .n_signatures = n,
        .auditor_public_keys = (const char *const *)resolved,
        .n_auditor_public_keys = n_keys,
        .insecure_allow_simulation = steep_config_get_bool(config, "tee.allow_simulation", false),
    };
    struct steep_attested *attested = signatures && resolved ? steep_attested_open(&options) : NULL;
    for (size_t i = 0; resolved && i < n_keys; i++)
        free(resolved[i]);
    free(resolved);
    free(signatures);
    return attested;
}

struct steep_rpc_client *peer_client(struct steep_attested *attested,
                                     const struct steep_config *config,
                                     enum steep_endpoint endpoint, const char *peer_service)
{
    char address[256];
    struct steep_rpc_client_config client_config = {.address = address};
    if (steep_config_connect_address(config->internal[endpoint].advertised_address, address,
                                     sizeof address) < 0 ||
        steep_attested_client_tls(attested, peer_service, &client_config.tls) < 0)
        return NULL;
    return steep_rpc_client_new(&client_config);
}
