/*
 * aes-gcm-128 / aes-gcm-256 file streams: ciphertext ‖ 16-byte tag, 12-byte
 * IV, AAD = 8 zero bytes (Teaclave's whole-file scheme). The cmac is the tag.
 *
 * The writer encrypts as data arrives and appends the tag at close.
 * The verifying pass steep_aes_gcm_verify_fd() decrypts into a scratch
 * buffer and checks the tag without yielding plaintext.
 * The stream reader decrypts as it reads and checks the tag when it reaches
 * the end: the final read fails (-1, its bytes wiped) on a bad tag. Bytes
 * returned before the end are NOT yet authenticated, so callers use it only
 * after steep_aes_gcm_verify_fd(), or to produce an output that is deleted
 * when the final read fails (file_crypto.h does both).
 * Both work on regular-file fds with pread/pwrite from offset 0; both own fd.
 */
#ifndef STEEP_CRYPTO_AES_GCM_STREAM_H
#define STEEP_CRYPTO_AES_GCM_STREAM_H

#include "crypto/stream.h"

struct steep_writer *steep_aes_gcm_writer_new(int fd, const uint8_t *key, size_t key_len,
                                              const uint8_t iv[12]);
struct steep_reader *steep_aes_gcm_reader_open(int fd, const uint8_t *key, size_t key_len,
                                               const uint8_t iv[12], uint8_t tag[16]);
/* Checks the whole file's tag (fd not owned); tag receives the stored tag. */
int steep_aes_gcm_verify_fd(int fd, const uint8_t *key, size_t key_len, const uint8_t iv[12],
                            uint8_t tag[16]);

#endif
