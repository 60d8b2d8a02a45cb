/*
 * Task records as the scheduler sees them (task_record.h). Serialised with
 * sorted keys, as management does, so unchanged records keep equal bytes.
 */
#include "task_record.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "teaclave_common.pb-c.h"

#define STATUS(name) TEACLAVE_COMMON_PROTO__TASK_STATUS__##name

int steep_task_record_uuid(const char *text, char out[STEEP_TASK_UUID_TEXT])
{
    ENSURE(text != NULL, "invalid task id");
    if (strncmp(text, "task-", 5) == 0)
        text += 5;
    ENSURE(strlen(text) == 36, "invalid task id");
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        ENSURE(dash ? text[i] == '-' : isxdigit((unsigned char)text[i]) != 0, "invalid task id");
        out[i] = (char)tolower((unsigned char)text[i]);
    }
    out[36] = '\0';
    return 0;
}

static const char *const status_names[] = {
    [STATUS(Created)] = "Created",   [STATUS(DataAssigned)] = "DataAssigned",
    [STATUS(Approved)] = "Approved", [STATUS(Staged)] = "Staged",
    [STATUS(Running)] = "Running",   [STATUS(Finished)] = "Finished",
    [STATUS(Canceled)] = "Canceled", [STATUS(Failed)] = "Failed",
};

int steep_task_record_status(const json_t *task)
{
    const char *name = json_string_value(json_object_get(task, "status"));
    for (size_t i = 0; name && i < sizeof status_names / sizeof *status_names; i++)
        if (status_names[i] && strcmp(status_names[i], name) == 0)
            return (int)i;
    return -1;
}

void steep_task_record_set_status(json_t *task, int status)
{
    json_object_set_new(task, "status", json_string(status_names[status]));
}

bool steep_task_record_terminal(int status)
{
    return status == STATUS(Finished) || status == STATUS(Failed) || status == STATUS(Canceled);
}

int steep_task_record_load(const struct steep_kv *store, const char *key, json_t **record,
                           struct steep_buf *raw)
{
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = store->get(store->ctx, key, &value);
    if (rc == STEEP_STORE_OK) {
        json_error_t error;
        *record = json_loadb((const char *)value.data, value.len, 0, &error);
        if (!*record)
            rc = steep_error_set("record %.80s is not valid JSON", key);
        else if (raw && (raw->len = 0, steep_buf_append(raw, value.data, value.len) < 0))
            rc = -1;
    }
    steep_buf_free(&value);
    return rc;
}

int steep_task_record_update(const struct steep_kv *store, const char *key,
                             steep_task_record_update_fn update, void *arg)
{
    return steep_task_record_update_known(store, key, NULL, 0, update, arg);
}

int steep_task_record_update_known(const struct steep_kv *store, const char *key,
                                   const uint8_t *known, size_t known_len,
                                   steep_task_record_update_fn update, void *arg)
{
    struct steep_buf expected = STEEP_BUF_INIT;
    int result = -1;
    for (int attempt = 0; attempt < 1000; attempt++) {
        json_t *record = NULL;
        int rc;
        if (attempt == 0 && known) {
            json_error_t error;
            record = json_loadb((const char *)known, known_len, 0, &error);
            expected.len = 0;
            rc = record && steep_buf_append(&expected, known, known_len) == 0
                     ? STEEP_STORE_OK
                     : steep_error_set("record %.80s is not valid JSON", key);
        } else {
            rc = steep_task_record_load(store, key, &record, &expected);
        }
        if (rc == STEEP_STORE_NOT_FOUND) {
            result = STEEP_TASK_RECORD_MISSING;
            break;
        }
        if (rc != STEEP_STORE_OK)
            break;
        rc = update(record, arg);
        char *text = rc == 0 ? json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(record);
        if (rc != 0) {
            result = rc == 1 ? 0 : rc;
            break;
        }
        if (!text) {
            steep_error_set("out of memory");
            break;
        }
        struct steep_store_cas cas = {.key = key,
                                      .key_len = strlen(key),
                                      .expected = expected.data,
                                      .expected_len = expected.len,
                                      .value = text,
                                      .value_len = strlen(text)};
        rc = store->compare_and_swap(store->ctx, &cas);
        free(text);
        if (rc != STEEP_STORE_OK)
            break;
        if (cas.swapped) {
            result = 0;
            break;
        }
        if (attempt == 999)
            steep_error_set("record %.80s: too many concurrent updates", key);
    }
    steep_buf_free(&expected);
    return result;
}

static int fail_task(json_t *task, void *arg)
{
    int status = steep_task_record_status(task);
    if (status != STATUS(Staged) && status != STATUS(Running))
        return 1;
    json_object_set_new(task, "result", json_pack("{s:{s:s}}", "Err", "reason", (const char *)arg));
    steep_task_record_set_status(task, STATUS(Failed));
    return 0;
}

int steep_task_record_fail(const struct steep_kv *store, const char *uuid, const char *reason)
{
    char key[64];
    snprintf(key, sizeof key, "task-%s", uuid);
    int rc = steep_task_record_update(store, key, fail_task, (void *)reason);
    return rc == STEEP_TASK_RECORD_MISSING ? 0 : rc;
}
