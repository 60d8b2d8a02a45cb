/*
 * Key and certificate files used by the attestation code: PEM in and out,
 * private keys written 0600 and never overwritten, SubjectPublicKeyInfo
 * hashes, and the uncompressed P-256 point of a key.
 */
#ifndef STEEP_TEE_KEYS_H
#define STEEP_TEE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/buf.h"

EVP_PKEY *steep_tee_key_generate_rsa(int bits);
EVP_PKEY *steep_tee_key_generate_p256(void);
/* Writes the private key as PKCS#8 PEM, mode 0600; fails if the file exists. */
int steep_tee_key_write_private(const char *path, EVP_PKEY *key);
/* Writes the public key as SubjectPublicKeyInfo PEM; fails if the file exists. */
int steep_tee_key_write_public(const char *path, EVP_PKEY *key);
int steep_tee_cert_write(const char *path, X509 *cert);
EVP_PKEY *steep_tee_key_read_private(const char *path);
/* Reads a public key (SPKI PEM), or the public key of a PEM certificate. */
EVP_PKEY *steep_tee_key_read_public(const char *path);
X509 *steep_tee_cert_read(const char *path);
/* SHA-256 of the DER SubjectPublicKeyInfo. */
int steep_tee_key_spki_sha256(EVP_PKEY *key, uint8_t out[32]);
/* The 64-byte X||Y of an uncompressed P-256 public key (fails for others). */
int steep_tee_key_p256_xy(EVP_PKEY *key, uint8_t out[64]);
/* Appends an RSA-PKCS1-v1.5 / ECDSA signature with SHA-256 over data. */
int steep_tee_sign_sha256(EVP_PKEY *key, const void *data, size_t len, struct steep_buf *out);
/* true when signature is a valid SHA-256 signature of data under key. */
bool steep_tee_verify_sha256(EVP_PKEY *key, const uint8_t *signature, size_t signature_len,
                             const void *data, size_t len);
/* SHA-256 of a whole file (an executable's measurement in the sim back-end). */
int steep_tee_file_sha256(const char *path, uint8_t out[32]);
/* Creates a directory (0700) unless it exists. */
int steep_tee_make_dir(const char *path);
/* Fails when path exists (so keys are created once). */
int steep_tee_path_must_not_exist(const char *path);

#endif
