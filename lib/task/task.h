/*
 * The typed task record (issue 15 item 3): Teaclave's TaskState
 * (teaclave-api.md §5.7) as a C struct, decoded from and encoded to the
 * stored JSON with the same bytes (compact, sorted keys: record.h), so
 * records written by any earlier code load, and an update that changes
 * nothing writes nothing different.
 *
 * Typed: the scalar members and the parts of the lifecycle that services
 * change (status, result, executor_id, started). Teaclave's open-ended parts
 * (function_arguments, the ownership maps, participants, approvals, the
 * assigned files) and Steep's "function_content" (what the approvals cover,
 * services/management/integrity.h) are kept as the JSON values they are,
 * members the struct does not know (anything a later version adds) are
 * kept in `rest`; a member whose stored form is not the expected one stays
 * in `rest` untouched (a result of another shape: kind UNTYPED).
 *
 * steep_task_update is the one update function over task records: the
 * compare-and-swap loop of record.h with the record decoded for update
 * and encoded again after it.
 */
#ifndef STEEP_TASK_TASK_H
#define STEEP_TASK_TASK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "store/kv.h"
#include "task/record.h"

enum steep_task_result_kind {
    STEEP_TASK_RESULT_NONE,      /* no "result" member */
    STEEP_TASK_RESULT_NOT_READY, /* "NotReady" */
    STEEP_TASK_RESULT_OK,        /* {"Ok":{"return_value","tags_map","log"}} */
    STEEP_TASK_RESULT_ERR,       /* {"Err":{"reason"}} */
    STEEP_TASK_RESULT_UNTYPED,   /* another shape, kept in rest */
};

struct steep_task_tag {
    char *name;
    struct steep_buf tag;
};

struct steep_task_result {
    enum steep_task_result_kind kind;
    char *reason;                /* ERR */
    struct steep_buf value;      /* OK: return_value */
    struct steep_task_tag *tags; /* OK: tags_map, sorted by name */
    size_t n_tags;
    char **log; /* OK */
    size_t n_log;
};

struct steep_task {
    /* strings: NULL when absent */
    char *task_id, *creator, *function_owner, *executor;
    char *function_uuid; /* function_id {"prefix":"function","uuid":...} */
    char *executor_id;   /* Steep's: the slot the scheduler handed it to */
    /* Steep's "started": true once the slot's acknowledgement (UpdateTaskStatus
     * Running) was stored, with durable starts (services/scheduler/results.c):
     * the slot may have run it, so it is never given back. Absent (false) in
     * every record written before, or without durable starts. */
    bool started;
    int status; /* TaskStatus number; -1 when absent */
    struct steep_task_result result;
    /* Teaclave's open-ended parts, as stored (NULL when absent; owned) */
    json_t *function_arguments, *inputs_ownership, *outputs_ownership, *participants,
        *approved_users, *assigned_inputs, *assigned_outputs, *function_content;
    json_t *rest; /* every other member, as stored (owned, never NULL once decoded) */
};

/* 0, or -1 (steep_error_get()) when the bytes are not a JSON object. */
int steep_task_decode(const void *data, size_t len, struct steep_task *task);
/* The map of a {"inner":{...}} part (borrowed; NULL when the part is
 * absent or not of that shape). */
json_t *steep_task_inner(const json_t *part);

/* Reads key: STEEP_STORE_OK with *task decoded, NOT_FOUND, or ERROR
 * (storage failure, or a record that is not a JSON object:
 * steep_error_get()); *task may be cleared after any of them. raw (may be
 * NULL) receives the stored bytes. Decoding takes the parsed record's
 * values over rather than copying them, as steep_task_decode does. */
int steep_task_read(const struct steep_kv *kv, const char *key, struct steep_task *task,
                    struct steep_buf *raw);
/* From a record the caller keeps (copied; the record is not changed). */
int steep_task_from_json(const json_t *record, struct steep_task *task);
/* The record as a new JSON object sharing the task's JSON values (not
 * copies), or NULL (out of memory). */
json_t *steep_task_to_json(const struct steep_task *task);
/* The stored form (caller frees), or NULL. */
char *steep_task_encode(const struct steep_task *task);
void steep_task_clear(struct steep_task *task);

/* Sets an ERR result with reason (copied); 0 or -1. */
int steep_task_set_error(struct steep_task *task, const char *reason);
/* Sets an OK result (return_value, tags and log copied); 0 or -1. */
int steep_task_set_ok(struct steep_task *task, const uint8_t *value, size_t value_len,
                      const struct steep_task_tag *tags, size_t n_tags, const char *const *log,
                      size_t n_log);
/* Replaces a string member (copied; NULL removes it); 0 or -1. */
int steep_task_set_string(char **member, const char *value);

/* update returns what a steep_task_record_update_fn returns (record.h). */
typedef int (*steep_task_update_fn)(struct steep_task *task, void *arg);
/* steep_task_record_change with the record typed; opt may be NULL. */
int steep_task_update(const struct steep_kv *kv, const char *key, steep_task_update_fn update,
                      void *arg, const struct steep_task_record_options *opt);

#endif
