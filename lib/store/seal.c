/*
 * Record sealing: AES-256-GCM with a fresh random 96-bit nonce per write.
 *
 * Sealed value = version (1 byte) | nonce (12) | ciphertext | tag (16).
 * Associated data = "steep-store" | version | internal record key, so a
 * value copied or swapped onto another key, or written by a different
 * format version, fails to authenticate.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "store/internal.h"

#define SEAL_VERSION 1
#define NONCE_BYTES  12
#define TAG_BYTES    16
#define DOMAIN       "steep-store"

static int add_aad(EVP_CIPHER_CTX *ctx, bool encrypt, const uint8_t *record_key,
                   size_t record_key_len)
{
    static const uint8_t domain[] = DOMAIN "\x01";
    int out_len = 0;
    int (*update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int) =
        encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
    ENSURE(record_key_len <= INT32_MAX, "record key too long");
    ENSURE(update(ctx, NULL, &out_len, domain, (int)sizeof domain - 1) == 1, "AES-GCM AAD failed");
    ENSURE(update(ctx, NULL, &out_len, record_key, (int)record_key_len) == 1, "AES-GCM AAD failed");
    return 0;
}

static int seal_with(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *record_key,
                     size_t record_key_len, const void *plain, size_t plain_len,
                     struct steep_buf *sealed)
{
    uint8_t nonce[NONCE_BYTES];
    int out_len = 0, final_len = 0;
    ENSURE(plain_len <= INT32_MAX - 64, "value too large to seal");
    ENSURE(RAND_bytes(nonce, sizeof nonce) == 1, "random nonce generation failed");
    ENSURE(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1,
           "AES-GCM init failed");
    GUARD(add_aad(ctx, true, record_key, record_key_len));
    steep_buf_reset(sealed);
    GUARD(steep_buf_reserve(sealed, 1 + NONCE_BYTES + plain_len + TAG_BYTES));
    GUARD(steep_buf_append_u8(sealed, SEAL_VERSION));
    GUARD(steep_buf_append(sealed, nonce, sizeof nonce));
    uint8_t *body = sealed->data + sealed->len;
    ENSURE(EVP_EncryptUpdate(ctx, body, &out_len, plain, (int)plain_len) == 1,
           "AES-GCM encryption failed");
    ENSURE(EVP_EncryptFinal_ex(ctx, body + out_len, &final_len) == 1, "AES-GCM encryption failed");
    sealed->len += (size_t)(out_len + final_len);
    ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, sealed->data + sealed->len) ==
               1,
           "AES-GCM tag failed");
    sealed->len += TAG_BYTES;
    return 0;
}

int steep_store_seal(const uint8_t key[STEEP_STORE_KEY_BYTES], const uint8_t *record_key,
                     size_t record_key_len, const void *plain, size_t plain_len,
                     struct steep_buf *sealed)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    ENSURE(ctx != NULL, "out of memory");
    int rc = seal_with(ctx, key, record_key, record_key_len, plain, plain_len, sealed);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static int unseal_with(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *record_key,
                       size_t record_key_len, const uint8_t *sealed, size_t sealed_len,
                       struct steep_buf *plain)
{
    struct steep_cursor cursor = steep_cursor_make(sealed, sealed_len);
    uint8_t version;
    const uint8_t *nonce, *body;
    int out_len = 0, final_len = 0;
    ENSURE(sealed_len >= 1 + NONCE_BYTES + TAG_BYTES, "sealed record too short");
    GUARD(steep_cursor_read_u8(&cursor, &version));
    ENSURE(version == SEAL_VERSION, "unknown sealed record version %u", version);
    GUARD(steep_cursor_read_span(&cursor, &nonce, NONCE_BYTES));
    size_t body_len = steep_cursor_remaining(&cursor) - TAG_BYTES;
    ENSURE(body_len <= INT32_MAX, "sealed record too long");
    GUARD(steep_cursor_read_span(&cursor, &body, body_len));
    ENSURE(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1,
           "AES-GCM init failed");
    GUARD(add_aad(ctx, false, record_key, record_key_len));
    steep_buf_reset(plain);
    steep_buf_wipe(plain);
    GUARD(steep_buf_reserve(plain, body_len + 1));
    ENSURE(EVP_DecryptUpdate(ctx, plain->data, &out_len, body, (int)body_len) == 1,
           "AES-GCM decryption failed");
    ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES,
                               (void *)(sealed + sealed_len - TAG_BYTES)) == 1,
           "AES-GCM tag failed");
    if (EVP_DecryptFinal_ex(ctx, plain->data + out_len, &final_len) != 1) {
        OPENSSL_cleanse(plain->data, (size_t)out_len);
        return steep_error_set("record failed authentication");
    }
    plain->len = (size_t)(out_len + final_len);
    return 0;
}

int steep_store_unseal(const uint8_t key[STEEP_STORE_KEY_BYTES], const uint8_t *record_key,
                       size_t record_key_len, const uint8_t *sealed, size_t sealed_len,
                       struct steep_buf *plain)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    ENSURE(ctx != NULL, "out of memory");
    int rc = unseal_with(ctx, key, record_key, record_key_len, sealed, sealed_len, plain);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}
