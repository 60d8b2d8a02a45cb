/* Stored records and their one update loop (record.h). */
#include "task/record.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_ATTEMPTS 1000

char *steep_task_record_dump(const json_t *record)
{
    return json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

int steep_task_record_read(const struct steep_kv *kv, const char *key, json_t **record,
                           struct steep_buf *raw)
{
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = kv->get(kv->ctx, key, &value);
    if (rc == STEEP_STORE_OK) {
        json_error_t error;
        *record = json_loadb((const char *)value.data, value.len, 0, &error);
        if (!*record) {
            rc = steep_error_set("record %.80s is not valid JSON", key);
        } else if (raw) { /* the bytes read, handed over rather than copied */
            steep_buf_free(raw);
            *raw = value;
            value = (struct steep_buf)STEEP_BUF_INIT;
        }
    }
    steep_buf_free(&value);
    return rc;
}

int steep_task_record_status(const json_t *task)
{
    return steep_task_status_value(json_string_value(json_object_get(task, "status")));
}

void steep_task_record_set_status(json_t *task, int status)
{
    const char *name = steep_task_status_text(status);
    json_object_set_new(task, "status", json_string(name ? name : "Unknown"));
}

/* One attempt: update, then swap. 0 written / nothing to write (*done), 1
 * changed meanwhile (retry), else the final code (*done). */
static int attempt(const struct steep_kv *kv, const char *key, json_t *record, bool absent,
                   const struct steep_buf *expected, steep_task_record_update_fn update, void *arg,
                   const struct steep_task_record_options *opt, bool *done)
{
    *done = true;
    int rc = record ? update(record, arg) : steep_error_set("out of memory");
    char *text = rc == 0 ? steep_task_record_dump(record) : NULL;
    json_decref(record);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (!text)
        return steep_error_set("out of memory");
    size_t len = strlen(text);
    if (opt && opt->max_len && len > opt->max_len) {
        free(text);
        steep_error_set("its record would be %zu bytes; the limit is %zu bytes", len, opt->max_len);
        return STEEP_TASK_RECORD_TOO_LARGE;
    }
    struct steep_store_cas cas = {.key = key,
                                  .key_len = strlen(key),
                                  .expect_absent = absent,
                                  .expected = absent ? NULL : expected->data,
                                  .expected_len = absent ? 0 : expected->len,
                                  .value = text,
                                  .value_len = len,
                                  .then = opt ? opt->then : NULL,
                                  .n_then = opt ? opt->n_then : 0};
    rc = kv->compare_and_swap(kv->ctx, &cas);
    if (rc == STEEP_STORE_OK && cas.swapped && opt && opt->written) {
        opt->written->len = 0;
        if (steep_buf_append(opt->written, text, len) < 0)
            opt->written->len = 0;
    }
    free(text);
    if (rc != STEEP_STORE_OK)
        return -1;
    *done = cas.swapped;
    return cas.swapped ? 0 : 1;
}

int steep_task_record_change(const struct steep_kv *kv, const char *key,
                             steep_task_record_update_fn update, void *arg,
                             const struct steep_task_record_options *opt)
{
    struct steep_buf expected = STEEP_BUF_INIT;
    const struct steep_buf *known = opt ? opt->known : NULL;
    bool done = false;
    int rc = -1;
    for (int n = 0; !done && n < MAX_ATTEMPTS; n++) {
        json_t *record = NULL;
        bool absent = false;
        if (n == 0 && known) { /* compared with as they are: not copied */
            json_error_t error;
            record = json_loadb((const char *)known->data, known->len, 0, &error);
            rc = record ? STEEP_STORE_OK : steep_error_set("record %.80s is not valid JSON", key);
        } else {
            rc = steep_task_record_read(kv, key, &record, &expected);
        }
        if (rc == STEEP_STORE_NOT_FOUND && opt && opt->initial) {
            record = json_deep_copy(opt->initial);
            absent = true;
        } else if (rc == STEEP_STORE_NOT_FOUND) {
            rc = STEEP_TASK_RECORD_MISSING;
            break;
        } else if (rc != STEEP_STORE_OK) {
            json_decref(record);
            rc = -1;
            break;
        }
        rc = attempt(kv, key, record, absent, n == 0 && known ? known : &expected, update, arg, opt,
                     &done);
    }
    steep_buf_free(&expected);
    if (!done && rc == 1)
        return steep_error_set("record %.80s: too many concurrent updates", key);
    return rc;
}
