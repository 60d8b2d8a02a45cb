/*
 * Key derivation and node encryption of teaclave-file-128 (see
 * tf128_format.h). The KDF input is built into a fixed 120-byte buffer with
 * steep_buf-free stores; CMAC runs through OpenSSL 3 EVP_MAC "CMAC" with
 * AES-128-CBC. Intermediate key material is wiped.
 */
#include "crypto/tf128_format.h"

#include "crypto/aes_gcm.h"

#include "core/error.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <string.h>

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

static EVP_MAC *cmac_algorithm;
static pthread_once_t cmac_once = PTHREAD_ONCE_INIT;

static void cmac_fetch(void)
{
    cmac_algorithm = EVP_MAC_fetch(NULL, "CMAC", NULL);
}

static int aes_cmac(const uint8_t key[16], const uint8_t *msg, size_t len, uint8_t out[16])
{
    pthread_once(&cmac_once, cmac_fetch);
    ENSURE(cmac_algorithm, "CMAC is not available in OpenSSL");
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(cmac_algorithm);
    ENSURE(ctx, "out of memory");
    char cipher[] = "AES-128-CBC";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
        OSSL_PARAM_construct_end(),
    };
    size_t out_len = 0;
    int ok = EVP_MAC_init(ctx, key, 16, params) && EVP_MAC_update(ctx, msg, len) &&
             EVP_MAC_final(ctx, out, &out_len, 16) && out_len == 16;
    EVP_MAC_CTX_free(ctx);
    ENSURE(ok, "AES-CMAC failed");
    return 0;
}

int tf128_derive_key(const uint8_t master[16], const char *label, uint64_t node_number,
                     const uint8_t nonce[32], uint8_t out[16])
{
    uint8_t input[120] = {0};
    size_t label_len = strlen(label);
    ENSURE(label_len <= 64, "KDF label too long");
    store_u32le(input, 1);
    memcpy(input + 4, label, label_len);
    store_u64le(input + 72, node_number);
    memcpy(input + 80, nonce, 32);
    store_u32le(input + 112, 0x80);
    int rc = aes_cmac(master, input, sizeof(input), out);
    OPENSSL_cleanse(input, sizeof(input));
    return rc;
}

static const uint8_t zero_iv[12];

int tf128_node_encrypt(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out,
                       uint8_t tag[16])
{
    return steep_aes_gcm_seal(key, 16, zero_iv, NULL, 0, in, len, out, tag);
}

int tf128_node_decrypt(const uint8_t key[16], const uint8_t *in, size_t len, const uint8_t tag[16],
                       uint8_t *out)
{
    return steep_aes_gcm_open(key, 16, zero_iv, NULL, 0, in, len, tag, out);
}
