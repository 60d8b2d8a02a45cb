/*
 * enclave_info.toml and its auditors (teaclave-api.md §9.4).
 *
 * The file lists, per service, the accepted measurement pair:
 *   [teaclave_frontend_service]
 *   mr_enclave = "<64 lowercase hex>"
 *   mr_signer = "<64 lowercase hex>"
 * Auditors sign its exact bytes (raw RSA-PKCS#1-v1.5/SHA-256 signature
 * files, Teaclave's *.sign.sha256). Steep is stricter than Teaclave: at
 * least one signature is required, every signature must verify under a
 * configured auditor key, and every configured auditor must have signed.
 */
#ifndef STEEP_TEE_ENCLAVE_INFO_H
#define STEEP_TEE_ENCLAVE_INFO_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "tee/verify.h"

struct steep_enclave_info {
    struct steep_tee_enclave_attr *attrs;
    size_t count;
};

/* Parses the TOML text (lib/core/toml.h); name is used in error messages. */
int steep_enclave_info_parse(const char *name, const void *data, size_t len,
                             struct steep_enclave_info *out);
void steep_enclave_info_free(struct steep_enclave_info *info);
/* The entry for a service name, or NULL. */
const struct steep_tee_enclave_attr *steep_enclave_info_find(const struct steep_enclave_info *info,
                                                             const char *name);

/* One signature file's bytes. */
struct steep_enclave_info_signature {
    const uint8_t *data;
    size_t len;
    const char *name; /* for messages (file name) */
};

/* The rule above; 0 when all signatures are good and complete. */
int steep_enclave_info_verify(const void *data, size_t len,
                              const struct steep_enclave_info_signature *signatures,
                              size_t n_signatures, EVP_PKEY *const *auditor_keys, size_t n_keys);

/* Signs data with an auditor's private key (PEM file): raw signature bytes. */
int steep_enclave_info_sign(const char *key_path, const void *data, size_t len,
                            struct steep_buf *signature);

/* The service executables Steep builds and their enclave_info names. */
struct steep_enclave_info_service {
    const char *executable; /* "steep-frontend" */
    const char *name;       /* "teaclave_frontend_service" */
};
extern const struct steep_enclave_info_service steep_enclave_info_services[];
extern const size_t steep_enclave_info_service_count;

/*
 * Writes the TOML for executables in bin_dir (all seven services) under the
 * platform signing public key. A missing executable is an error unless
 * skip_missing.
 */
int steep_enclave_info_generate(const char *bin_dir, const char *signer_pub_path, bool skip_missing,
                                struct steep_buf *out);
/* The same for explicit (name, executable path) pairs. */
int steep_enclave_info_generate_entries(const char *const *names, const char *const *paths,
                                        size_t count, const char *signer_pub_path,
                                        struct steep_buf *out);

#endif
