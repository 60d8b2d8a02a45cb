/* JWT secret, issuing and decoding; see token.h. */
#include "authentication/token.h"

#include "core/buf.h"
#include "core/error.h"
#include "crypto/aes_gcm.h"
#include "store/store.h"

#include <errno.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SEALED_MAGIC   "SJWT"
#define SEALED_VERSION 1
#define SEALED_HEADER  (4 + 1)
#define SEALED_LEN     (SEALED_HEADER + STEEP_GCM_IV_LEN + STEEP_AUTH_SECRET_LEN + STEEP_GCM_TAG_LEN)

static void sealed_aad(uint8_t aad[SEALED_HEADER + sizeof STEEP_AUTH_SEAL_LABEL])
{
    memcpy(aad, SEALED_MAGIC, 4);
    aad[4] = SEALED_VERSION;
    memcpy(aad + SEALED_HEADER, STEEP_AUTH_SEAL_LABEL, sizeof STEEP_AUTH_SEAL_LABEL);
}

static int unseal(const struct steep_buf *blob, const uint8_t key[STEEP_AUTH_KEY_LEN],
                  uint8_t secret[STEEP_AUTH_SECRET_LEN])
{
    struct steep_cursor c = steep_cursor_make(blob->data, blob->len);
    const uint8_t *magic, *iv, *ciphertext, *tag;
    uint8_t version;
    ENSURE(blob->len == SEALED_LEN, "sealed JWT secret has the wrong size");
    GUARD(steep_cursor_read_span(&c, &magic, 4));
    GUARD(steep_cursor_read_u8(&c, &version));
    ENSURE(memcmp(magic, SEALED_MAGIC, 4) == 0 && version == SEALED_VERSION,
           "not a sealed JWT secret");
    GUARD(steep_cursor_read_span(&c, &iv, STEEP_GCM_IV_LEN));
    GUARD(steep_cursor_read_span(&c, &ciphertext, STEEP_AUTH_SECRET_LEN));
    GUARD(steep_cursor_read_span(&c, &tag, STEEP_GCM_TAG_LEN));
    uint8_t aad[SEALED_HEADER + sizeof STEEP_AUTH_SEAL_LABEL];
    sealed_aad(aad);
    if (steep_aes_gcm_open(key, STEEP_AUTH_KEY_LEN, iv, aad, sizeof aad, ciphertext,
                           STEEP_AUTH_SECRET_LEN, tag, secret) < 0) {
        OPENSSL_cleanse(secret, STEEP_AUTH_SECRET_LEN);
        return steep_error_set("the sealed JWT secret does not unseal (wrong sealing key or "
                               "tampered file)");
    }
    return 0;
}

/* A fresh random secret in secret and its sealed form in blob. */
static int seal_new(const uint8_t key[STEEP_AUTH_KEY_LEN], uint8_t secret[STEEP_AUTH_SECRET_LEN],
                    uint8_t blob[SEALED_LEN])
{
    memcpy(blob, SEALED_MAGIC, 4);
    blob[4] = SEALED_VERSION;
    uint8_t *iv = blob + SEALED_HEADER;
    uint8_t *ciphertext = iv + STEEP_GCM_IV_LEN;
    uint8_t *tag = ciphertext + STEEP_AUTH_SECRET_LEN;
    ENSURE(RAND_bytes(secret, STEEP_AUTH_SECRET_LEN) == 1 && RAND_bytes(iv, STEEP_GCM_IV_LEN) == 1,
           "no randomness for the JWT secret");
    uint8_t aad[SEALED_HEADER + sizeof STEEP_AUTH_SEAL_LABEL];
    sealed_aad(aad);
    return steep_aes_gcm_seal(key, STEEP_AUTH_KEY_LEN, iv, aad, sizeof aad, secret,
                              STEEP_AUTH_SECRET_LEN, ciphertext, tag);
}

static int create(const char *path, const uint8_t key[STEEP_AUTH_KEY_LEN],
                  uint8_t secret[STEEP_AUTH_SECRET_LEN])
{
    uint8_t blob[SEALED_LEN];
    GUARD(seal_new(key, secret, blob));
    return steep_write_file_atomic(path, blob, sizeof blob, 0600);
}

int steep_auth_secret_load_store(struct steep_store *store, const uint8_t key[STEEP_AUTH_KEY_LEN],
                                 uint8_t secret[STEEP_AUTH_SECRET_LEN])
{
    struct steep_buf blob = STEEP_BUF_INIT;
    int rc =
        steep_store_get(store, STEEP_AUTH_SECRET_RECORD, strlen(STEEP_AUTH_SECRET_RECORD), &blob);
    if (rc == STEEP_STORE_NOT_FOUND) {
        /* First replica to start: offer a new secret; when another replica
         * won the race, its secret (now stored) is the one every replica uses. */
        uint8_t fresh[SEALED_LEN];
        struct steep_store_cas cas = {
            .key = STEEP_AUTH_SECRET_RECORD,
            .key_len = strlen(STEEP_AUTH_SECRET_RECORD),
            .expect_absent = true,
            .value = fresh,
            .value_len = sizeof fresh,
        };
        rc = seal_new(key, secret, fresh) == 0 &&
                     steep_store_compare_and_swap(store, &cas) == STEEP_STORE_OK
                 ? STEEP_STORE_OK
                 : STEEP_STORE_ERROR;
        OPENSSL_cleanse(fresh, sizeof fresh);
        if (rc == STEEP_STORE_OK && cas.swapped) {
            steep_buf_free(&blob);
            return 0;
        }
        OPENSSL_cleanse(secret, STEEP_AUTH_SECRET_LEN);
        if (rc == STEEP_STORE_OK)
            rc = steep_store_get(store, STEEP_AUTH_SECRET_RECORD, strlen(STEEP_AUTH_SECRET_RECORD),
                                 &blob);
    }
    if (rc == STEEP_STORE_OK)
        rc = unseal(&blob, key, secret) == 0 ? STEEP_STORE_OK : STEEP_STORE_ERROR;
    else if (rc == STEEP_STORE_NOT_FOUND)
        steep_error_set("the JWT secret vanished from the store while it was created");
    steep_buf_free(&blob);
    if (rc != STEEP_STORE_OK)
        return steep_error_wrap("JWT secret record %s", STEEP_AUTH_SECRET_RECORD);
    return 0;
}

int steep_auth_secret_load(const char *path, const uint8_t key[STEEP_AUTH_KEY_LEN],
                           uint8_t secret[STEEP_AUTH_SECRET_LEN])
{
    struct stat st;
    if (stat(path, &st) < 0) {
        ENSURE(errno == ENOENT, "cannot read %s: %m", path);
        return create(path, key, secret);
    }
    struct steep_buf blob = STEEP_BUF_INIT;
    int rc = steep_read_file(path, SEALED_LEN + 1, &blob);
    if (rc == 0)
        rc = unseal(&blob, key, secret);
    steep_buf_free(&blob);
    if (rc < 0)
        return steep_error_wrap("%s", path);
    return 0;
}

int steep_auth_token_issue(const uint8_t secret[STEEP_AUTH_SECRET_LEN],
                           const struct steep_auth_claims *claims, char **token)
{
    jwt_t *jwt = NULL;
    ENSURE(jwt_new(&jwt) == 0, "out of memory");
    int rc = jwt_add_grant(jwt, "sub", claims->sub) || jwt_add_grant(jwt, "role", claims->role) ||
             jwt_add_grant(jwt, "iss", claims->iss) ||
             jwt_add_grant_int(jwt, "exp", (long)claims->exp) ||
             jwt_add_grant_int(jwt, "iat", (long)claims->iat) ||
             jwt_add_grant_int(jwt, "ver", (long)claims->version) ||
             jwt_set_alg(jwt, JWT_ALG_HS512, secret, STEEP_AUTH_SECRET_LEN);
    *token = rc ? NULL : jwt_encode_str(jwt);
    jwt_free(jwt);
    ENSURE(*token != NULL, "cannot sign a token");
    return 0;
}

static int copy_grant(jwt_t *jwt, const char *name, char *out, size_t out_len)
{
    const char *value = jwt_get_grant(jwt, name);
    ENSURE(value && strlen(value) < out_len, "token claim '%s' missing or too long", name);
    memcpy(out, value, strlen(value) + 1);
    return 0;
}

static int int_grant(jwt_t *jwt, const char *name, int64_t *out)
{
    errno = 0;
    long value = jwt_get_grant_int(jwt, name);
    ENSURE(errno == 0, "token claim '%s' missing or not a number", name);
    *out = value;
    return 0;
}

static int read_claims(jwt_t *jwt, int64_t now, struct steep_auth_claims *claims)
{
    ENSURE(jwt_get_alg(jwt) == JWT_ALG_HS512, "token algorithm is not HS512");
    GUARD(copy_grant(jwt, "sub", claims->sub, sizeof claims->sub));
    GUARD(copy_grant(jwt, "role", claims->role, sizeof claims->role));
    GUARD(copy_grant(jwt, "iss", claims->iss, sizeof claims->iss));
    ENSURE(strcmp(claims->iss, STEEP_AUTH_ISSUER) == 0, "token issuer is not Teaclave");
    GUARD(int_grant(jwt, "exp", &claims->exp));
    ENSURE(claims->exp > now, "token expired");
    int64_t version = 0;
    claims->iat = 0;
    GUARD(int_grant(jwt, "ver", &version));
    int_grant(jwt, "iat", &claims->iat);
    claims->version = (uint64_t)version;
    return 0;
}

int steep_auth_token_decode(const uint8_t secret[STEEP_AUTH_SECRET_LEN], const char *token,
                            int64_t now, struct steep_auth_claims *claims)
{
    memset(claims, 0, sizeof *claims);
    ENSURE(token && strnlen(token, STEEP_AUTH_TOKEN_MAX + 1) <= STEEP_AUTH_TOKEN_MAX,
           "token too long");
    /* An unsigned token ("alg": "none") has an empty third part; refuse it
     * before the library sees it. */
    const char *last_dot = strrchr(token, '.');
    ENSURE(last_dot && last_dot[1] != '\0', "token is not signed");
    jwt_t *jwt = NULL;
    ENSURE(jwt_decode(&jwt, token, secret, STEEP_AUTH_SECRET_LEN) == 0 && jwt,
           "token signature does not verify");
    int rc = read_claims(jwt, now, claims);
    jwt_free(jwt);
    return rc;
}
