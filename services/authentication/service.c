/*
 * Opening steep-authentication's state: the sealed user store under
 * <state_dir>/users, the sealed JWT secret <state_dir>/jwt_secret.sealed,
 * and the first-start bootstrap of `admin` (once, recorded by a marker, so
 * deleting every user does not bring the default password back). While
 * `admin` still has Teaclave's default password the log says so loudly at
 * every start.
 */
#include "authentication/service_internal.h"

#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BOOTSTRAP_KEY "meta/bootstrapped"

int64_t steep_auth_now(void)
{
    return (int64_t)time(NULL);
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return steep_error_set("cannot create %s: %m", path);
    return 0;
}

static void warn_default_password(struct steep_auth *auth)
{
    struct steep_auth_user admin;
    if (steep_auth_user_get(auth->store, STEEP_AUTH_DEFAULT_ADMIN, &admin) == STEEP_STORE_OK &&
        steep_auth_password_verify(admin.hash, STEEP_AUTH_DEFAULT_ADMIN_PASSWORD))
        log_warn("*** SECURITY WARNING: user 'admin' still has the default password; change it "
                 "now (UserChangePassword), or set [authentication] admin_password_file before "
                 "the first start ***");
    OPENSSL_cleanse(&admin, sizeof admin);
}

static int bootstrap(struct steep_auth *auth, const char *admin_password)
{
    struct steep_buf marker = STEEP_BUF_INIT;
    int rc = steep_store_get(auth->store, BOOTSTRAP_KEY, strlen(BOOTSTRAP_KEY), &marker);
    steep_buf_free(&marker);
    if (rc == STEEP_STORE_ERROR)
        return -1;
    if (rc == STEEP_STORE_OK)
        return 0;
    struct steep_auth_user admin = {.role = {STEEP_ROLE_PLATFORM_ADMIN, ""}};
    snprintf(admin.id, sizeof admin.id, "%s", STEEP_AUTH_DEFAULT_ADMIN);
    const char *password = admin_password ? admin_password : STEEP_AUTH_DEFAULT_ADMIN_PASSWORD;
    ENSURE(password[0] != '\0', "the initial admin password is empty");
    GUARD(steep_auth_password_hash(&auth->argon2, password, admin.hash));
    rc = steep_auth_user_create(auth->store, &admin);
    OPENSSL_cleanse(&admin, sizeof admin);
    GUARD(rc);
    log_info("created user 'admin' (PlatformAdmin) on first start%s",
             admin_password ? " with the configured initial password" : "");
    return steep_store_put(auth->store, BOOTSTRAP_KEY, strlen(BOOTSTRAP_KEY), "1", 1) ==
                   STEEP_STORE_OK
               ? 0
               : -1;
}

static int open_state(struct steep_auth *auth, const struct steep_auth_options *options)
{
    char path[4096];
    GUARD(ensure_dir(options->state_dir));
    ENSURE(snprintf(path, sizeof path, "%s/users", options->state_dir) < (int)sizeof path,
           "state directory path too long");
    GUARD(steep_store_open(path, options->db_key, STEEP_STORE_CREATE, &auth->store));
    snprintf(path, sizeof path, "%s/jwt_secret.sealed", options->state_dir);
    GUARD(steep_auth_secret_load(path, options->jwt_key, auth->secret));
    GUARD(steep_auth_password_hash(&auth->argon2, "steep-unknown-user", auth->dummy_hash));
    GUARD(bootstrap(auth, options->admin_password));
    warn_default_password(auth);
    return 0;
}

struct steep_auth *steep_auth_open(const struct steep_auth_options *options)
{
    struct steep_auth *auth = calloc(1, sizeof *auth);
    if (!auth) {
        steep_error_set("out of memory");
        return NULL;
    }
    pthread_mutex_init(&auth->write_lock, NULL);
    auth->argon2 = options->argon2;
    if (auth->argon2.t_cost == 0 || auth->argon2.m_cost_kib == 0 || auth->argon2.parallelism == 0)
        auth->argon2 = (struct steep_auth_argon2)STEEP_AUTH_ARGON2_DEFAULT;
    auth->token_lifetime_s =
        options->token_lifetime_s > 0 ? options->token_lifetime_s : STEEP_AUTH_DEFAULT_LIFETIME_S;
    int64_t base = options->login_delay_base_ms < 0 ? STEEP_AUTH_DEFAULT_DELAY_BASE_MS
                                                    : options->login_delay_base_ms;
    int64_t max = options->login_delay_max_ms <= 0 ? STEEP_AUTH_DEFAULT_DELAY_MAX_MS
                                                   : options->login_delay_max_ms;
    auth->throttle = steep_auth_throttle_new(base, max);
    if (!auth->throttle || open_state(auth, options) < 0) {
        char message[STEEP_ERROR_MAX];
        snprintf(message, sizeof message, "%s", steep_error_get());
        steep_auth_close(auth);
        steep_error_set("%s", message);
        return NULL;
    }
    return auth;
}

void steep_auth_close(struct steep_auth *auth)
{
    if (!auth)
        return;
    steep_store_close(auth->store);
    steep_auth_throttle_free(auth->throttle);
    pthread_mutex_destroy(&auth->write_lock);
    OPENSSL_cleanse(auth, sizeof *auth);
    free(auth);
}

int steep_auth_check_token(struct steep_auth *auth, const char *id, const char *token,
                           struct steep_auth_user *user, struct steep_auth_claims *claims)
{
    GUARD(steep_auth_token_decode(auth->secret, token, steep_auth_now(), claims));
    ENSURE(strcmp(claims->sub, id) == 0, "token belongs to another user");
    int rc = steep_auth_user_get(auth->store, id, user);
    if (rc == STEEP_STORE_ERROR)
        return -1;
    ENSURE(rc == STEEP_STORE_OK, "user no longer exists");
    ENSURE(claims->version == user->version,
           "token issued before the user's password or role changed");
    char role[STEEP_AUTH_ROLE_MAX];
    steep_auth_role_format(&user->role, role, sizeof role);
    ENSURE(strcmp(role, claims->role) == 0, "token role is not the user's role");
    return 0;
}

bool steep_auth_fail(struct steep_rpc_call *call, const char *message)
{
    steep_rpc_fail(call, STEEP_GRPC_UNAUTHENTICATED, "%s", message);
    return false;
}

bool steep_auth_requester(struct steep_auth *auth, struct steep_rpc_call *call,
                          struct steep_auth_user *requester)
{
    const char *id = steep_rpc_call_metadata(call, "id");
    const char *token = steep_rpc_call_metadata(call, "token");
    if (!id || !id[0])
        return steep_auth_fail(call, MSG_MISSING_USER_ID);
    if (!token || !token[0])
        return steep_auth_fail(call, MSG_MISSING_TOKEN);
    struct steep_auth_claims claims;
    if (!steep_auth_user_id_valid(id) ||
        steep_auth_check_token(auth, id, token, requester, &claims) < 0) {
        log_info("rejected credential of '%.64s': %s", id, steep_error_get());
        return steep_auth_fail(call, MSG_AUTHENTICATION_FAILED);
    }
    return true;
}
