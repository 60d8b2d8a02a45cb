/*
 * Ids of the platform's records, one module for every service and the SDK:
 * random version 4 UUIDs in lowercase hyphenated form, and Teaclave's
 * external ids "<prefix>-<uuid>" (task-, function-, input-, output-).
 * Parsing checks the prefix (the part before the first '-') and normalises
 * the UUID, hyphenated or simple form in any case, to lowercase hyphenated,
 * so equal ids compare equal as strings and key the same records.
 * (User keys are not here: services/management/ids.h derives them.)
 */
#ifndef STEEP_TASK_IDS_H
#define STEEP_TASK_IDS_H

#include <stddef.h>
#include <stdint.h>

#define STEEP_UUID_TEXT 37 /* 36 characters + NUL */
#define STEEP_ID_TEXT   64 /* "<prefix>-<uuid>" + NUL, for the prefixes in use */

/* A fresh random UUIDv4 in lowercase hyphenated form; -1 without randomness. */
int steep_uuid_new(char out[STEEP_UUID_TEXT]);
/* 16 bytes as lowercase hyphenated text. */
void steep_uuid_format(const uint8_t bytes[16], char out[STEEP_UUID_TEXT]);
/* text (hyphenated or simple form, any case, nothing else) to canonical form. */
int steep_uuid_parse(const char *text, char out[STEEP_UUID_TEXT]);

/* "<prefix>-<fresh uuid>"; uuid_out (may be NULL) receives the uuid. */
int steep_id_new(const char *prefix, char out[STEEP_ID_TEXT], char uuid_out[STEEP_UUID_TEXT]);
/* Parses text as "<prefix>-<uuid>": fails unless the part before the first
 * '-' equals prefix and the rest is a UUID. uuid_out gets the canonical form. */
int steep_id_parse(const char *text, const char *prefix, char uuid_out[STEEP_UUID_TEXT]);
/* A task id as the internal services receive it: "task-<uuid>" or the bare
 * uuid; out gets the canonical uuid. */
int steep_id_task_uuid(const char *text, char out[STEEP_UUID_TEXT]);

#endif
