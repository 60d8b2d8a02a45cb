/*
 * The user database of steep-authentication: one sealed record per user in
 * the service's own store (lib/store/store.h), key "user/<index>", value
 * JSON {"id": "alice", "role": "DataOwner-org1", "hash": "$argon2id$...",
 * "version": n}.
 *
 * Keys name no user (issue 14, item 17): the store seals values but not
 * keys, so "user/<id>" put every user id on disk in plaintext. <index> is
 * the hex HMAC-SHA256 of the id under the service's index key (sealed to
 * the signer, label "authentication-user-index"), so the key of an id is
 * known only inside the service; the prefixes stay, so a scan still finds
 * every user (ids come from the values).
 *
 * A store of an older version (plaintext keys, recognised by the missing
 * marker "meta/key-index" in a bootstrapped store) is migrated at open, in
 * one atomic batch: every record is rewritten under its new key and the
 * old key deleted, then the store compacted, so no id stays in a key or
 * on disk (LevelDB keeps deleted keys' bytes until a compaction).
 *
 * `version` is the user's credential version: it changes whenever the
 * password or the role changes, and every token carries the version it was
 * issued for, so such a change revokes all earlier tokens at once. A new
 * user starts at a random version, so a token of a deleted user does not
 * come back to life when the id is registered again.
 *
 * Deleting a user leaves a tombstone "deleted/<index>" (value "{}"), written in
 * the same batch: management keeps files, functions and tasks by user id,
 * so whoever registers a deleted id again inherits them; api.c lets only a
 * PlatformAdmin do that.
 */
#ifndef STEEP_AUTHENTICATION_USER_DB_H
#define STEEP_AUTHENTICATION_USER_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "authentication/password.h"
#include "authentication/roles.h"
#include "store/store.h"

#define STEEP_AUTH_ID_MAX        256
#define STEEP_AUTH_INDEX_KEY_LEN 32

/* The store and the key that derives record keys from user ids. */
struct steep_auth_user_db {
    struct steep_store *store;
    uint8_t index_key[STEEP_AUTH_INDEX_KEY_LEN];
};

struct steep_auth_user {
    char id[STEEP_AUTH_ID_MAX + 1];
    struct steep_auth_role role;
    char hash[STEEP_AUTH_HASH_MAX];
    uint64_t version;
};

/* True for a non-empty id of at most STEEP_AUTH_ID_MAX bytes. */
bool steep_auth_user_id_valid(const char *id);

/* STEEP_STORE_OK, STEEP_STORE_NOT_FOUND or STEEP_STORE_ERROR. */
int steep_auth_user_get(const struct steep_auth_user_db *db, const char *id,
                        struct steep_auth_user *user);
/* Creates the user with a random version: 0 when created, 1 when the id
 * exists already, -1 on error. */
int steep_auth_user_create(const struct steep_auth_user_db *db, struct steep_auth_user *user);
/* Overwrites an existing user (the caller has bumped the version if needed). */
int steep_auth_user_put(const struct steep_auth_user_db *db, const struct steep_auth_user *user);
/* Deletes the user and leaves its tombstone. */
int steep_auth_user_delete(const struct steep_auth_user_db *db, const char *id);
/* STEEP_STORE_OK when a user of this id was deleted once, NOT_FOUND, or ERROR. */
int steep_auth_user_was_deleted(const struct steep_auth_user_db *db, const char *id);

/* Calls fn for every user, in key order (not id order: keys are HMACs).
 * fn returns 0 to go on, -1 to fail. */
typedef int (*steep_auth_user_fn)(void *arg, const struct steep_auth_user *user);
int steep_auth_user_each(const struct steep_auth_user_db *db, steep_auth_user_fn fn, void *arg);

/* Rewrites a store of an older version (user ids in keys) under index
 * keys, once; marks a store as indexed. Call at open, before serving. */
int steep_auth_user_db_migrate(const struct steep_auth_user_db *db);

/* The next credential version after v (never 0). */
uint64_t steep_auth_user_next_version(uint64_t v);

#endif
