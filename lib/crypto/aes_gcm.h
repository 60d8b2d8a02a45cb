/*
 * One-shot AES-GCM (128 or 256 by key length) with a 12-byte IV and a
 * 16-byte tag, over OpenSSL EVP. Used for teaclave-file-128 nodes (zero IV,
 * empty AAD) and builtin_online_decrypt (empty AAD). open() fails with
 * "authentication failed" when the tag does not verify; out may then hold
 * garbage that the caller must discard (and wipe).
 */
#ifndef STEEP_CRYPTO_AES_GCM_H
#define STEEP_CRYPTO_AES_GCM_H

#include <stddef.h>
#include <stdint.h>

#define STEEP_GCM_IV_LEN  12
#define STEEP_GCM_TAG_LEN 16

int steep_aes_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[12], const uint8_t *aad,
                       size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                       uint8_t tag[16]);
int steep_aes_gcm_open(const uint8_t *key, size_t key_len, const uint8_t iv[12], const uint8_t *aad,
                       size_t aad_len, const uint8_t *in, size_t len, const uint8_t tag[16],
                       uint8_t *out);

/* The EVP cipher for a 16- or 32-byte key, NULL (with an error) otherwise. */
const void *steep_aes_gcm_cipher(size_t key_len);

/* Constant-time comparison of two 16-byte tags: 1 equal, 0 different. */
int steep_tag_equal(const uint8_t a[16], const uint8_t b[16]);

#endif
