/*
 * Task records as the scheduler sees them (task_record.h), over the shared
 * record module (lib/task/record.c).
 */
#include "task_record.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "task/task.h"
#include "teaclave_common.pb-c.h"

#define STATUS(name) TEACLAVE_COMMON_PROTO__TASK_STATUS__##name

int steep_task_record_uuid(const char *text, char out[STEEP_TASK_UUID_TEXT])
{
    return steep_id_task_uuid(text, out);
}

bool steep_task_record_terminal(int status)
{
    return steep_task_status_is_terminal(status);
}

int steep_task_record_load(const struct steep_kv *store, const char *key, struct steep_task *task,
                           struct steep_buf *raw)
{
    return steep_task_read(store, key, task, raw);
}

int steep_task_record_update(const struct steep_kv *store, const char *key,
                             steep_task_record_update_fn update, void *arg)
{
    return steep_task_record_change(store, key, update, arg, NULL);
}

int steep_task_record_update_known(const struct steep_kv *store, const char *key,
                                   const uint8_t *known, size_t known_len,
                                   steep_task_update_fn update, void *arg)
{
    /* A view of the caller's bytes, never grown or freed here. */
    struct steep_buf view = {.data = (uint8_t *)known, .len = known_len, .cap = known_len};
    struct steep_task_record_options opt = {.known = known ? &view : NULL};
    return steep_task_update(store, key, update, arg, &opt);
}

static int fail_task(struct steep_task *task, void *arg)
{
    if (task->status != STATUS(Staged) && task->status != STATUS(Running))
        return 1;
    GUARD(steep_task_set_error(task, arg));
    task->status = STATUS(Failed);
    return 0;
}

int steep_task_record_fail(const struct steep_kv *store, const char *uuid, const char *reason)
{
    char key[64];
    snprintf(key, sizeof key, "task-%s", uuid);
    int rc = steep_task_update(store, key, fail_task, (void *)reason, NULL);
    return rc == STEEP_TASK_RECORD_MISSING ? 0 : rc;
}
