/*
 * enclave_info.toml: generation from built executables, parsing with the
 * team's TOML reader, and the auditors' signatures. A table that is not a
 * well-formed service entry is an error, never silently skipped: a typo in
 * this file must not quietly drop or widen what a service accepts.
 */
#include "tee/enclave_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/toml.h"
#include "tee/keys.h"

const struct steep_enclave_info_service steep_enclave_info_services[] = {
    {"steep-authentication", "teaclave_authentication_service"},
    {"steep-frontend", "teaclave_frontend_service"},
    {"steep-management", "teaclave_management_service"},
    {"steep-storage", "teaclave_storage_service"},
    {"steep-access-control", "teaclave_access_control_service"},
    {"steep-scheduler", "teaclave_scheduler_service"},
    {"steep-execution", "teaclave_execution_service"},
};
const size_t steep_enclave_info_service_count =
    sizeof(steep_enclave_info_services) / sizeof(steep_enclave_info_services[0]);

static int read_measurement(const struct steep_toml_value *table, const char *service,
                            const char *key, uint8_t out[32])
{
    const struct steep_toml_value *value = steep_toml_get(table, key);
    ENSURE(value && value->type == STEEP_TOML_STRING, "[%s] has no string %s", service, key);
    const char *text = value->as.string;
    ENSURE(strlen(text) == 64 && strspn(text, "0123456789abcdef") == 64,
           "[%s] %s must be 64 lowercase hex digits (line %u)", service, key, value->line);
    return steep_hex_decode(text, out, 32);
}

/* tdx_mrtd, tdx_rtmr0..3, snp_measurement: 96 lowercase hex digits each. */
static int read_hw_measurement(const struct steep_toml_value *table, const char *service,
                               const char *key, uint8_t out[48], bool *have)
{
    const struct steep_toml_value *value = steep_toml_get(table, key);
    if (!value)
        return 0;
    ENSURE(value->type == STEEP_TOML_STRING, "[%s] %s must be a string", service, key);
    const char *text = value->as.string;
    ENSURE(strlen(text) == 96 && strspn(text, "0123456789abcdef") == 96,
           "[%s] %s must be 96 lowercase hex digits (line %u)", service, key, value->line);
    *have = true;
    return steep_hex_decode(text, out, 48);
}

/* A service entry: the SGX / simulated pair (mr_enclave and mr_signer), the
 * hardware kinds' measurements, or both; any other key is an error. */
static int read_entry(const struct steep_toml_entry *entry, struct steep_tee_enclave_attr *attr)
{
    ENSURE(entry->value->type == STEEP_TOML_TABLE, "'%s' (line %u) is not a [service] table",
           entry->key, entry->value->line);
    ENSURE(strlen(entry->key) < sizeof(attr->name), "service name '%.40s...' is too long",
           entry->key);
    snprintf(attr->name, sizeof(attr->name), "%s", entry->key);
    const struct steep_toml_value *table = entry->value;
    size_t known = 0;
    bool pair = steep_toml_get(table, "mr_enclave") || steep_toml_get(table, "mr_signer");
    if (pair) {
        GUARD(read_measurement(table, entry->key, "mr_enclave", attr->mr_enclave));
        GUARD(read_measurement(table, entry->key, "mr_signer", attr->mr_signer));
        known += 2;
    }
    attr->no_sgx_pair = !pair;
    struct steep_hw_measurements *hw = &attr->hw;
    GUARD(read_hw_measurement(table, entry->key, "tdx_mrtd", hw->mr_td, &hw->have_mr_td));
    known += hw->have_mr_td;
    for (int i = 0; i < 4; i++) {
        char key[16];
        snprintf(key, sizeof(key), "tdx_rtmr%d", i);
        GUARD(read_hw_measurement(table, entry->key, key, hw->rtmr[i], &hw->have_rtmr[i]));
        ENSURE(!hw->have_rtmr[i] || hw->have_mr_td, "[%s] %s needs tdx_mrtd", entry->key, key);
        known += hw->have_rtmr[i];
    }
    GUARD(read_hw_measurement(table, entry->key, "snp_measurement", hw->snp_measurement,
                              &hw->have_snp_measurement));
    known += hw->have_snp_measurement;
    ENSURE(known > 0, "[%s] must hold mr_enclave and mr_signer, or tdx_mrtd, or snp_measurement",
           entry->key);
    ENSURE(known == table->as.table.count,
           "[%s] holds a key other than mr_enclave, mr_signer, tdx_mrtd, tdx_rtmr0..3 and "
           "snp_measurement",
           entry->key);
    return 0;
}

int steep_enclave_info_parse(const char *name, const void *data, size_t len,
                             struct steep_enclave_info *out)
{
    memset(out, 0, sizeof(*out));
    struct steep_toml_value *root = NULL;
    GUARD(steep_toml_parse(name, data, len, &root));
    size_t count = root->as.table.count;
    int rc = count > 0 ? 0 : steep_error_set("%s lists no service", name);
    if (rc == 0 && !(out->attrs = calloc(count, sizeof(*out->attrs))))
        rc = steep_error_set("out of memory");
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = read_entry(&root->as.table.entries[i], &out->attrs[i]);
        out->count = i + 1;
    }
    steep_toml_free(root);
    if (rc < 0) {
        steep_error_wrap("%s", name);
        steep_enclave_info_free(out);
    }
    return rc;
}

void steep_enclave_info_free(struct steep_enclave_info *info)
{
    free(info->attrs);
    info->attrs = NULL;
    info->count = 0;
}

const struct steep_tee_enclave_attr *steep_enclave_info_find(const struct steep_enclave_info *info,
                                                             const char *name)
{
    for (size_t i = 0; i < info->count; i++)
        if (strcmp(info->attrs[i].name, name) == 0)
            return &info->attrs[i];
    return NULL;
}

int steep_enclave_info_verify(const void *data, size_t len,
                              const struct steep_enclave_info_signature *signatures,
                              size_t n_signatures, EVP_PKEY *const *auditor_keys, size_t n_keys)
{
    ENSURE(n_keys > 0, "no auditor public keys configured");
    ENSURE(n_signatures > 0, "enclave_info has no auditor signature (at least one is required)");
    bool key_signed[64] = {false};
    ENSURE(n_keys <= 64, "too many auditor keys");
    for (size_t s = 0; s < n_signatures; s++) {
        bool good = false;
        for (size_t k = 0; k < n_keys && !good; k++)
            if (steep_tee_verify_sha256(auditor_keys[k], signatures[s].data, signatures[s].len,
                                        data, len))
                good = key_signed[k] = true;
        ENSURE(good, "enclave_info signature %s does not verify under any auditor key",
               signatures[s].name ? signatures[s].name : "(unnamed)");
    }
    for (size_t k = 0; k < n_keys; k++)
        ENSURE(key_signed[k], "enclave_info is missing the signature of auditor key %zu of %zu",
               k + 1, n_keys);
    return 0;
}

int steep_enclave_info_sign(const char *key_path, const void *data, size_t len,
                            struct steep_buf *signature)
{
    EVP_PKEY *key = steep_tee_key_read_private(key_path);
    if (!key)
        return -1;
    int rc = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA
                 ? steep_tee_sign_sha256(key, data, len, signature)
                 : steep_error_set("%s is not an RSA private key", key_path);
    EVP_PKEY_free(key);
    return rc;
}

static int append_entry(struct steep_buf *out, const char *name, const uint8_t mr_enclave[32],
                        const uint8_t mr_signer[32])
{
    char enclave[65], signer[65];
    steep_hex_encode(mr_enclave, 32, enclave);
    steep_hex_encode(mr_signer, 32, signer);
    return steep_buf_printf(out, "%s[%s]\nmr_enclave = \"%s\"\nmr_signer = \"%s\"\n",
                            out->len ? "\n" : "", name, enclave, signer);
}

static int read_signer(const char *signer_pub_path, uint8_t mr_signer[32])
{
    EVP_PKEY *key = steep_tee_key_read_public(signer_pub_path);
    if (!key)
        return -1;
    int rc = steep_tee_key_spki_sha256(key, mr_signer);
    EVP_PKEY_free(key);
    return rc;
}

int steep_enclave_info_generate_entries(const char *const *names, const char *const *paths,
                                        size_t count, const char *signer_pub_path,
                                        struct steep_buf *out)
{
    uint8_t mr_signer[32], mr_enclave[32];
    GUARD(read_signer(signer_pub_path, mr_signer));
    for (size_t i = 0; i < count; i++) {
        GUARD(steep_tee_file_sha256(paths[i], mr_enclave));
        GUARD(append_entry(out, names[i], mr_enclave, mr_signer));
    }
    return 0;
}

int steep_enclave_info_generate(const char *bin_dir, const char *signer_pub_path, bool skip_missing,
                                struct steep_buf *out)
{
    const char *names[16], *paths[16];
    char storage[16][4096];
    size_t count = 0;
    for (size_t i = 0; i < steep_enclave_info_service_count; i++) {
        const struct steep_enclave_info_service *service = &steep_enclave_info_services[i];
        snprintf(storage[count], sizeof(storage[count]), "%s/%s", bin_dir, service->executable);
        struct stat st;
        if (stat(storage[count], &st) != 0) {
            ENSURE(skip_missing, "%s: no such executable (build it first)", storage[count]);
            continue;
        }
        names[count] = service->name;
        paths[count] = storage[count];
        count++;
    }
    ENSURE(count > 0, "%s holds none of the service executables", bin_dir);
    return steep_enclave_info_generate_entries(names, paths, count, signer_pub_path, out);
}
