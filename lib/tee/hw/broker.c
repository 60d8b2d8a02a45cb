/* Key derivation and wrapping of the authority's key broker; see broker.h. */
#include "tee/hw/broker.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"
#include "tee/keys.h"

static int hkdf(const void *secret, size_t secret_len, const void *salt, size_t salt_len,
                const void *info, size_t info_len, uint8_t out[32])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len),
        OSSL_PARAM_construct_end(),
    };
    bool ok = ctx && EVP_KDF_derive(ctx, out, 32, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    ENSURE(ok, "key broker: cannot derive a key");
    return 0;
}

int steep_broker_derive(const uint8_t master[STEEP_BROKER_MASTER_LEN], const char *service,
                        enum steep_tee_seal_policy policy,
                        const uint8_t identity[STEEP_TEE_MEASUREMENT_LEN], const char *label,
                        uint8_t key[STEEP_TEE_SEAL_KEY_LEN])
{
    ENSURE(policy == STEEP_TEE_SEAL_SIGNER || policy == STEEP_TEE_SEAL_MEASUREMENT,
           "key broker: unknown sealing policy %d", (int)policy);
    size_t label_len = strlen(label);
    ENSURE(label_len > 0 && label_len <= STEEP_BROKER_LABEL_MAX,
           "key broker: the label must be 1 to %d bytes", STEEP_BROKER_LABEL_MAX);
    struct steep_buf info = STEEP_BUF_INIT;
    int rc = steep_buf_append(&info, service, strlen(service) + 1);
    if (rc == 0)
        rc = steep_buf_append_u8(&info, (uint8_t)policy);
    if (rc == 0)
        rc = steep_buf_append(&info, label, label_len);
    if (rc == 0 && policy == STEEP_TEE_SEAL_MEASUREMENT)
        rc = steep_buf_append(&info, identity, STEEP_TEE_MEASUREMENT_LEN);
    if (rc == 0)
        rc = hkdf(master, STEEP_BROKER_MASTER_LEN, "steep-broker-v1", 15, info.data, info.len, key);
    steep_buf_free(&info);
    return rc;
}

static int shared_key(EVP_PKEY *own, EVP_PKEY *peer, const uint8_t ephemeral_xy[64],
                      const uint8_t recipient_xy[64], uint8_t out[32])
{
    uint8_t secret[32], salt[128];
    size_t len = sizeof(secret);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(own, NULL);
    bool ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
              EVP_PKEY_derive(ctx, secret, &len) == 1 && len == sizeof(secret);
    EVP_PKEY_CTX_free(ctx);
    ENSURE(ok, "key broker: ECDH failed");
    memcpy(salt, ephemeral_xy, 64);
    memcpy(salt + 64, recipient_xy, 64);
    int rc = hkdf(secret, sizeof(secret), salt, sizeof(salt), "steep-broker-wrap-v1", 20, out);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

static int gcm(bool encrypt, const uint8_t key[32], const uint8_t nonce[12], const char *label,
               const uint8_t *in, uint8_t *out, uint8_t tag[16])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    bool ok = ctx &&
              EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, encrypt ? 1 : 0) == 1 &&
              EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)label, (int)strlen(label)) == 1 &&
              EVP_CipherUpdate(ctx, out, &n, in, STEEP_TEE_SEAL_KEY_LEN) == 1;
    if (ok && !encrypt)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
    ok = ok && EVP_CipherFinal_ex(ctx, out + n, &n) == 1;
    if (ok && encrypt)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

int steep_broker_wrap(const uint8_t recipient_xy[64], const char *label,
                      const uint8_t key[STEEP_TEE_SEAL_KEY_LEN], uint8_t ephemeral_xy[64],
                      uint8_t nonce[STEEP_BROKER_NONCE_LEN],
                      uint8_t wrapped[STEEP_BROKER_WRAPPED_LEN])
{
    EVP_PKEY *recipient = steep_hw_p256_key(recipient_xy);
    ENSURE(recipient, "key broker: the evidence's report data is not the X||Y of a P-256 key "
                      "to wrap the sealing key to");
    EVP_PKEY *ephemeral = steep_tee_key_generate_p256();
    uint8_t wrap_key[32];
    int rc = ephemeral && steep_tee_key_p256_xy(ephemeral, ephemeral_xy) == 0 &&
                     RAND_bytes(nonce, STEEP_BROKER_NONCE_LEN) == 1
                 ? shared_key(ephemeral, recipient, ephemeral_xy, recipient_xy, wrap_key)
                 : steep_error_set("key broker: no ephemeral key");
    if (rc == 0 &&
        gcm(true, wrap_key, nonce, label, key, wrapped, wrapped + STEEP_TEE_SEAL_KEY_LEN) < 0)
        rc = steep_error_set("key broker: cannot wrap the key");
    OPENSSL_cleanse(wrap_key, sizeof(wrap_key));
    EVP_PKEY_free(ephemeral);
    EVP_PKEY_free(recipient);
    return rc;
}

int steep_broker_unwrap(EVP_PKEY *recipient, const char *label, const uint8_t ephemeral_xy[64],
                        const uint8_t nonce[STEEP_BROKER_NONCE_LEN],
                        const uint8_t wrapped[STEEP_BROKER_WRAPPED_LEN],
                        uint8_t key[STEEP_TEE_SEAL_KEY_LEN])
{
    uint8_t recipient_xy[64], wrap_key[32], tag[16];
    EVP_PKEY *ephemeral = steep_hw_p256_key(ephemeral_xy);
    ENSURE(ephemeral, "key broker: the authority's ephemeral key is no P-256 point");
    int rc = steep_tee_key_p256_xy(recipient, recipient_xy);
    if (rc == 0)
        rc = shared_key(recipient, ephemeral, ephemeral_xy, recipient_xy, wrap_key);
    memcpy(tag, wrapped + STEEP_TEE_SEAL_KEY_LEN, 16);
    if (rc == 0 && gcm(false, wrap_key, nonce, label, wrapped, key, tag) < 0)
        rc = steep_error_set("key broker: the wrapped key does not open (not for this key or "
                             "label, or altered)");
    OPENSSL_cleanse(wrap_key, sizeof(wrap_key));
    EVP_PKEY_free(ephemeral);
    if (rc < 0)
        OPENSSL_cleanse(key, STEEP_TEE_SEAL_KEY_LEN);
    return rc;
}
