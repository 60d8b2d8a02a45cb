/*
 * State shared by the handlers of steep-authentication (api.c, internal.c)
 * and the credential check every authenticated call goes through.
 */
#ifndef STEEP_AUTHENTICATION_SERVICE_INTERNAL_H
#define STEEP_AUTHENTICATION_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "authentication/hash_pool.h"
#include "authentication/service.h"
#include "authentication/throttle.h"
#include "authentication/user_db.h"
#include "store/store.h"

/* Lives in its own pages, locked and left out of core dumps (MADV_DONTDUMP):
 * it holds the JWT secret and the index key. */
struct steep_auth {
    struct steep_auth_user_db users; /* the store and its index key */
    uint8_t secret[STEEP_AUTH_SECRET_LEN];
    struct steep_auth_throttle *throttle;
    struct steep_auth_pool *pool; /* every argon2 hash runs there */
    pthread_mutex_t busy_lock;    /* the "saturated" warning, once a second */
    uint64_t busy_refused;
    int64_t busy_logged_s;
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
#define MSG_STORE_UNAVAILABLE     "the user database is unavailable; retry"
#define MSG_MISSING_USER_ID       "missing user id"
#define MSG_MISSING_TOKEN         "missing token"
/* Steep's (issue 14, items 8 and 9). */
#define MSG_BUSY      "too many logins in progress, retry later"
#define MSG_THROTTLED "authentication failed: too many failed attempts, retry in %lld ms"
/* Steep's: Teaclave accepted empty passwords. */
#define MSG_INVALID_PASSWORD "invalid password"
/* Steep's (issue 14, item 13): Teaclave's "permission denied", saying why. */
#define MSG_MANAGER_ADMIN_ONLY                                                                     \
    "permission denied: only a PlatformAdmin may create a DataOwnerManager"
#define MSG_DELETED_ID                                                                             \
    "permission denied: the id of a deleted user may be registered again only by a PlatformAdmin"

int64_t steep_auth_now(void);

/* The caller's source address for the throttle and the pool: an IPv4
 * address (v4-mapped), or the /64 of an IPv6 one. */
void steep_auth_call_source(const struct steep_rpc_call *call,
                            uint8_t source[STEEP_AUTH_SOURCE_LEN]);

/*
 * Hashes password (hash: into encoded) or verifies it against encoded
 * (verify: *ok) on the pool for the caller's source. 0 when done; when the
 * pool is full or the caller went away, fails the call (RESOURCE_EXHAUSTED,
 * CANCELLED) and returns 1.
 */
int steep_auth_pooled_hash(struct steep_auth *auth, struct steep_rpc_call *call,
                           const char *password, char encoded[STEEP_AUTH_HASH_MAX]);
int steep_auth_pooled_verify(struct steep_auth *auth, struct steep_rpc_call *call,
                             const uint8_t source[STEEP_AUTH_SOURCE_LEN], const char *encoded,
                             const char *password, bool *ok);

/*
 * Validates token for id: signature/algorithm/issuer/expiry, sub == id, the
 * user exists, the token's credential version and role are the user's
 * current ones. On success fills user (and claims). -1 with a reason in
 * steep_error_get() (for the log only; the client sees
 * "authentication failed"); -2 when the user store could not be read
 * because its etcd cluster is out of reach (the client sees UNAVAILABLE).
 */
int steep_auth_check_token(struct steep_auth *auth, const char *id, const char *token,
                           struct steep_auth_user *user, struct steep_auth_claims *claims);

/* Fails call with UNAUTHENTICATED and message; returns false (for `return`). */
bool steep_auth_fail(struct steep_rpc_call *call, const char *message);
/* UNAVAILABLE: the user store's etcd cluster is out of reach. */
bool steep_auth_fail_unavailable(struct steep_rpc_call *call);

/* The requester of an API call from metadata `id` and `token`; fails the call
 * and returns false when they are missing or invalid. */
bool steep_auth_requester(struct steep_auth *auth, struct steep_rpc_call *call,
                          struct steep_auth_user *requester);

#endif
