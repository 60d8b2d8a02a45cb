/*
 * Teaclave's external IDs: "<prefix>-<uuid>", the UUID a random version 4
 * one in lowercase hyphenated form. Parsing splits at the first '-', checks
 * the prefix and normalises the UUID (hyphenated or simple form, any case)
 * to lowercase hyphenated. User records are keyed by a name-based UUID
 * (version 5, DNS namespace) of the user id, as Teaclave does.
 */
#ifndef STEEP_MANAGEMENT_IDS_H
#define STEEP_MANAGEMENT_IDS_H

#include <stddef.h>

#define STEEP_UUID_TEXT 37 /* 36 characters + NUL */
#define STEEP_ID_TEXT   64 /* "<prefix>-<uuid>" + NUL, for the prefixes in use */

/* A fresh random UUIDv4 in lowercase hyphenated form. */
int steep_id_uuid_new(char out[STEEP_UUID_TEXT]);
/* "<prefix>-<fresh uuid>"; uuid_out (may be NULL) receives the uuid. */
int steep_id_new(const char *prefix, char out[STEEP_ID_TEXT], char uuid_out[STEEP_UUID_TEXT]);
/* Parses text as "<prefix>-<uuid>": fails unless the part before the first
 * '-' equals prefix and the rest is a UUID. uuid_out gets the canonical form. */
int steep_id_parse(const char *text, const char *prefix, char uuid_out[STEEP_UUID_TEXT]);
/* "user-<uuidv5(DNS, user_id)>", the key of a user's function lists. */
int steep_id_user_key(const char *user_id, char out[STEEP_ID_TEXT]);

#endif
