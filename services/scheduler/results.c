/*
 * What execution slots report: UpdateTaskStatus (Staged -> Running) and
 * UpdateTaskResult (Running -> Finished for Ok, Failed with the reason for
 * Err: Steep's fix of Teaclave marking failures Finished). Output cmacs from
 * tags_map are written to the output records (16 bytes each, an existing
 * cmac is never overwritten) and to the task's assigned outputs. A result
 * that cannot be accepted (no result, bad tag) still ends the task, as
 * Failed, so nothing stays Running. Also Teaclave's PublishTask.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "internal.h"
#include "task/task.h"
#include "rpc/rpc.h"

#define STATUS(name) TEACLAVE_COMMON_PROTO__TASK_STATUS__##name

static void release_slot(struct steep_scheduler *s, const char *uuid)
{
    pthread_mutex_lock(&s->lock);
    struct slot *slot = steep_scheduler_slot_of_task_locked(s, uuid);
    if (slot) {
        slot->task[0] = '\0';
        slot->stop = false;
    }
    pthread_mutex_unlock(&s->lock);
    steep_scheduler_forget_task(s, uuid);
}

/* The acknowledgement of a claim (dispatch.c): the claim already stored
 * Running with the slot's executor_id, so nothing is written unless the
 * record still is Staged (a claim stored before claims set Running). A
 * caller that names itself (executor, the steep-executor-id metadata of
 * Steep's execution nodes) must be the claimant; Teaclave's executors name
 * no one and get Teaclave's behaviour. */
struct running_check {
    const char *executor;
    bool durable; /* durable start: store "started" before answering */
};

static int set_running(struct steep_task *task, void *arg)
{
    const struct running_check *check = arg;
    const char *holder = task->executor_id;
    if ((task->status == STATUS(Running) || task->status == STATUS(Staged)) && check->executor &&
        (!holder || strcmp(holder, check->executor) != 0)) {
        steep_error_set("task is not claimed by executor %.40s", check->executor);
        return STEEP_GRPC_FAILED_PRECONDITION;
    }
    if (task->status == STATUS(Running) && (!check->durable || task->started))
        return 1; /* a repeated acknowledgement writes nothing */
    if (task->status != STATUS(Staged) && task->status != STATUS(Running)) {
        steep_error_set("task is %s, not Staged",
                        steep_task_status_text(task->status) ?: "unknown");
        return STEEP_GRPC_FAILED_PRECONDITION;
    }
    task->status = STATUS(Running);
    if (check->durable)
        task->started = true;
    return 0;
}

int steep_scheduler_update_status(struct steep_scheduler *s, const char *task_id, int status,
                                  const char *executor_id)
{
    (void)status; /* Teaclave ignores it too: the only step is Staged -> Running */
    char uuid[STEEP_TASK_UUID_TEXT], key[64];
    if (steep_task_record_uuid(task_id, uuid) < 0)
        return STEEP_GRPC_INVALID_ARGUMENT;
    snprintf(key, sizeof key, "task-%s", uuid);
    struct running_check check = {executor_id && *executor_id ? executor_id : NULL,
                                  s->config.durable_start};
    int rc = steep_task_update(&s->store, key, set_running, &check, NULL);
    if (rc == STEEP_TASK_RECORD_MISSING) {
        steep_error_set("invalid task id");
        return STEEP_GRPC_INVALID_ARGUMENT;
    }
    if (rc < 0) {
        log_error("scheduler: UpdateTaskStatus %s: %s", uuid, steep_error_get());
        /* Storage is down or restarting: the slot retries (UNAVAILABLE is
         * retryable), so a result is not dropped for a transient failure. */
        steep_error_set("storage unavailable: try again");
        return STEEP_GRPC_UNAVAILABLE;
    }
    if (rc != 0)
        return rc;
    steep_metrics_count("steep_scheduler_tasks_total", "Task state changes recorded, by state",
                        "state=\"running\"", 1);
    /* The acknowledgement counts only while the slot still holds the task:
     * once the sweeper gave it back (under this lock) the slot must not run
     * it, even if the record read above still named it. With durable
     * starts the record decides instead: "started" was stored while the
     * record still named this slot, so the give-back's compare-and-swap
     * refuses (state.c) and the slot holds the task again. */
    pthread_mutex_lock(&s->lock);
    struct slot *slot = steep_scheduler_slot_of_task_locked(s, uuid);
    bool held = slot && (!check.executor || strcmp(slot->executor_id, check.executor) == 0);
    if (!held && check.durable && check.executor && !slot) {
        struct slot *own = steep_scheduler_slot_locked(s, check.executor, true);
        if (own && !own->task[0]) {
            memcpy(own->task, uuid, sizeof own->task);
            own->assigned_ms = own->last_seen_ms = steep_scheduler_now_ms();
            slot = own;
            held = true;
        }
    }
    if (held) {
        slot->running = true;
        slot->recovered = false;
    }
    pthread_mutex_unlock(&s->lock);
    if (!held && check.executor) {
        steep_error_set("task was given back: executor %.40s no longer holds it", check.executor);
        return STEEP_GRPC_FAILED_PRECONDITION;
    }
    return 0;
}

/* ---- results ---- */

struct result_update {
    const TeaclaveCommonProto__TaskResult *result;
    const char *failure; /* set: store Failed with this reason instead */
};

static json_t *bytes_json(const uint8_t *data, size_t len)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < len; i++)
        json_array_append_new(array, json_integer(data[i]));
    return array;
}

static int store_result(struct steep_task *task, void *arg)
{
    const struct result_update *update = arg;
    if (task->status != STATUS(Running) && task->status != STATUS(Staged)) {
        steep_error_set("task is %s, not Running",
                        steep_task_status_text(task->status) ?: "unknown");
        return STEEP_GRPC_FAILED_PRECONDITION;
    }
    const TeaclaveCommonProto__TaskResult *result = update->result;
    if (update->failure || result->result_case != TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK) {
        const char *reason = update->failure ? update->failure
                             : result->err   ? result->err->reason
                                             : "";
        GUARD(steep_task_set_error(task, reason));
        task->status = STATUS(Failed);
        return 0;
    }
    const TeaclaveCommonProto__TaskOutputs *outputs = result->ok;
    struct steep_task_tag *tags = calloc(outputs->n_tags_map + 1, sizeof *tags);
    if (!tags)
        return steep_error_set("out of memory");
    json_t *assigned = steep_task_inner(task->assigned_outputs);
    for (size_t i = 0; i < outputs->n_tags_map; i++) {
        const TeaclaveCommonProto__TaskOutputs__TagsMapEntry *entry = outputs->tags_map[i];
        tags[i].name = entry->key;
        tags[i].tag = (struct steep_buf){
            .data = entry->value.data, .len = entry->value.len, .cap = entry->value.len};
        json_t *file = json_object_get(assigned, entry->key);
        if (file)
            json_object_set_new(
                file, "cmac",
                json_pack("{s:o}", "tag", bytes_json(entry->value.data, entry->value.len)));
    }
    int rc =
        steep_task_set_ok(task, outputs->return_value.data, outputs->return_value.len, tags,
                          outputs->n_tags_map, (const char *const *)outputs->log, outputs->n_log);
    free(tags);
    GUARD(rc);
    task->status = STATUS(Finished);
    return 0;
}

static int set_cmac(json_t *file, void *arg)
{
    const ProtobufCBinaryData *tag = arg;
    json_t *current = json_object_get(json_object_get(file, "cmac"), "tag");
    json_t *wanted = bytes_json(tag->data, tag->len);
    int rc = 0;
    if (current)
        rc = json_equal(current, wanted) ? 1 : 2; /* never overwrite another cmac */
    else
        json_object_set_new(file, "cmac", json_pack("{s:O}", "tag", wanted));
    json_decref(wanted);
    return rc;
}

/* Checks the tags and writes them to the output records; returns NULL or
 * the reason the result cannot be accepted. */
static const char *write_cmacs(struct steep_scheduler *s, const char *uuid,
                               const TeaclaveCommonProto__TaskOutputs *outputs, char *reason,
                               size_t reason_len)
{
    char key[64];
    struct steep_task task;
    if (outputs->n_tags_map == 0)
        return NULL; /* nothing to check or write: no read of the task either */
    snprintf(key, sizeof key, "task-%s", uuid);
    if (steep_task_record_load(&s->store, key, &task, NULL) != STEEP_STORE_OK)
        return NULL; /* store_result reports it */
    json_t *assigned = steep_task_inner(task.assigned_outputs);
    const char *failure = NULL;
    for (size_t i = 0; !failure && i < outputs->n_tags_map; i++) {
        const TeaclaveCommonProto__TaskOutputs__TagsMapEntry *entry = outputs->tags_map[i];
        json_t *file = json_object_get(assigned, entry->key ? entry->key : "");
        if (entry->value.len != 16) {
            snprintf(reason, reason_len, "invalid result: cmac of output %.64s is not 16 bytes",
                     entry->key);
            failure = reason;
        } else if (!file) {
            snprintf(reason, reason_len, "invalid result: no output named %.64s", entry->key);
            failure = reason;
        } else {
            snprintf(key, sizeof key, "output-%s",
                     json_string_value(json_object_get(file, "uuid")) ?: "");
            int rc = steep_task_record_update(&s->store, key, set_cmac, (void *)&entry->value);
            if (rc == 2) {
                snprintf(reason, reason_len, "output %.64s already has a different cmac",
                         entry->key);
                failure = reason;
            }
        }
    }
    steep_task_clear(&task);
    return failure;
}

int steep_scheduler_update_result(struct steep_scheduler *s, const char *task_id,
                                  const TeaclaveCommonProto__TaskResult *result)
{
    char uuid[STEEP_TASK_UUID_TEXT], key[64], reason[160];
    if (steep_task_record_uuid(task_id, uuid) < 0)
        return STEEP_GRPC_INVALID_ARGUMENT;
    snprintf(key, sizeof key, "task-%s", uuid);
    struct result_update update = {result, NULL};
    int code = 0;
    if (!result || result->result_case == TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT__NOT_SET) {
        update.failure = "invalid result from the executor: missing result";
        code = STEEP_GRPC_INVALID_ARGUMENT;
    } else if (result->result_case == TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK && result->ok) {
        update.failure = write_cmacs(s, uuid, result->ok, reason, sizeof reason);
        code = update.failure ? STEEP_GRPC_INVALID_ARGUMENT : 0;
    }
    int rc = steep_task_update(&s->store, key, store_result, &update, NULL);
    if (rc == STEEP_TASK_RECORD_MISSING) {
        steep_error_set("invalid task id");
        return STEEP_GRPC_INVALID_ARGUMENT;
    }
    if (rc < 0) {
        log_error("scheduler: UpdateTaskResult %s: %s", uuid, steep_error_get());
        /* Storage is down or restarting: the slot retries (UNAVAILABLE is
         * retryable), so a result is not dropped for a transient failure. */
        steep_error_set("storage unavailable: try again");
        return STEEP_GRPC_UNAVAILABLE;
    }
    release_slot(s, uuid);
    if (rc != 0)
        return rc;
    bool finished =
        !update.failure && result->result_case == TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
    steep_metrics_count("steep_scheduler_tasks_total", "Task state changes recorded, by state",
                        finished ? "state=\"finished\"" : "state=\"failed\"", 1);
    if (code)
        steep_error_set("%s", update.failure);
    return code;
}

int steep_scheduler_publish(struct steep_scheduler *s, const uint8_t *staged, size_t len)
{
    json_error_t error;
    json_t *task = json_loadb((const char *)staged, len, 0, &error);
    const char *task_id = json_string_value(json_object_get(task, "task_id"));
    char uuid[STEEP_TASK_UUID_TEXT];
    int rc = task_id && steep_task_record_uuid(task_id, uuid) == 0
                 ? steep_scheduler_task_staged(s, uuid, NULL, 0)
                 : STEEP_GRPC_INVALID_ARGUMENT;
    if (rc == STEEP_GRPC_INVALID_ARGUMENT)
        steep_error_set("invalid staged task");
    json_decref(task);
    return rc;
}
