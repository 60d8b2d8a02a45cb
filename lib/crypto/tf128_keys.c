/*
 * Key derivation and node encryption of teaclave-file-128 (see
 * tf128_format.h). The KDF input is a fixed 120-byte block; CMAC runs
 * through OpenSSL 3 EVP_MAC "CMAC" with AES-128-CBC. Algorithms are fetched
 * once per process; a struct tf128_ctx keeps the contexts of one stream.
 * Intermediate key material is wiped.
 */
#include "crypto/tf128_format.h"

#include "core/error.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <string.h>

static EVP_MAC *cmac_algorithm;
static EVP_CIPHER *gcm_cipher;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void)
{
    cmac_algorithm = EVP_MAC_fetch(NULL, "CMAC", NULL);
    gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
}

static int fetched(void)
{
    pthread_once(&fetch_once, fetch_algorithms);
    ENSURE(cmac_algorithm && gcm_cipher, "AES-CMAC or AES-128-GCM is not available in OpenSSL");
    return 0;
}

static void store_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void store_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int kdf_input(const char *label, uint64_t node_number, const uint8_t nonce[32],
                     uint8_t input[120])
{
    size_t label_len = strlen(label);
    ENSURE(label_len <= 64, "KDF label too long");
    memset(input, 0, 120);
    store_u32le(input, 1);
    memcpy(input + 4, label, label_len);
    store_u64le(input + 72, node_number);
    memcpy(input + 80, nonce, 32);
    store_u32le(input + 112, 0x80);
    return 0;
}

static EVP_MAC_CTX *cmac_new(const uint8_t key[16])
{
    if (fetched() < 0)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(cmac_algorithm);
    char cipher[] = "AES-128-CBC";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!ctx || !EVP_MAC_init(ctx, key, 16, params)) {
        EVP_MAC_CTX_free(ctx);
        steep_error_set("AES-CMAC initialisation failed");
        return NULL;
    }
    return ctx;
}

/* CMAC of the KDF input with a keyed context; restart reuses the key. */
static int cmac_derive(EVP_MAC_CTX *ctx, int restart, const char *label, uint64_t node_number,
                       const uint8_t nonce[32], uint8_t out[16])
{
    uint8_t input[120];
    GUARD(kdf_input(label, node_number, nonce, input));
    size_t out_len = 0;
    int ok = (!restart || EVP_MAC_init(ctx, NULL, 0, NULL)) &&
             EVP_MAC_update(ctx, input, sizeof(input)) && EVP_MAC_final(ctx, out, &out_len, 16) &&
             out_len == 16;
    OPENSSL_cleanse(input, sizeof(input));
    ENSURE(ok, "AES-CMAC failed");
    return 0;
}

int tf128_derive_key(const uint8_t master[16], const char *label, uint64_t node_number,
                     const uint8_t nonce[32], uint8_t out[16])
{
    EVP_MAC_CTX *ctx = cmac_new(master);
    if (!ctx)
        return -1;
    int rc = cmac_derive(ctx, 0, label, node_number, nonce, out);
    EVP_MAC_CTX_free(ctx);
    return rc;
}

int tf128_ctx_init(struct tf128_ctx *ctx)
{
    ctx->gcm = NULL;
    ctx->kdf = NULL;
    GUARD(fetched());
    EVP_CIPHER_CTX *gcm = EVP_CIPHER_CTX_new();
    ENSURE(gcm, "out of memory");
    if (!EVP_CipherInit_ex2(gcm, gcm_cipher, NULL, NULL, 1, NULL)) {
        EVP_CIPHER_CTX_free(gcm);
        return steep_error_set("AES-128-GCM initialisation failed");
    }
    ctx->gcm = gcm;
    return 0;
}

int tf128_ctx_set_master(struct tf128_ctx *ctx, const uint8_t master[16])
{
    EVP_MAC_CTX_free(ctx->kdf);
    ctx->kdf = cmac_new(master);
    return ctx->kdf ? 0 : -1;
}

int tf128_ctx_derive(struct tf128_ctx *ctx, const char *label, uint64_t node_number,
                     const uint8_t nonce[32], uint8_t out[16])
{
    ENSURE(ctx->kdf, "KDF context has no key");
    return cmac_derive(ctx->kdf, 1, label, node_number, nonce, out);
}

void tf128_ctx_free(struct tf128_ctx *ctx)
{
    EVP_CIPHER_CTX_free(ctx->gcm);
    EVP_MAC_CTX_free(ctx->kdf);
    ctx->gcm = ctx->kdf = NULL;
}

static const uint8_t zero_iv[12];

static int node_crypt(struct tf128_ctx *ctx, int encrypt, const uint8_t key[16], const uint8_t *in,
                      size_t len, uint8_t *out, uint8_t tag[16])
{
    EVP_CIPHER_CTX *c = ctx->gcm;
    uint8_t final_block[16];
    int outl = 0;
    ENSURE(len <= INT_MAX, "node too large");
    if (!EVP_CipherInit_ex2(c, NULL, key, zero_iv, encrypt, NULL) ||
        !EVP_CipherUpdate(c, out, &outl, in, (int)len))
        return steep_error_set("AES-128-GCM failed");
    if (encrypt) {
        ENSURE(EVP_CipherFinal_ex(c, final_block, &outl) &&
                   EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag),
               "AES-128-GCM failed");
        return 0;
    }
    ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) &&
               EVP_CipherFinal_ex(c, final_block, &outl) > 0,
           "authentication failed");
    return 0;
}

int tf128_node_encrypt(struct tf128_ctx *ctx, const uint8_t key[16], const uint8_t *in, size_t len,
                       uint8_t *out, uint8_t tag[16])
{
    return node_crypt(ctx, 1, key, in, len, out, tag);
}

int tf128_node_decrypt(struct tf128_ctx *ctx, const uint8_t key[16], const uint8_t *in, size_t len,
                       const uint8_t tag[16], uint8_t *out)
{
    return node_crypt(ctx, 0, key, in, len, out, (uint8_t *)tag);
}
