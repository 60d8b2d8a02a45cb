/*
 * The parts of the stored task record (Teaclave's TaskState JSON,
 * teaclave-api.md §5.7, written by management) the scheduler reads and
 * changes: status, result, the assigned outputs' cmacs, and Steep's
 * "executor_id" (the slot a task was handed to). Every change is a
 * compare-and-swap, so a concurrent cancel and a result never lose one.
 * The record module itself (status table, ids, the update loop) is shared
 * with management: lib/task.
 */
#ifndef STEEP_SCHEDULER_TASK_RECORD_H
#define STEEP_SCHEDULER_TASK_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "store/kv.h"
#include "task/record.h"
#include "task/task.h"

#define STEEP_TASK_UUID_TEXT STEEP_UUID_TEXT

/* Accepts "task-<uuid>" or a bare UUID; out gets the lowercase uuid. */
int steep_task_record_uuid(const char *text, char out[STEEP_TASK_UUID_TEXT]);

/* OK (*task decoded: clear it), NOT_FOUND or ERROR. raw may be NULL. */
int steep_task_record_load(const struct steep_kv *store, const char *key, struct steep_task *task,
                           struct steep_buf *raw);
bool steep_task_record_terminal(int status);

/* steep_task_record_change without options, for the records beside the
 * task's (the output files' cmacs): 0 after a write or a 1 from update,
 * update's code (>= 2), STEEP_TASK_RECORD_MISSING, -1 on failure. Task
 * records themselves change typed, through steep_task_update. */
int steep_task_record_update(const struct steep_kv *store, const char *key,
                             steep_task_record_update_fn update, void *arg);

/* steep_task_update of a task record whose stored bytes are already known
 * (known may be NULL): the first attempt needs no read. */
int steep_task_record_update_known(const struct steep_kv *store, const char *key,
                                   const uint8_t *known, size_t known_len,
                                   steep_task_update_fn update, void *arg);

/* Running/Staged -> Failed with reason (no change when already terminal). */
int steep_task_record_fail(const struct steep_kv *store, const char *uuid, const char *reason);

#endif
