/*
 * Stored task records, for management and the scheduler alike: Teaclave's
 * TaskState JSON (teaclave-api.md §5.7) as jansson values, stored compact
 * with sorted keys so that unchanged records keep equal bytes and
 * compare-and-swap stays meaningful.
 *
 * steep_task_record_change is THE read-modify-write of the platform's
 * records (task records, and management's other records through
 * records.h): load, update(record, arg), write back by compare-and-swap
 * only if the stored bytes did not change, else reload and update again
 * (so update must depend only on the record and arg). Options:
 *   initial  a missing record is created from a copy of it (NULL: missing
 *            is STEEP_TASK_RECORD_MISSING)
 *   known    the record's stored bytes, just read by the caller: the first
 *            attempt needs no read
 *   written  receives the bytes the successful swap stored
 *   then     puts and deletes on other keys written in the same atomic,
 *            durable write as the swap (none when the update stops): the
 *            records that must change together cost one synced write
 *   max_len  a new value longer than this is refused with
 *            STEEP_TASK_RECORD_TOO_LARGE (0: no limit)
 * update returns 0 to write, 1 to finish without writing, or a code >= 2
 * (e.g. a gRPC status) to stop with that code. The call returns 0 after a
 * write or a 1 from update, update's code, STEEP_TASK_RECORD_MISSING,
 * STEEP_TASK_RECORD_TOO_LARGE, or -1 on storage failure (steep_error_get()).
 */
#ifndef STEEP_TASK_RECORD_H
#define STEEP_TASK_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "core/buf.h"
#include "store/kv.h"
#include "task/ids.h"
#include "task/status.h"

#define STEEP_TASK_RECORD_MISSING   (-2)
#define STEEP_TASK_RECORD_TOO_LARGE (-3)

typedef int (*steep_task_record_update_fn)(json_t *record, void *arg);

struct steep_task_record_options {
    const json_t *initial;
    const struct steep_buf *known;
    struct steep_buf *written;
    const struct steep_store_op *then;
    size_t n_then;
    size_t max_len;
};

/* opt may be NULL (no options). */
int steep_task_record_change(const struct steep_kv *kv, const char *key,
                             steep_task_record_update_fn update, void *arg,
                             const struct steep_task_record_options *opt);

/* OK with *record (a new reference), NOT_FOUND, or ERROR (storage failure
 * or a record that is not JSON). raw (may be NULL) receives the stored bytes. */
int steep_task_record_read(const struct steep_kv *kv, const char *key, json_t **record,
                           struct steep_buf *raw);

/* The stored form: compact, sorted keys. Caller frees. */
char *steep_task_record_dump(const json_t *record);

/* The record's "status" as a TaskStatus number (-1 when missing or unknown). */
int steep_task_record_status(const json_t *task);
void steep_task_record_set_status(json_t *task, int status);

#endif
