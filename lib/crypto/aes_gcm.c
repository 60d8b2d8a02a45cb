/* One-shot AES-GCM over OpenSSL EVP; see aes_gcm.h. */
#include "crypto/aes_gcm.h"

#include "core/error.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

const void *steep_aes_gcm_cipher(size_t key_len)
{
    if (key_len == 16)
        return EVP_aes_128_gcm();
    if (key_len == 32)
        return EVP_aes_256_gcm();
    steep_error_set("AES-GCM key must be 16 or 32 bytes, got %zu", key_len);
    return NULL;
}

int steep_tag_equal(const uint8_t a[16], const uint8_t b[16])
{
    return CRYPTO_memcmp(a, b, 16) == 0;
}

static int gcm_run(int encrypt, const uint8_t *key, size_t key_len, const uint8_t iv[12],
                   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                   uint8_t tag[16])
{
    const EVP_CIPHER *cipher = steep_aes_gcm_cipher(key_len);
    if (!cipher)
        return -1;
    ENSURE(len <= INT_MAX && aad_len <= INT_MAX, "AES-GCM input too large");
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    ENSURE(ctx, "out of memory");
    int outl = 0, ok = 0;
    uint8_t final_block[16];
    if (!EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, encrypt))
        goto done;
    if (aad_len && !EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len))
        goto done;
    if (len && !EVP_CipherUpdate(ctx, out, &outl, in, (int)len))
        goto done;
    if (!encrypt && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag))
        goto done;
    if (!EVP_CipherFinal_ex(ctx, final_block, &outl))
        goto done;
    if (encrypt && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag))
        goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return steep_error_set(encrypt ? "AES-GCM encryption failed" : "authentication failed");
    return 0;
}

int steep_aes_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[12], const uint8_t *aad,
                       size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    return gcm_run(1, key, key_len, iv, aad, aad_len, in, len, out, tag);
}

int steep_aes_gcm_open(const uint8_t *key, size_t key_len, const uint8_t iv[12], const uint8_t *aad,
                       size_t aad_len, const uint8_t *in, size_t len, const uint8_t tag[16],
                       uint8_t *out)
{
    return gcm_run(0, key, key_len, iv, aad, aad_len, in, len, out, (uint8_t *)tag);
}
