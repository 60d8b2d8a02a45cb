/*
 * Teaclave's file crypto schemes (FileCryptoInfo, teaclave-api.md §5.4,
 * teaclave-functions.md §3): scheme names and key/iv validation, opening a
 * stream of any scheme over a path, and whole-file helpers for the CLI and
 * the execution service (encrypt, decrypt, cmac, convert/stage).
 *
 * Authentication rule: no helper hands out or leaves behind plaintext that
 * has not been authenticated. steep_file_reader_open() verifies an aes-gcm
 * file's tag in a first pass before returning a reader (whose final read
 * checks the tag again); decrypt and convert delete their output when
 * anything fails, including a tag that does not verify at the end.
 */
#ifndef STEEP_CRYPTO_FILE_CRYPTO_H
#define STEEP_CRYPTO_FILE_CRYPTO_H

#include "crypto/stream.h"

#include <stddef.h>
#include <stdint.h>

enum steep_file_scheme {
    STEEP_SCHEME_AES_GCM_128,
    STEEP_SCHEME_AES_GCM_256,
    STEEP_SCHEME_TEACLAVE_FILE_128,
    STEEP_SCHEME_RAW,
};

struct steep_file_crypto {
    enum steep_file_scheme scheme;
    uint8_t key[32];
    size_t key_len;
    uint8_t iv[12];
    size_t iv_len;
};

/* "aes-gcm-128" | "aes-gcm-256" | "teaclave-file-128" | "raw";
 * otherwise "Invalid crypto schema: <name>". */
int steep_file_scheme_parse(const char *name, enum steep_file_scheme *out);
const char *steep_file_scheme_name(enum steep_file_scheme scheme);

/* Validates like Teaclave's FileCrypto::new: aes-gcm-128 key 16 / iv 12,
 * aes-gcm-256 key 32 / iv 12, teaclave-file-128 key 16 and iv empty
 * ("IV is not empty for teaclave_file_128"), raw ignores key and iv. */
int steep_file_crypto_init(struct steep_file_crypto *crypto, const char *schema, const uint8_t *key,
                           size_t key_len, const uint8_t *iv, size_t iv_len);
/* A teaclave-file-128 crypto with a fresh random key (staging, fusion outputs). */
int steep_file_crypto_random_tf128(struct steep_file_crypto *crypto);
void steep_file_crypto_wipe(struct steep_file_crypto *crypto);

/* Opens path for reading. expected_cmac (may be NULL) must equal the file's
 * cmac (tf128 gmac / aes-gcm tag), else "Corrupted input file: cmac
 * mismatch"; ignored for raw. cmac_out (may be NULL) receives the file's
 * cmac (zeros for raw). tf128 checks the embedded name against basename(path). */
struct steep_reader *steep_file_reader_open(const char *path,
                                            const struct steep_file_crypto *crypto,
                                            const uint8_t *expected_cmac, uint8_t *cmac_out);
/* Creates (truncates) path for writing; raw is refused with
 * "OutputFile: unsupported type" unless allow_raw is set (the CLI). */
struct steep_writer *
steep_file_writer_create(const char *path, const struct steep_file_crypto *crypto, int allow_raw);

/* Called after every chunk: bytes done so far and total input bytes (0 if unknown). */
typedef void (*steep_file_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* Plaintext in_path → out_path in the given scheme (raw refused); cmac receives the cmac. */
int steep_file_encrypt(const char *in_path, const char *out_path,
                       const struct steep_file_crypto *crypto, steep_file_progress_fn progress,
                       void *progress_arg, uint8_t cmac[16]);
/* Encrypted in_path → plaintext out_path; out_path is deleted on any failure. */
int steep_file_decrypt(const char *in_path, const char *out_path,
                       const struct steep_file_crypto *crypto, steep_file_progress_fn progress,
                       void *progress_arg, uint8_t cmac[16]);
/* The cmac of an encrypted file, authenticated (aes-gcm: whole-file tag check). */
int steep_file_cmac(const char *path, const struct steep_file_crypto *crypto, uint8_t cmac[16]);
/* Re-encrypts in_path (in_crypto, checked against expected_cmac if not NULL)
 * into out_path (out_crypto), e.g. aes-gcm → staged teaclave-file-128, or
 * a staged output → the user's scheme (raw is refused: "OutputFile:
 * unsupported type"). out_path is deleted on any failure; out_cmac receives
 * the new cmac. */
int steep_file_convert(const char *in_path, const struct steep_file_crypto *in_crypto,
                       const uint8_t *expected_cmac, const char *out_path,
                       const struct steep_file_crypto *out_crypto, uint8_t out_cmac[16]);

#endif
