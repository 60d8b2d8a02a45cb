/*
 * User keys (ids.h): a name-based UUIDv5 of the user id. The other ids are
 * the shared module lib/task/ids.c (UUIDs from the OpenSSL DRBG; parsing
 * accepts hyphenated or 32 hex digits in any case, as Rust's uuid crate
 * does in practice, and always hands back the canonical lowercase form, so
 * one record never has two keys).
 */
#include "ids.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/error.h"
#include "core/text.h"

int steep_id_user_key(const char *user_id, char out[STEEP_ID_TEXT])
{
    /* RFC 4122 namespace for DNS names: 6ba7b810-9dad-11d1-80b4-00c04fd430c8. */
    static const uint8_t namespace_dns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                              0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ENSURE(md != NULL, "out of memory");
    int ok = EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
             EVP_DigestUpdate(md, namespace_dns, sizeof namespace_dns) == 1 &&
             EVP_DigestUpdate(md, user_id, strlen(user_id)) == 1 &&
             EVP_DigestFinal_ex(md, digest, &digest_len) == 1;
    EVP_MD_CTX_free(md);
    ENSURE(ok && digest_len >= 16, "sha1 failed");
    digest[6] = (uint8_t)((digest[6] & 0x0f) | 0x50);
    digest[8] = (uint8_t)((digest[8] & 0x3f) | 0x80);
    char uuid[STEEP_UUID_TEXT];
    steep_uuid_format(digest, uuid);
    snprintf(out, STEEP_ID_TEXT, "user-%s", uuid);
    return 0;
}

/* ---- keyed user keys (issue 14, item 17) ---- */

int steep_id_user_key_keyed(const uint8_t secret[STEEP_ID_USER_SECRET_LEN], const char *user_id,
                            char out[STEEP_ID_TEXT])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    ENSURE(HMAC(EVP_sha256(), secret, STEEP_ID_USER_SECRET_LEN, (const uint8_t *)user_id,
                strlen(user_id), mac, &mac_len) != NULL &&
               mac_len >= 16,
           "HMAC-SHA256 failed");
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    snprintf(out, STEEP_ID_TEXT, "user-%s", hex);
    return 0;
}

bool steep_id_user_key_is_legacy(const char *key)
{
    /* "user-" + a hyphenated UUID (36), where keyed keys are 32 hex digits. */
    return strncmp(key, "user-", 5) == 0 && strlen(key) == 5 + 36 && strchr(key + 5, '-');
}
