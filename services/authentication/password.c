/* argon2id password hashes and random passwords; see password.h. */
#include "authentication/password.h"

#include "core/buf.h"
#include "core/error.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#define SALT_LEN 16
#define HASH_LEN 32

int steep_auth_password_hash(const struct steep_auth_argon2 *params, const char *password,
                             char encoded[STEEP_AUTH_HASH_MAX])
{
    size_t len = strnlen(password, STEEP_AUTH_PASSWORD_MAX + 1);
    ENSURE(len <= STEEP_AUTH_PASSWORD_MAX, "password longer than %d bytes",
           STEEP_AUTH_PASSWORD_MAX);
    uint8_t salt[SALT_LEN];
    ENSURE(RAND_bytes(salt, sizeof salt) == 1, "no randomness for a salt");
    size_t need = argon2_encodedlen(params->t_cost, params->m_cost_kib, params->parallelism,
                                    SALT_LEN, HASH_LEN, Argon2_id);
    ENSURE(need <= STEEP_AUTH_HASH_MAX, "argon2 parameters too large");
    int rc =
        argon2id_hash_encoded(params->t_cost, params->m_cost_kib, params->parallelism, password,
                              len, salt, sizeof salt, HASH_LEN, encoded, STEEP_AUTH_HASH_MAX);
    ENSURE(rc == ARGON2_OK, "argon2id: %s", argon2_error_message(rc));
    return 0;
}

bool steep_auth_password_verify(const char *encoded, const char *password)
{
    size_t len = strnlen(password, STEEP_AUTH_PASSWORD_MAX + 1);
    if (len > STEEP_AUTH_PASSWORD_MAX)
        return false;
    return argon2id_verify(encoded, password, len) == ARGON2_OK;
}

int steep_auth_password_random(char out[33])
{
    uint8_t bytes[16];
    ENSURE(RAND_bytes(bytes, sizeof bytes) == 1, "no randomness for a password");
    bytes[6] = (uint8_t)((bytes[6] & 0x0f) | 0x40); /* version 4 */
    bytes[8] = (uint8_t)((bytes[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    steep_hex_encode(bytes, sizeof bytes, out);
    OPENSSL_cleanse(bytes, sizeof bytes);
    return 0;
}
