/*
 * Management's ids. The generic part (random UUIDv4, "<prefix>-<uuid>"
 * creation and parsing, STEEP_UUID_TEXT / STEEP_ID_TEXT) is the shared id
 * module, lib/task/ids.h, included here so callers keep one include. What
 * stays here is the one management-specific derivation: the storage key of
 * a user's function lists:
 * a keyed hash of the user id (Teaclave: a name-based UUIDv5, kept for
 * migration).
 */
#ifndef STEEP_MANAGEMENT_IDS_H
#define STEEP_MANAGEMENT_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task/ids.h"

/* ---- user keys ----
 * "user-<uuidv5(DNS, user_id)>": the LEGACY key of a user's function lists
 * (Teaclave's), kept to find the records of an older store. */
int steep_id_user_key(const char *user_id, char out[STEEP_ID_TEXT]);

/*
 * The key of a user's function lists: "user-" + 32 hex digits of
 * HMAC-SHA256(secret, user_id), secret a sealing key of management's
 * ("management-user-index"). An unkeyed UUIDv5 let anyone with the storage
 * files test guessed ids against the keys (issue 14, item 17).
 */
#define STEEP_ID_USER_SECRET_LEN 32
int steep_id_user_key_keyed(const uint8_t secret[STEEP_ID_USER_SECRET_LEN], const char *user_id,
                            char out[STEEP_ID_TEXT]);
/* True for a key of steep_id_user_key's (legacy) form. */
bool steep_id_user_key_is_legacy(const char *key);

#endif
