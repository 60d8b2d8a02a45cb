/*
 * The parts of the stored task record (Teaclave's TaskState JSON,
 * teaclave-api.md §5.7, written by management) the scheduler reads and
 * changes: status, result, the assigned outputs' cmacs, and Steep's
 * "executor_id" (the slot a task was handed to). Every change is a
 * compare-and-swap, so a concurrent cancel and a result never lose one.
 */
#ifndef STEEP_SCHEDULER_TASK_RECORD_H
#define STEEP_SCHEDULER_TASK_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "store/kv.h"

#define STEEP_TASK_UUID_TEXT 37

/* Accepts "task-<uuid>" or a bare UUID; out gets the lowercase uuid. */
int steep_task_record_uuid(const char *text, char out[STEEP_TASK_UUID_TEXT]);

/* OK (*task set), NOT_FOUND or ERROR. raw may be NULL. */
int steep_task_record_load(const struct steep_kv *store, const char *key, json_t **record,
                           struct steep_buf *raw);
int steep_task_record_status(const json_t *task); /* TaskStatus number, -1 if unknown */
void steep_task_record_set_status(json_t *task, int status);
bool steep_task_record_terminal(int status);

/* update: 0 write, 1 leave unchanged, >= 2 stop with that code; see
 * steep_task_record_update. */
typedef int (*steep_task_record_update_fn)(json_t *record, void *arg);
/* Read-modify-write of key with compare-and-swap, retried on conflict
 * (update must depend only on the record and arg). Returns 0 after a write
 * or a 1 from update, update's code (>= 2), STEEP_TASK_RECORD_MISSING when
 * the record does not exist, -1 on storage failure. */
#define STEEP_TASK_RECORD_MISSING (-2)
int steep_task_record_update(const struct steep_kv *store, const char *key,
                             steep_task_record_update_fn update, void *arg);

/* The same with the record's stored bytes already known (known may be
 * NULL): the first attempt needs no read. */
int steep_task_record_update_known(const struct steep_kv *store, const char *key,
                                   const uint8_t *known, size_t known_len,
                                   steep_task_record_update_fn update, void *arg);

/* Running/Staged -> Failed with reason (no change when already terminal). */
int steep_task_record_fail(const struct steep_kv *store, const char *uuid, const char *reason);

#endif
