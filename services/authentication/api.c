/*
 * The public API of steep-authentication (TeaclaveAuthenticationApi).
 * Checks run in Teaclave's order (teaclave-api.md §3.6) with Steep's fixes:
 * empty passwords are refused, a DataOwnerManager may touch only the
 * DataOwners of its own attribute (checked against the target's CURRENT
 * role), changing a password or role revokes the user's tokens, failed
 * logins are slowed down per source and user (throttle.h), and every
 * argon2 hash runs on the bounded pool (hash_pool.h): a full pool answers
 * RESOURCE_EXHAUSTED. Passwords are hashed before the write lock is taken,
 * so a wait for the pool never holds it. Nothing about passwords or tokens
 * is logged.
 *
 * Account takeover (issue 14, item 13): in Teaclave a FunctionOwner could
 * register a DataOwnerManager for a victim's attribute, reset the victim's
 * password through it and act as the victim. Here only a PlatformAdmin
 * creates a DataOwnerManager or gives the role (UserRegister, UserUpdate;
 * roles.h), and only a PlatformAdmin registers the id of a deleted user
 * again (its tombstone, user_db.h), since the new user would inherit the
 * old one's files and tasks. Both refusals say why.
 */
#include "authentication/service_internal.h"

#include "core/error.h"
#include "core/log.h"

#include "teaclave_authentication_service.pb-c.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define API_PATH(method) "/teaclave_authentication_service_proto.TeaclaveAuthenticationApi/" method

static void reply_empty(struct steep_rpc_call *call)
{
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    steep_rpc_reply(call, &empty.base);
}

static bool valid_password(const char *password)
{
    return password && password[0] &&
           strnlen(password, STEEP_AUTH_PASSWORD_MAX + 1) <= STEEP_AUTH_PASSWORD_MAX;
}

/* A non-admin asked for a DataOwnerManager: say why it is refused. */
static const char *denial(const struct steep_auth_role *role)
{
    return role->kind == STEEP_ROLE_DATA_OWNER_MANAGER ? MSG_MANAGER_ADMIN_ONLY
                                                       : MSG_PERMISSION_DENIED;
}

/* ---- UserLogin ------------------------------------------------------- */

static void issue_token(struct steep_auth *auth, struct steep_rpc_call *call,
                        const struct steep_auth_user *user)
{
    struct steep_auth_claims claims = {.version = user->version};
    snprintf(claims.sub, sizeof claims.sub, "%s", user->id);
    steep_auth_role_format(&user->role, claims.role, sizeof claims.role);
    snprintf(claims.iss, sizeof claims.iss, "%s", STEEP_AUTH_ISSUER);
    claims.iat = steep_auth_now();
    claims.exp = claims.iat + auth->token_lifetime_s;
    char *token = NULL;
    if (steep_auth_token_issue(auth->secret, &claims, &token) < 0) {
        log_error("login of '%.64s': %s", user->id, steep_error_get());
        steep_auth_fail(call, MSG_INTERNAL);
        return;
    }
    TeaclaveAuthenticationServiceProto__UserLoginResponse response =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_LOGIN_RESPONSE__INIT;
    response.token = token;
    steep_rpc_reply(call, &response.base);
    OPENSSL_cleanse(token, strlen(token));
    free(token);
}

static void user_login(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_auth *auth = arg;
    const TeaclaveAuthenticationServiceProto__UserLoginRequest *request = (const void *)message;
    if (!steep_auth_user_id_valid(request->id) || !valid_password(request->password)) {
        steep_auth_fail(call, MSG_AUTHENTICATION_FAILED);
        return;
    }
    uint8_t source[STEEP_AUTH_SOURCE_LEN];
    steep_auth_call_source(call, source);
    int64_t wait = steep_auth_throttle_wait_ms(auth->throttle, source, request->id);
    if (wait > 0) {
        /* Refused unchecked: a guesser gets one check per window, and waits
         * on no server thread. */
        steep_rpc_fail(call, STEEP_GRPC_UNAUTHENTICATED, MSG_THROTTLED, (long long)wait);
        return;
    }
    struct steep_auth_user user;
    int found = steep_auth_user_get(&auth->users, request->id, &user);
    if (found == STEEP_STORE_ERROR) {
        log_error("login of '%.64s': %s", request->id, steep_error_get());
        steep_auth_fail(call, MSG_INTERNAL);
        return;
    }
    bool ok = false;
    if (steep_auth_pooled_verify(auth, call, source,
                                 found == STEEP_STORE_OK ? user.hash : auth->dummy_hash,
                                 request->password, &ok) != 0)
        goto done;
    ok = ok && found == STEEP_STORE_OK;
    if (!ok) {
        int64_t delay = steep_auth_throttle_failure(auth->throttle, source, request->id);
        log_info("failed login for '%.64s' (its next check from this source in %lld ms)",
                 request->id, (long long)delay);
        steep_auth_fail(call, MSG_AUTHENTICATION_FAILED);
        goto done;
    }
    steep_auth_throttle_success(auth->throttle, source, request->id);
    if (strcmp(user.id, STEEP_AUTH_DEFAULT_ADMIN) == 0 &&
        strcmp(request->password, STEEP_AUTH_DEFAULT_ADMIN_PASSWORD) == 0)
        log_warn(
            "*** SECURITY WARNING: 'admin' logged in with the default password; change it ***");
    issue_token(auth, call, &user);
done:
    OPENSSL_cleanse(&user, sizeof user);
}

/* ---- UserRegister ----------------------------------------------------- */

static void user_register(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_auth *auth = arg;
    const TeaclaveAuthenticationServiceProto__UserRegisterRequest *request = (const void *)message;
    struct steep_auth_user requester, target = {0};
    if (!steep_auth_requester(auth, call, &requester))
        return;
    if (!steep_auth_user_id_valid(request->id)) {
        steep_auth_fail(call, MSG_INVALID_USER_ID);
        return;
    }
    int found = steep_auth_user_get(&auth->users, request->id, &target);
    if (found != STEEP_STORE_NOT_FOUND) {
        steep_auth_fail(call, found == STEEP_STORE_OK ? MSG_USER_ID_EXIST : MSG_INTERNAL);
        return;
    }
    struct steep_auth_role role = steep_auth_role_from_request(request->role, request->attribute);
    if (role.kind == STEEP_ROLE_INVALID) {
        steep_auth_fail(call, MSG_INVALID_ROLE);
        return;
    }
    if (!steep_auth_may_register(&requester.role, &role)) {
        log_warn("'%.64s' may not register '%.64s'", requester.id, request->id);
        steep_auth_fail(call, denial(&role));
        return;
    }
    if (requester.role.kind != STEEP_ROLE_PLATFORM_ADMIN) {
        found = steep_auth_user_was_deleted(&auth->users, request->id);
        if (found != STEEP_STORE_NOT_FOUND) {
            if (found == STEEP_STORE_OK)
                log_warn("'%.64s' may not reuse the id of deleted user '%.64s'", requester.id,
                         request->id);
            steep_auth_fail(call, found == STEEP_STORE_OK ? MSG_DELETED_ID : MSG_INTERNAL);
            return;
        }
    }
    if (!valid_password(request->password)) {
        steep_auth_fail(call, MSG_INVALID_PASSWORD);
        return;
    }
    snprintf(target.id, sizeof target.id, "%s", request->id);
    target.role = role;
    int rc = steep_auth_pooled_hash(auth, call, request->password, target.hash);
    if (rc > 0) { /* the call was answered: busy or cancelled */
        OPENSSL_cleanse(&target, sizeof target);
        return;
    }
    if (rc == 0)
        rc = steep_auth_user_create(&auth->users, &target);
    OPENSSL_cleanse(&target, sizeof target);
    if (rc != 0) {
        if (rc < 0)
            log_error("register '%.64s': %s", request->id, steep_error_get());
        steep_auth_fail(call, rc > 0 ? MSG_USER_ID_EXIST : MSG_INTERNAL);
        return;
    }
    log_info("user '%.64s' registered by '%.64s'", request->id, requester.id);
    reply_empty(call);
}

/* ---- UserUpdate, UserChangePassword, ResetUserPassword, DeleteUser ------ */

/* Loads the target of a management call and checks the caller may manage it.
 * missing_message: the error for an unknown target. */
static bool load_target(struct steep_auth *auth, struct steep_rpc_call *call, const char *id,
                        const char *missing_message, struct steep_auth_user *target)
{
    if (!steep_auth_user_id_valid(id))
        return steep_auth_fail(call, MSG_INVALID_USER_ID);
    int found = steep_auth_user_get(&auth->users, id, target);
    if (found == STEEP_STORE_ERROR) {
        log_error("user '%.64s': %s", id, steep_error_get());
        return steep_auth_fail(call, MSG_INTERNAL);
    }
    if (found == STEEP_STORE_NOT_FOUND)
        return steep_auth_fail(call, missing_message);
    return true;
}

/* The target of ResetUserPassword / DeleteUser, which the requester must be
 * allowed to manage; an unknown target is "permission denied" as in Teaclave. */
static bool load_managed_target(struct steep_auth *auth, struct steep_rpc_call *call,
                                const struct steep_auth_user *requester, const char *id,
                                const char *action, struct steep_auth_user *target)
{
    if (!load_target(auth, call, id, MSG_PERMISSION_DENIED, target))
        return false;
    if (!steep_auth_may_manage(&requester->role, &target->role)) {
        log_warn("'%.64s' may not %s '%.64s'", requester->id, action, target->id);
        return steep_auth_fail(call, MSG_PERMISSION_DENIED);
    }
    return true;
}

/* Sets a new password hash (and role) and bumps the credential version,
 * which revokes every token of the user. */
static int rewrite_user(struct steep_auth *auth, struct steep_auth_user *user, const char *hash,
                        const struct steep_auth_role *role)
{
    snprintf(user->hash, sizeof user->hash, "%s", hash);
    user->role = *role;
    user->version = steep_auth_user_next_version(user->version);
    return steep_auth_user_put(&auth->users, user);
}

static void user_update(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_auth *auth = arg;
    const TeaclaveAuthenticationServiceProto__UserUpdateRequest *request = (const void *)message;
    struct steep_auth_user requester, target;
    if (!steep_auth_requester(auth, call, &requester))
        return;
    /* Hashed first (on the pool, without the lock); checked in order below. */
    char hash[STEEP_AUTH_HASH_MAX] = "";
    int hashed = valid_password(request->password)
                     ? steep_auth_pooled_hash(auth, call, request->password, hash)
                     : 0;
    if (hashed < 0) {
        log_error("update '%.64s': %s", request->id, steep_error_get());
        steep_auth_fail(call, MSG_INTERNAL);
    }
    if (hashed != 0)
        return;
    pthread_mutex_lock(&auth->write_lock);
    if (!load_target(auth, call, request->id, MSG_INVALID_USER_ID, &target))
        goto done;
    struct steep_auth_role role = steep_auth_role_from_request(request->role, request->attribute);
    if (role.kind == STEEP_ROLE_INVALID) {
        steep_auth_fail(call, MSG_INVALID_ROLE);
        goto done;
    }
    if (!steep_auth_may_update(&requester.role, &target.role, &role)) {
        log_warn("'%.64s' may not update '%.64s'", requester.id, target.id);
        steep_auth_fail(call, denial(&role));
        goto done;
    }
    if (!valid_password(request->password)) {
        steep_auth_fail(call, MSG_INVALID_PASSWORD);
        goto done;
    }
    if (rewrite_user(auth, &target, hash, &role) < 0) {
        log_error("update '%.64s': %s", target.id, steep_error_get());
        steep_auth_fail(call, MSG_INTERNAL);
        goto done;
    }
    log_info("user '%.64s' updated by '%.64s'", target.id, requester.id);
    reply_empty(call);
done:
    pthread_mutex_unlock(&auth->write_lock);
    OPENSSL_cleanse(&target, sizeof target);
    OPENSSL_cleanse(hash, sizeof hash);
}

static void user_change_password(struct steep_rpc_call *call, const ProtobufCMessage *message,
                                 void *arg)
{
    struct steep_auth *auth = arg;
    const TeaclaveAuthenticationServiceProto__UserChangePasswordRequest *request =
        (const void *)message;
    struct steep_auth_user requester;
    if (!steep_auth_requester(auth, call, &requester))
        return;
    if (!valid_password(request->password)) {
        steep_auth_fail(call, MSG_INVALID_PASSWORD);
        return;
    }
    char hash[STEEP_AUTH_HASH_MAX] = "";
    int hashed = steep_auth_pooled_hash(auth, call, request->password, hash);
    if (hashed < 0) {
        log_error("change password of '%.64s': %s", requester.id, steep_error_get());
        steep_auth_fail(call, MSG_INTERNAL);
    }
    if (hashed != 0)
        return;
    pthread_mutex_lock(&auth->write_lock);
    struct steep_auth_user user;
    /* Re-read under the lock; the role comes from the database, not the token. */
    if (load_target(auth, call, requester.id, MSG_AUTHENTICATION_FAILED, &user)) {
        if (user.version != requester.version) {
            steep_auth_fail(call, MSG_AUTHENTICATION_FAILED);
        } else if (rewrite_user(auth, &user, hash, &user.role) < 0) {
            log_error("change password of '%.64s': %s", user.id, steep_error_get());
            steep_auth_fail(call, MSG_INTERNAL);
        } else {
            log_info("user '%.64s' changed their password", user.id);
            reply_empty(call);
        }
    }
    pthread_mutex_unlock(&auth->write_lock);
    OPENSSL_cleanse(&user, sizeof user);
    OPENSSL_cleanse(hash, sizeof hash);
}

static void reset_user_password(struct steep_rpc_call *call, const ProtobufCMessage *message,
                                void *arg)
{
    struct steep_auth *auth = arg;
    const TeaclaveAuthenticationServiceProto__ResetUserPasswordRequest *request =
        (const void *)message;
    struct steep_auth_user requester, target;
    if (!steep_auth_requester(auth, call, &requester))
        return;
    char password[33] = "", hash[STEEP_AUTH_HASH_MAX] = "";
    int hashed = steep_auth_password_random(password);
    if (hashed == 0)
        hashed = steep_auth_pooled_hash(auth, call, password, hash);
    if (hashed != 0) {
        if (hashed < 0) {
            log_error("reset password of '%.64s': %s", request->id, steep_error_get());
            steep_auth_fail(call, MSG_INTERNAL);
        }
        OPENSSL_cleanse(password, sizeof password);
        return;
    }
    pthread_mutex_lock(&auth->write_lock);
    if (!load_managed_target(auth, call, &requester, request->id, "reset the password of", &target))
        goto done;
    if (rewrite_user(auth, &target, hash, &target.role) < 0) {
        log_error("reset password of '%.64s': %s", target.id, steep_error_get());
        steep_auth_fail(call, MSG_INTERNAL);
        goto done;
    }
    log_info("password of '%.64s' reset by '%.64s'", target.id, requester.id);
    TeaclaveAuthenticationServiceProto__ResetUserPasswordResponse response =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__RESET_USER_PASSWORD_RESPONSE__INIT;
    response.password = password;
    steep_rpc_reply(call, &response.base);
done:
    pthread_mutex_unlock(&auth->write_lock);
    OPENSSL_cleanse(password, sizeof password);
    OPENSSL_cleanse(hash, sizeof hash);
    OPENSSL_cleanse(&target, sizeof target);
}

static void delete_user(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_auth *auth = arg;
    const TeaclaveAuthenticationServiceProto__DeleteUserRequest *request = (const void *)message;
    struct steep_auth_user requester, target;
    if (!steep_auth_requester(auth, call, &requester))
        return;
    pthread_mutex_lock(&auth->write_lock);
    if (!load_managed_target(auth, call, &requester, request->id, "delete", &target))
        goto done;
    if (steep_auth_user_delete(&auth->users, target.id) < 0) {
        log_error("delete '%.64s': %s", target.id, steep_error_get());
        steep_auth_fail(call, MSG_INTERNAL);
        goto done;
    }
    log_info("user '%.64s' deleted by '%.64s'", target.id, requester.id);
    reply_empty(call);
done:
    pthread_mutex_unlock(&auth->write_lock);
    OPENSSL_cleanse(&target, sizeof target);
}

/* ---- ListUsers ---------------------------------------------------------- */

struct listing {
    const struct steep_auth_role *requester;
    char **ids;
    size_t n;
    size_t cap;
};

static int collect_user(void *arg, const struct steep_auth_user *user)
{
    struct listing *listing = arg;
    if (listing->requester->kind != STEEP_ROLE_PLATFORM_ADMIN &&
        !(user->role.kind == STEEP_ROLE_DATA_OWNER &&
          strcmp(user->role.attribute, listing->requester->attribute) == 0))
        return 0;
    if (listing->n == listing->cap) {
        size_t cap = listing->cap ? listing->cap * 2 : 16;
        char **grown = realloc(listing->ids, cap * sizeof *grown);
        ENSURE(grown != NULL, "out of memory");
        listing->ids = grown;
        listing->cap = cap;
    }
    listing->ids[listing->n] = strdup(user->id);
    ENSURE(listing->ids[listing->n] != NULL, "out of memory");
    listing->n++;
    return 0;
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_users(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_auth *auth = arg;
    const TeaclaveAuthenticationServiceProto__ListUsersRequest *request = (const void *)message;
    struct steep_auth_user requester;
    if (!steep_auth_requester(auth, call, &requester))
        return;
    if (!request->id || !request->id[0]) {
        steep_auth_fail(call, MSG_INVALID_USER_ID);
        return;
    }
    if (!steep_auth_may_list(&requester.role, request->id)) {
        steep_auth_fail(call, MSG_PERMISSION_DENIED);
        return;
    }
    struct listing listing = {.requester = &requester.role};
    if (steep_auth_user_each(&auth->users, collect_user, &listing) < 0) {
        log_error("list users: %s", steep_error_get());
        steep_auth_fail(call, MSG_INTERNAL);
    } else {
        /* In id order, as before keys were keyed hashes. */
        qsort(listing.ids, listing.n, sizeof listing.ids[0], compare_ids);
        TeaclaveAuthenticationServiceProto__ListUsersResponse response =
            TEACLAVE_AUTHENTICATION_SERVICE_PROTO__LIST_USERS_RESPONSE__INIT;
        response.n_ids = listing.n;
        response.ids = listing.ids;
        steep_rpc_reply(call, &response.base);
    }
    for (size_t i = 0; i < listing.n; i++)
        free(listing.ids[i]);
    free(listing.ids);
}

int steep_auth_register_api(struct steep_rpc_server *server, struct steep_auth *auth)
{
    static const struct {
        const char *path;
        const ProtobufCMessageDescriptor *request;
        steep_rpc_handler_fn handler;
    } methods[] = {
        {API_PATH("UserRegister"),
         &teaclave_authentication_service_proto__user_register_request__descriptor, user_register},
        {API_PATH("UserUpdate"),
         &teaclave_authentication_service_proto__user_update_request__descriptor, user_update},
        {API_PATH("UserLogin"),
         &teaclave_authentication_service_proto__user_login_request__descriptor, user_login},
        {API_PATH("UserChangePassword"),
         &teaclave_authentication_service_proto__user_change_password_request__descriptor,
         user_change_password},
        {API_PATH("ResetUserPassword"),
         &teaclave_authentication_service_proto__reset_user_password_request__descriptor,
         reset_user_password},
        {API_PATH("DeleteUser"),
         &teaclave_authentication_service_proto__delete_user_request__descriptor, delete_user},
        {API_PATH("ListUsers"),
         &teaclave_authentication_service_proto__list_users_request__descriptor, list_users},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        GUARD(steep_rpc_server_add(server, methods[i].path, methods[i].request, methods[i].handler,
                                   auth));
    return 0;
}
