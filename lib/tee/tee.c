/*
 * Back-end dispatch and the sealing format shared by all back-ends.
 *
 * Sealing is AES-256-GCM under the back-end's policy key for the label,
 * with a fresh 96-bit nonce per blob. The blob header (magic, version,
 * policy) and the label are authenticated data, so a blob cannot be moved
 * to another label or have its policy byte flipped.
 */
#include "tee/tee.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/error.h"

enum { SEAL_MAGIC_LEN = 4, SEAL_HEADER_LEN = 6, NONCE_LEN = 12, TAG_LEN = 16 };
static const uint8_t seal_magic[SEAL_MAGIC_LEN] = {'S', 'T', 'S', 'L'};
#define SEAL_VERSION 1

void steep_tee_evidence_free(struct steep_tee_evidence *evidence)
{
    steep_buf_free(&evidence->report);
    steep_buf_free(&evidence->signature);
    for (size_t i = 0; i < STEEP_TEE_MAX_CERTS; i++)
        steep_buf_free(&evidence->certs[i]);
    evidence->n_certs = 0;
    steep_buf_free(&evidence->hardware);
    steep_buf_free(&evidence->hardware_aux);
}

void steep_tee_free(struct steep_tee *tee)
{
    if (tee)
        tee->backend->free(tee);
}

const char *steep_tee_backend_name(const struct steep_tee *tee)
{
    return tee->backend->name;
}

int steep_tee_measure(struct steep_tee *tee, struct steep_tee_identity *identity)
{
    return tee->backend->measure(tee, identity);
}

int steep_tee_evidence(struct steep_tee *tee, const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                       struct steep_tee_evidence *evidence)
{
    return tee->backend->evidence(tee, report_data, evidence);
}

int steep_tee_seal_key(struct steep_tee *tee, enum steep_tee_seal_policy policy, const char *label,
                       uint8_t key[STEEP_TEE_SEAL_KEY_LEN])
{
    ENSURE(policy == STEEP_TEE_SEAL_SIGNER || policy == STEEP_TEE_SEAL_MEASUREMENT,
           "unknown sealing policy %d", (int)policy);
    ENSURE(label && *label, "a sealing label is required");
    return tee->backend->seal_key(tee, policy, label, key);
}

/* One AES-256-GCM pass; encrypt != 0 seals, otherwise opens (tag checked). */
static int gcm(int encrypt, const uint8_t key[32], const uint8_t nonce[NONCE_LEN],
               const uint8_t *aad1, size_t aad1_len, const char *label, const uint8_t *in,
               size_t len, uint8_t *out, uint8_t tag[TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok = ctx && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, encrypt);
    ok = ok && EVP_CipherUpdate(ctx, NULL, &n, aad1, (int)aad1_len) &&
         EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)label, (int)strlen(label));
    ok = ok && (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len));
    if (ok && !encrypt)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag);
    ok = ok && EVP_CipherFinal_ex(ctx, out + (len ? n : 0), &n);
    if (ok && encrypt)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag);
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

int steep_tee_seal(struct steep_tee *tee, enum steep_tee_seal_policy policy, const char *label,
                   const void *plaintext, size_t len, struct steep_buf *out)
{
    ENSURE(len <= INT32_MAX - 64, "too much data to seal in one blob");
    uint8_t key[STEEP_TEE_SEAL_KEY_LEN];
    GUARD(steep_tee_seal_key(tee, policy, label, key));
    uint8_t header[SEAL_HEADER_LEN] = {seal_magic[0], seal_magic[1], seal_magic[2],
                                       seal_magic[3], SEAL_VERSION,  (uint8_t)policy};
    uint8_t nonce[NONCE_LEN], tag[TAG_LEN];
    int rc = RAND_bytes(nonce, sizeof(nonce)) == 1 ? 0 : steep_error_set("no randomness");
    size_t start = out->len;
    if (rc == 0)
        rc = steep_buf_reserve(out, SEAL_HEADER_LEN + NONCE_LEN + len + TAG_LEN);
    if (rc == 0) {
        steep_buf_append(out, header, sizeof(header));
        steep_buf_append(out, nonce, sizeof(nonce));
        uint8_t *cipher = out->data + out->len;
        rc = gcm(1, key, nonce, header, sizeof(header), label, plaintext, len, cipher, tag);
        if (rc == 0) {
            out->len += len;
            steep_buf_append(out, tag, sizeof(tag));
        } else {
            out->len = start;
            steep_error_set("sealing failed");
        }
    }
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

int steep_tee_unseal(struct steep_tee *tee, const char *label, const void *blob, size_t len,
                     struct steep_buf *out)
{
    struct steep_cursor cursor = steep_cursor_make(blob, len);
    const uint8_t *header, *nonce, *cipher, *tag;
    ENSURE(len >= SEAL_HEADER_LEN + NONCE_LEN + TAG_LEN, "sealed blob is too short");
    GUARD(steep_cursor_read_span(&cursor, &header, SEAL_HEADER_LEN));
    ENSURE(memcmp(header, seal_magic, SEAL_MAGIC_LEN) == 0, "not a sealed blob (bad magic)");
    ENSURE(header[4] == SEAL_VERSION, "sealed blob version %u is not supported", header[4]);
    GUARD(steep_cursor_read_span(&cursor, &nonce, NONCE_LEN));
    size_t cipher_len = steep_cursor_remaining(&cursor) - TAG_LEN;
    GUARD(steep_cursor_read_span(&cursor, &cipher, cipher_len));
    GUARD(steep_cursor_read_span(&cursor, &tag, TAG_LEN));

    uint8_t key[STEEP_TEE_SEAL_KEY_LEN], tag_copy[TAG_LEN];
    GUARD(steep_tee_seal_key(tee, (enum steep_tee_seal_policy)header[5], label, key));
    memcpy(tag_copy, tag, TAG_LEN);
    steep_buf_wipe(out);
    int rc = steep_buf_reserve(out, cipher_len);
    if (rc == 0) {
        rc = gcm(0, key, nonce, header, SEAL_HEADER_LEN, label, cipher, cipher_len,
                 out->data + out->len, tag_copy);
        if (rc == 0)
            out->len += cipher_len;
        else
            steep_error_set("sealed blob does not authenticate (tampered, wrong label, or "
                            "sealed by another identity)");
    }
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

int steep_tee_master_key_create(const char *path)
{
    uint8_t key[32];
    ENSURE(RAND_bytes(key, sizeof(key)) == 1, "no randomness for the master key");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        OPENSSL_cleanse(key, sizeof(key));
        return steep_error_set("cannot create %s: %s", path, strerror(errno));
    }
    ssize_t n = write(fd, key, sizeof(key));
    int ok = n == (ssize_t)sizeof(key) && fsync(fd) == 0;
    close(fd);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok) {
        unlink(path);
        return steep_error_set("cannot write %s", path);
    }
    return 0;
}
