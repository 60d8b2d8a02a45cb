/*
 * steep_attested_open_from_config(): maps the platform config's keys
 * (documented in attested.h) onto struct steep_attested_options. enclave_info
 * and its signatures were already read by steep_config_load().
 */
#include "tee/attested.h"
#include "tee/hw/backend.h"

#include <stdlib.h>
#include <string.h>

struct steep_attested *steep_attested_open_from_config(const struct steep_config *config,
                                                       const char *service_name)
{
    const char *backend = steep_config_get_string(config, "tee.backend", "sim");
    bool hardware =
        strcmp(backend, "sgx") == 0 || strcmp(backend, "tdx") == 0 || strcmp(backend, "snp") == 0;
    if (!hardware &&
        (strcmp(config->attestation_algorithm, "sim") != 0 || strcmp(backend, "sim") != 0)) {
        steep_error_set("attestation algorithm '%s' / [tee] backend '%s': the back-ends are "
                        "\"sim\", \"sgx\", \"tdx\" and \"snp\"",
                        config->attestation_algorithm, backend);
        return NULL;
    }
    struct steep_tee_hw_config hw;
    if (steep_tee_hw_config_load(config, &hw) < 0)
        return NULL;
    struct steep_tee *tee = NULL;
    if (hardware) {
        /* services on hardware get their IAS-format report from the authority */
        tee = steep_tee_open_hw_from_config(config);
        if (tee)
            tee = steep_tee_open_endorsed(
                tee, steep_config_get_string(config, "tee.authority_address", NULL),
                steep_config_get_path(config, "tee.as_root_ca_cert", NULL));
        if (!tee) {
            steep_tee_hw_config_free(&hw);
            return NULL;
        }
    }
    size_t n_signatures = config->auditor_signature_count;
    struct steep_enclave_info_signature *signatures = calloc(n_signatures + 1, sizeof(*signatures));
    if (!signatures) {
        steep_tee_free(tee);
        steep_tee_hw_config_free(&hw);
        steep_error_set("out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n_signatures; i++)
        signatures[i] = (struct steep_enclave_info_signature){config->auditor_signatures[i].data,
                                                              config->auditor_signatures[i].len,
                                                              config->auditor_signatures[i].path};

    struct steep_attested_options options = {
        .service_name = service_name,
        .authority_key = steep_config_get_path(config, "tee.authority_key", NULL),
        .authority_cert = steep_config_get_path(config, "tee.authority_cert", NULL),
        .platform_public_key = steep_config_get_path(config, "tee.platform_public_key", NULL),
        .master_key = steep_config_get_path(config, "tee.master_key", NULL),
        .root_ca = steep_config_get_path(config, "tee.as_root_ca_cert", NULL),
        .enclave_info_path = config->enclave_info.path,
        .enclave_info_data = config->enclave_info.data,
        .enclave_info_len = config->enclave_info.len,
        .signatures = signatures,
        .n_signatures = n_signatures,
        .insecure_allow_simulation = steep_config_get_bool(config, "tee.allow_simulation", false),
        .evidence_validity = (int)steep_config_get_int(config, "tee.evidence_validity",
                                                       STEEP_ATTESTED_DEFAULT_VALIDITY),
        .max_report_age = steep_config_get_int(config, "tee.max_report_age", 0),
        .tee = tee,
        .hw_config = &hw,
    };
    const char *const *keys = NULL;
    options.n_auditor_public_keys =
        steep_config_get_string_array(config, "tee.auditor_public_keys", &keys);
    char **resolved = calloc(options.n_auditor_public_keys + 1, sizeof(char *));
    for (size_t i = 0; resolved && i < options.n_auditor_public_keys; i++)
        resolved[i] = steep_config_resolve(config, keys[i]);
    options.auditor_public_keys = (const char *const *)resolved;
    options.n_accepted_statuses =
        steep_config_get_string_array(config, "tee.accepted_statuses", &options.accepted_statuses);

    struct steep_attested *attested = NULL;
    bool handed_over = false;
    if (!resolved)
        steep_error_set("out of memory");
    else if (steep_config_check(config) == 0) {
        handed_over = true; /* steep_attested_open takes tee and hw, even on failure */
        attested = steep_attested_open(&options);
    }
    if (!handed_over) {
        steep_tee_free(tee);
        steep_tee_hw_config_free(&hw);
    }
    for (size_t i = 0; resolved && i < options.n_auditor_public_keys; i++)
        free(resolved[i]);
    free(resolved);
    free(signatures);
    return attested;
}
