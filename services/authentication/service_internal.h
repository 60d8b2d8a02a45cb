/*
 * State shared by the handlers of steep-authentication (api.c, internal.c)
 * and the credential check every authenticated call goes through.
 */
#ifndef STEEP_AUTHENTICATION_SERVICE_INTERNAL_H
#define STEEP_AUTHENTICATION_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "authentication/service.h"
#include "authentication/throttle.h"
#include "authentication/user_db.h"
#include "store/store.h"

struct steep_auth {
    struct steep_store *store;
    uint8_t secret[STEEP_AUTH_SECRET_LEN];
    struct steep_auth_throttle *throttle;
    struct steep_auth_argon2 argon2;
    int64_t token_lifetime_s;
    /* Serializes read-modify-write of user records (update, change, reset). */
    pthread_mutex_t write_lock;
    /* Verified against when the user does not exist, so a login takes as
     * long for an unknown id as for a wrong password. */
    char dummy_hash[STEEP_AUTH_HASH_MAX];
};

/* Teaclave's messages (services/authentication/enclave/src/error.rs). */
#define MSG_AUTHENTICATION_FAILED "authentication failed"
#define MSG_PERMISSION_DENIED     "permission denied"
#define MSG_INVALID_USER_ID       "invalid user id"
#define MSG_INVALID_ROLE          "invalid role"
#define MSG_USER_ID_EXIST         "user id exist"
#define MSG_INTERNAL              "service internal error"
#define MSG_MISSING_USER_ID       "missing user id"
#define MSG_MISSING_TOKEN         "missing token"
/* Steep's: Teaclave accepted empty passwords. */
#define MSG_INVALID_PASSWORD "invalid password"
/* Steep's (issue 14, item 13): Teaclave's "permission denied", saying why. */
#define MSG_MANAGER_ADMIN_ONLY                                                                     \
    "permission denied: only a PlatformAdmin may create a DataOwnerManager"
#define MSG_DELETED_ID                                                                             \
    "permission denied: the id of a deleted user may be registered again only by a PlatformAdmin"

int64_t steep_auth_now(void);

/*
 * Validates token for id: signature/algorithm/issuer/expiry, sub == id, the
 * user exists, the token's credential version and role are the user's
 * current ones. On success fills user (and claims). -1 with a reason in
 * steep_error_get() (for the log only; the client sees
 * "authentication failed").
 */
int steep_auth_check_token(struct steep_auth *auth, const char *id, const char *token,
                           struct steep_auth_user *user, struct steep_auth_claims *claims);

/* Fails call with UNAUTHENTICATED and message; returns false (for `return`). */
bool steep_auth_fail(struct steep_rpc_call *call, const char *message);

/* The requester of an API call from metadata `id` and `token`; fails the call
 * and returns false when they are missing or invalid. */
bool steep_auth_requester(struct steep_auth *auth, struct steep_rpc_call *call,
                          struct steep_auth_user *requester);

#endif
