/*
 * JSON Web Tokens of steep-authentication: HS512 (libjwt) with claims
 * Teaclave's clients expect — sub, role, iss = "Teaclave", exp — plus ours:
 * iat and ver (the user's credential version, user_db.h).
 *
 * The 64-byte HMAC secret is random on first start and kept in a file
 * sealed with AES-256-GCM under a TEE sealing key ("authentication-jwt"),
 * so tokens survive a restart. Decoding checks, in order: size, signature
 * (the algorithm must be HS512: `none` and every other one are refused),
 * iss, exp; the caller then checks sub, the user and the version.
 */
#ifndef STEEP_AUTHENTICATION_TOKEN_H
#define STEEP_AUTHENTICATION_TOKEN_H

#include <stdint.h>

#include "authentication/roles.h"
#include "authentication/user_db.h"

#define STEEP_AUTH_SECRET_LEN 64
#define STEEP_AUTH_KEY_LEN    32
#define STEEP_AUTH_TOKEN_MAX  4096
#define STEEP_AUTH_ISSUER     "Teaclave"
#define STEEP_AUTH_SEAL_LABEL "authentication-jwt"

struct steep_auth_claims {
    char sub[STEEP_AUTH_ID_MAX + 1];
    char role[STEEP_AUTH_ROLE_MAX];
    char iss[16];
    int64_t exp;
    int64_t iat;
    uint64_t version;
};

/* Reads the sealed secret at path, or creates, seals and writes a new one
 * when the file does not exist. A file that does not unseal is an error
 * (never silently replaced). */
int steep_auth_secret_load(const char *path, const uint8_t key[STEEP_AUTH_KEY_LEN],
                           uint8_t secret[STEEP_AUTH_SECRET_LEN]);

/* The same secret kept in the user store under STEEP_AUTH_SECRET_RECORD
 * (sealed with key inside the store's own sealing), for replicas sharing
 * one store (etcd): the first replica to start creates it with a
 * compare-and-swap, every other one reads that one, so a token issued by
 * any replica verifies on all of them. */
#define STEEP_AUTH_SECRET_RECORD "meta/jwt_secret"
struct steep_store;
int steep_auth_secret_load_store(struct steep_store *store, const uint8_t key[STEEP_AUTH_KEY_LEN],
                                 uint8_t secret[STEEP_AUTH_SECRET_LEN]);

/* A signed token; *token is malloc'ed (wipe and free it). */
int steep_auth_token_issue(const uint8_t secret[STEEP_AUTH_SECRET_LEN],
                           const struct steep_auth_claims *claims, char **token);
/* Verifies signature, algorithm, issuer and expiry (against now, Unix
 * seconds) and returns the claims. */
int steep_auth_token_decode(const uint8_t secret[STEEP_AUTH_SECRET_LEN], const char *token,
                            int64_t now, struct steep_auth_claims *claims);

#endif
