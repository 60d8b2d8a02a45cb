/*
 * External IDs. UUIDs come from the OpenSSL DRBG; parsing accepts what
 * Rust's uuid crate's parse_str accepts in practice (hyphenated or 32 hex
 * digits, any case) and always hands back the canonical lowercase form, so
 * one record never has two keys.
 */
#include "ids.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/error.h"

static void format_uuid(const uint8_t b[16], char out[STEEP_UUID_TEXT])
{
    snprintf(out, STEEP_UUID_TEXT,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int steep_id_uuid_new(char out[STEEP_UUID_TEXT])
{
    uint8_t b[16];
    ENSURE(RAND_bytes(b, sizeof b) == 1, "random number generator failed");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    format_uuid(b, out);
    return 0;
}

int steep_id_new(const char *prefix, char out[STEEP_ID_TEXT], char uuid_out[STEEP_UUID_TEXT])
{
    char uuid[STEEP_UUID_TEXT];
    GUARD(steep_id_uuid_new(uuid));
    int n = snprintf(out, STEEP_ID_TEXT, "%s-%s", prefix, uuid);
    ENSURE(n > 0 && n < STEEP_ID_TEXT, "id prefix too long");
    if (uuid_out)
        memcpy(uuid_out, uuid, STEEP_UUID_TEXT);
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int parse_uuid(const char *text, uint8_t out[16])
{
    size_t len = strlen(text);
    ENSURE(len == 36 || len == 32, "invalid uuid");
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (len == 36 && (pos == 8 || pos == 13 || pos == 18 || pos == 23)) {
            ENSURE(text[pos] == '-', "invalid uuid");
            pos++;
        }
        int high = hex_value(text[pos]), low = hex_value(text[pos + 1]);
        ENSURE(high >= 0 && low >= 0, "invalid uuid");
        out[i] = (uint8_t)(high << 4 | low);
        pos += 2;
    }
    return 0;
}

int steep_id_parse(const char *text, const char *prefix, char uuid_out[STEEP_UUID_TEXT])
{
    ENSURE(text != NULL, "missing id");
    const char *dash = strchr(text, '-');
    ENSURE(dash != NULL, "invalid id");
    size_t prefix_len = strlen(prefix);
    ENSURE((size_t)(dash - text) == prefix_len && memcmp(text, prefix, prefix_len) == 0,
           "invalid id prefix");
    uint8_t bytes[16];
    GUARD(parse_uuid(dash + 1, bytes));
    format_uuid(bytes, uuid_out);
    return 0;
}

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
    format_uuid(digest, uuid);
    snprintf(out, STEEP_ID_TEXT, "user-%s", uuid);
    return 0;
}
