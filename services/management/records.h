/*
 * Records of the management service, in Teaclave's JSON layout
 * (teaclave-api.md §5.7), as jansson values, and their storage.
 *
 * Files ("input-"/"output-"), functions ("function-"), usage counters
 * ("usage-"), user function lists ("user-"), task states ("task-") and
 * staged tasks (Steep's durable queue index "staged-<task uuid>", read by
 * the scheduler). Byte strings are JSON arrays of integers, sets are
 * {"uids":[...]} kept sorted and unique, maps are {"inner":{...}}.
 * Steep adds to the task record "executor_id" (the execution slot the
 * scheduler handed the task to) and "function_content" (what its approvals
 * cover, integrity.h), and to output file records "assigned_task" and
 * "assigned_name" (outputs are written once); Teaclave's readers ignore them.
 */
#ifndef STEEP_MANAGEMENT_RECORDS_H
#define STEEP_MANAGEMENT_RECORDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/kv.h"
#include "task/task.h"
#include "teaclave_common.pb-c.h"

/* ---- values ---- */

json_t *steep_record_bytes(const uint8_t *data, size_t len);
/* Reads a JSON array of 0..255 integers; fails on anything else. */
int steep_record_bytes_get(const json_t *array, struct steep_buf *out);
/* {"uids":[...]} from strings, sorted and de-duplicated. */
json_t *steep_record_set(const char *const *uids, size_t n);
json_t *steep_record_set_uids(const json_t *set); /* borrowed array, never NULL */
bool steep_record_set_contains(const json_t *set, const char *uid);
int steep_record_set_add(json_t *set, const char *uid);
bool steep_record_set_equal(const json_t *a, const json_t *b);
const char *steep_record_string(const json_t *object, const char *key); /* "" when absent */
/* The object map of a {"inner":{...}} field (borrowed; NULL when absent). */
json_t *steep_record_inner(const json_t *object, const char *key);

/* ---- files ---- */

/* Validates FileCryptoInfo (schema and key/iv sizes, §5.4) into FileCrypto
 * JSON. Fails with a message on an unknown schema or wrong sizes. */
json_t *steep_record_crypto(const TeaclaveCommonProto__FileCryptoInfo *info);
/* A random teaclave-file-128 key, for fusion outputs. */
json_t *steep_record_crypto_random_tf128(void);
/* cmac: 16 bytes or NULL (JSON null). */
json_t *steep_record_file(const char *url, const uint8_t *cmac, json_t *crypto, json_t *owner,
                          const char *uuid);
/* true when the file record has a 16-byte cmac (then copied to cmac if non-NULL). */
bool steep_record_file_cmac(const json_t *file, uint8_t cmac[16]);

/* ---- task status ---- */

const char *steep_record_status_name(TeaclaveCommonProto__TaskStatus status);
/* -1 for an unknown name. */
int steep_record_status_parse(const char *name);
int steep_record_task_status(const json_t *task); /* -1 when missing */

/* ---- storage ---- */

/* OK with *out (a new reference), NOT_FOUND, or ERROR (storage failure or a
 * record that is not JSON). raw (may be NULL) receives the stored bytes. */
int steep_record_load(const struct steep_kv *kv, const char *key, json_t **out,
                      struct steep_buf *raw);
int steep_record_save(const struct steep_kv *kv, const char *key, const json_t *record);

/*
 * Read-modify-write with compare-and-swap: loads key, calls update(record,
 * arg), writes the result only if the stored bytes did not change in
 * between, else reloads and calls update again (so update must depend only
 * on the record and arg). update returns 0 to write, 1 to finish without
 * writing, or a code >= 2 (e.g. a gRPC status) to stop: that code is
 * returned. A missing record is created from a copy of initial, or, when
 * initial is NULL, STEEP_RECORD_MISSING is returned. Returns 0 after a write
 * or a 1 from update, -1 on storage failure.
 */
#define STEEP_RECORD_MISSING (-2)
typedef int (*steep_record_update_fn)(json_t *record, void *arg);
int steep_record_update(const struct steep_kv *kv, const char *key, const json_t *initial,
                        steep_record_update_fn update, void *arg);

/* The same for an existing record whose stored bytes the caller just read
 * (known, may be NULL): the first attempt skips the read. written (may be
 * NULL) receives the bytes stored by the successful swap. */
int steep_record_update_known(const struct steep_kv *kv, const char *key,
                              const struct steep_buf *known, struct steep_buf *written,
                              steep_record_update_fn update, void *arg);

/* The same, with puts and deletes on other keys (then, n_then) written in
 * the same atomic, durable write as the successful swap (and not at all
 * when the update stops): records that must change together cost one
 * synced write. */
int steep_record_update_then(const struct steep_kv *kv, const char *key,
                             const struct steep_buf *known, struct steep_buf *written,
                             steep_record_update_fn update, void *arg,
                             const struct steep_store_op *then, size_t n_then);

/* steep_record_update with then/n_then as for steep_record_update_then. */
int steep_record_update_initial_then(const struct steep_kv *kv, const char *key,
                                     const json_t *initial, steep_record_update_fn update,
                                     void *arg, const struct steep_store_op *then, size_t n_then);

/* The same loops for task records, typed (lib/task/task.h): update gets
 * the record as a struct steep_task. */
int steep_record_update_task(const struct steep_kv *kv, const char *key,
                             steep_task_update_fn update, void *arg);
int steep_record_update_task_then(const struct steep_kv *kv, const char *key,
                                  const struct steep_buf *known, struct steep_buf *written,
                                  steep_task_update_fn update, void *arg,
                                  const struct steep_store_op *then, size_t n_then);

/* Serialises with sorted keys, compact (the stored form). Caller frees. */
char *steep_record_dump(const json_t *record);

/*
 * Record sizes (issue 14 item 3). A compare-and-swap carries a record twice
 * (the bytes expected and the new ones) in one storage message, whose limit
 * is the internal RPC limit S = steep_rpc_internal_max_message(M) of the
 * platform's message limit M ([rpc] max_message_bytes), so a record that is
 * ever updated must stay under half of it: update_max, checked on every
 * update and refused INVALID_ARGUMENT rather than failing INTERNAL in
 * storage. What callers create is capped lower, so the steps after creation
 * (approvals, assigned files, the result) still fit:
 *   update_max    (S - 64 KiB) / 2         ~20 MiB for M = 4 MiB
 *   task_max      update_max / 2           a task record at creation (its
 *                                          arguments as escaped JSON); any
 *                                          arguments that fit M fit this
 *                                          unless escaping inflates them
 *   function_max  update_max - 64 KiB      a payload byte takes up to 4
 *   staged_max    S / 2 - 64 KiB           the StagedTask (arguments, files
 *                                          and the function's payload): one
 *                                          storage value at its default limit
 *   url_max       256 KiB                  a file URL (data: URLs included)
 * Refusals name the limit (teaclave-api.md deviation: Teaclave has none and
 * fails later).
 */
struct steep_record_limits {
    size_t update_max, task_max, function_max, staged_max, url_max;
};
/* The limits in force; the defaults are those of M = 4 MiB. */
extern struct steep_record_limits steep_record_limits;
/* Sets them from the platform's message limit M (at start). */
void steep_record_limits_set(size_t max_message);

/* 0 when the record's stored form is at most limit bytes, else
 * INVALID_ARGUMENT "<what> too large: ... the limit is <limit> bytes<hint>". */
int steep_record_check_size(const json_t *record, size_t limit, const char *what, const char *hint);
/* The same for a stored form the caller has already serialised (its
 * length), so a record about to be written is serialised once. */
int steep_record_check_length(size_t size, size_t limit, const char *what, const char *hint);

#endif
