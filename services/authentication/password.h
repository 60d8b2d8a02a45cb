/*
 * Password hashing with argon2id (libargon2): a fresh 16-byte salt per
 * hash, parameters from the configuration, the PHC encoded string
 * ($argon2id$v=19$m=..,t=..,p=..$salt$hash) stored as is, so a change of
 * parameters applies to new hashes without breaking old ones. Also the
 * random passwords of ResetUserPassword (UUIDv4, 32 lowercase hex digits,
 * as Teaclave).
 */
#ifndef STEEP_AUTHENTICATION_PASSWORD_H
#define STEEP_AUTHENTICATION_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STEEP_AUTH_HASH_MAX     192
#define STEEP_AUTH_PASSWORD_MAX 1024

struct steep_auth_argon2 {
    uint32_t t_cost;
    uint32_t m_cost_kib;
    uint32_t parallelism;
};

/* Defaults: t=2, m=19456 KiB, p=1 (OWASP's argon2id minimum). */
#define STEEP_AUTH_ARGON2_DEFAULT                                                                  \
    {                                                                                              \
        2, 19456, 1                                                                                \
    }

int steep_auth_password_hash(const struct steep_auth_argon2 *params, const char *password,
                             char encoded[STEEP_AUTH_HASH_MAX]);
/* True when password matches the encoded hash; false on mismatch or error. */
bool steep_auth_password_verify(const char *encoded, const char *password);
/* A random UUIDv4 without dashes, lowercase. */
int steep_auth_password_random(char out[33]);

#endif
