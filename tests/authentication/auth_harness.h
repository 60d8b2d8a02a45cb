/*
 * Harness for steep-authentication tests: the real service (user store,
 * sealed secret, handlers) in a temporary directory, served over RPC on a
 * free port, plus one-line wrappers for every RPC that return the gRPC
 * status code and keep the message in last_status.
 */
#ifndef STEEP_TESTS_AUTH_HARNESS_H
#define STEEP_TESTS_AUTH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authentication/service.h"
#include "rpc_harness.h"

struct auth_env {
    char dir[64];
    struct steep_auth_options options;
    struct steep_auth *auth;
    struct test_server server;
    struct steep_rpc_status last_status;
};

/* Creates a temp dir and starts the service (login delays off unless set in
 * options afterwards with auth_env_restart). */
int auth_env_start(struct auth_env *env);
/* Stops server and service, keeps the directory, starts again with env->options. */
int auth_env_restart(struct auth_env *env);
void auth_env_stop(struct auth_env *env);
/* Stops everything and removes the directory. */
void auth_env_destroy(struct auth_env *env);

/* Each returns the gRPC code (0 on success). */
int auth_login(struct auth_env *env, const char *id, const char *password, char **token);
int auth_register(struct auth_env *env, const char *as_id, const char *as_token, const char *id,
                  const char *password, const char *role, const char *attribute);
int auth_update(struct auth_env *env, const char *as_id, const char *as_token, const char *id,
                const char *password, const char *role, const char *attribute);
int auth_change_password(struct auth_env *env, const char *as_id, const char *as_token,
                         const char *password);
int auth_reset(struct auth_env *env, const char *as_id, const char *as_token, const char *id,
               char password[64]);
int auth_delete(struct auth_env *env, const char *as_id, const char *as_token, const char *id);
/* ids: a comma-separated, sorted list written to out. */
int auth_list(struct auth_env *env, const char *as_id, const char *as_token, const char *filter,
              char *out, size_t out_len);
/* Internal UserAuthenticate; role_out/exp_out may be NULL. */
int auth_authenticate(struct auth_env *env, const char *id, const char *token, char *role_out,
                      size_t role_len, uint64_t *exp_out);

/* Registers a user as admin and logs them in; returns the token (free it). */
char *auth_make_user(struct auth_env *env, const char *admin_token, const char *id,
                     const char *role, const char *attribute);

#endif
