/*
 * Record sealing: AES-256-GCM with a fresh random 96-bit nonce per write.
 *
 * Sealed value = version (1 byte) | nonce (12) | ciphertext | tag (16).
 * Associated data = "steep-store" | version | internal record key, so a
 * value copied or swapped onto another key, or written by a different
 * format version, fails to authenticate.
 *
 * Cipher contexts are expensive to set up (key schedule, GHASH tables), so
 * the sealer keeps a small pool of contexts already keyed; each operation
 * takes one, sets only its nonce, and gives it back. A context that saw a
 * failure is freed instead of reused.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "store/internal.h"

#define SEAL_VERSION 1
#define NONCE_BYTES  12
#define TAG_BYTES    16
#define DOMAIN       "steep-store"

int steep_store_sealer_init(struct steep_store_sealer *sealer,
                            const uint8_t key[STEEP_STORE_KEY_BYTES])
{
    memset(sealer, 0, sizeof *sealer);
    memcpy(sealer->key, key, STEEP_STORE_KEY_BYTES);
    ENSURE(pthread_mutex_init(&sealer->lock, NULL) == 0, "mutex init failed");
    sealer->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    ENSURE(sealer->cipher, "AES-256-GCM is not available");
    return 0;
}

void steep_store_sealer_free(struct steep_store_sealer *sealer)
{
    if (!sealer->cipher)
        return;
    for (size_t i = 0; i < sealer->n_idle; i++)
        EVP_CIPHER_CTX_free(sealer->idle[i]);
    EVP_CIPHER_free(sealer->cipher);
    pthread_mutex_destroy(&sealer->lock);
    OPENSSL_cleanse(sealer->key, sizeof sealer->key);
    sealer->cipher = NULL;
    sealer->n_idle = 0;
}

static EVP_CIPHER_CTX *take_context(struct steep_store_sealer *sealer)
{
    EVP_CIPHER_CTX *ctx = NULL;
    pthread_mutex_lock(&sealer->lock);
    if (sealer->n_idle > 0)
        ctx = sealer->idle[--sealer->n_idle];
    pthread_mutex_unlock(&sealer->lock);
    if (ctx)
        return ctx;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx && EVP_EncryptInit_ex(ctx, sealer->cipher, NULL, sealer->key, NULL) == 1)
        return ctx;
    EVP_CIPHER_CTX_free(ctx);
    steep_error_set("AES-GCM context setup failed");
    return NULL;
}

static void give_context(struct steep_store_sealer *sealer, EVP_CIPHER_CTX *ctx, bool reusable)
{
    if (reusable) {
        pthread_mutex_lock(&sealer->lock);
        if (sealer->n_idle < STEEP_STORE_SEALER_IDLE) {
            sealer->idle[sealer->n_idle++] = ctx;
            ctx = NULL;
        }
        pthread_mutex_unlock(&sealer->lock);
    }
    EVP_CIPHER_CTX_free(ctx);
}

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

static int seal_with(EVP_CIPHER_CTX *ctx, const uint8_t *record_key, size_t record_key_len,
                     const void *plain, size_t plain_len, struct steep_buf *sealed)
{
    uint8_t nonce[NONCE_BYTES];
    int out_len = 0, final_len = 0;
    ENSURE(plain_len <= INT32_MAX - 64, "value too large to seal");
    ENSURE(RAND_bytes(nonce, sizeof nonce) == 1, "random nonce generation failed");
    ENSURE(EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1, "AES-GCM init failed");
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

int steep_store_seal(struct steep_store_sealer *sealer, const uint8_t *record_key,
                     size_t record_key_len, const void *plain, size_t plain_len,
                     struct steep_buf *sealed)
{
    EVP_CIPHER_CTX *ctx = take_context(sealer);
    if (!ctx)
        return -1;
    int rc = seal_with(ctx, record_key, record_key_len, plain, plain_len, sealed);
    give_context(sealer, ctx, rc == 0);
    return rc;
}

static int unseal_with(EVP_CIPHER_CTX *ctx, const uint8_t *record_key, size_t record_key_len,
                       const uint8_t *sealed, size_t sealed_len, struct steep_buf *plain)
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
    ENSURE(EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1, "AES-GCM init failed");
    GUARD(add_aad(ctx, false, record_key, record_key_len));
    steep_buf_reset(plain);
    steep_buf_wipe(plain);
    if (steep_buf_reserve(plain, body_len + 1) < 0)
        return STEEP_STORE_UNCHECKED;
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

int steep_store_unseal(struct steep_store_sealer *sealer, const uint8_t *record_key,
                       size_t record_key_len, const uint8_t *sealed, size_t sealed_len,
                       struct steep_buf *plain)
{
    EVP_CIPHER_CTX *ctx = take_context(sealer);
    if (!ctx)
        return STEEP_STORE_UNCHECKED;
    int rc = unseal_with(ctx, record_key, record_key_len, sealed, sealed_len, plain);
    give_context(sealer, ctx, rc == 0);
    return rc;
}
