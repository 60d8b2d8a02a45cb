/*
 * steep-authentication as a library: the user database, the JWT secret and
 * the RPC handlers, independent of configuration and attestation (main.c
 * wires those), so tests run the real handlers in-process.
 *
 * API endpoint (public, one-way attested): UserRegister, UserUpdate,
 * UserLogin, UserChangePassword, ResetUserPassword, DeleteUser, ListUsers.
 * Internal endpoint (frontend only): UserAuthenticate. Every error is
 * UNAUTHENTICATED with one of Teaclave's messages (teaclave-api.md §1.12).
 */
#ifndef STEEP_AUTHENTICATION_SERVICE_H
#define STEEP_AUTHENTICATION_SERVICE_H

#include <stdint.h>

#include "authentication/hash_pool.h"
#include "authentication/password.h"
#include "authentication/token.h"
#include "rpc/rpc.h"

#define STEEP_AUTH_DEFAULT_ADMIN          "admin"
#define STEEP_AUTH_DEFAULT_ADMIN_PASSWORD "teaclave"
#define STEEP_AUTH_DEFAULT_DELAY_BASE_MS  250
#define STEEP_AUTH_DEFAULT_DELAY_MAX_MS   8000
#define STEEP_AUTH_DEFAULT_FREE_FAILURES  3
#define STEEP_AUTH_DEFAULT_LIFETIME_S     86400

struct steep_config;

struct steep_auth_options {
    const char *state_dir; /* <data_dir>/authentication, created if needed */
    /* [storage] backend and its keys (NULL: LevelDB in state_dir) */
    const struct steep_config *config;
    uint8_t db_key[STEEP_AUTH_KEY_LEN];  /* seals the user database */
    uint8_t jwt_key[STEEP_AUTH_KEY_LEN]; /* seals the JWT secret */
    /* derives the store's keys from user ids (HMAC-SHA256; user_db.h) */
    uint8_t index_key[STEEP_AUTH_KEY_LEN];
    struct steep_auth_argon2 argon2;    /* zeros: STEEP_AUTH_ARGON2_DEFAULT */
    int64_t login_delay_base_ms;        /* <0: default; 0: no delay */
    int64_t login_delay_max_ms;         /* <=0: default */
    int login_free_failures;            /* failures before the first delay */
    int64_t token_lifetime_s;           /* <=0: 24 h */
    const char *admin_password;         /* first start only; NULL: "teaclave" */
    struct steep_auth_pool_config pool; /* zeros: the defaults of hash_pool.h */
};

struct steep_auth;

struct steep_auth *steep_auth_open(const struct steep_auth_options *options);
void steep_auth_close(struct steep_auth *auth);

int steep_auth_register_api(struct steep_rpc_server *server, struct steep_auth *auth);
int steep_auth_register_internal(struct steep_rpc_server *server, struct steep_auth *auth);

#endif
