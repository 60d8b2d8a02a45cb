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
#include "internal.h"
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

static int set_running(json_t *task, void *arg)
{
    int status = steep_task_record_status(task);
    if (status == STATUS(Running))
        return 1;
    if (status != STATUS(Staged)) {
        steep_error_set("task is %s, not Staged",
                        json_string_value(json_object_get(task, "status")) ?: "unknown");
        return STEEP_GRPC_FAILED_PRECONDITION;
    }
    steep_task_record_set_status(task, STATUS(Running));
    return 0;
}

int steep_scheduler_update_status(struct steep_scheduler *s, const char *task_id, int status)
{
    char uuid[STEEP_TASK_UUID_TEXT], key[64];
    if (steep_task_record_uuid(task_id, uuid) < 0)
        return STEEP_GRPC_INVALID_ARGUMENT;
    snprintf(key, sizeof key, "task-%s", uuid);
    /* Teaclave ignores the requested status: the only step is Staged -> Running. */
    int rc = steep_task_record_update(&s->store, key, set_running, NULL);
    if (rc == STEEP_TASK_RECORD_MISSING) {
        steep_error_set("invalid task id");
        return STEEP_GRPC_INVALID_ARGUMENT;
    }
    if (rc < 0) {
        log_error("scheduler: UpdateTaskStatus %s: %s", uuid, steep_error_get());
        steep_error_set("service internal error");
        return STEEP_GRPC_INTERNAL;
    }
    if (rc == 0) {
        pthread_mutex_lock(&s->lock);
        struct slot *slot = steep_scheduler_slot_of_task_locked(s, uuid);
        if (slot)
            slot->running = true;
        pthread_mutex_unlock(&s->lock);
    }
    return rc;
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

static int store_result(json_t *task, void *arg)
{
    const struct result_update *update = arg;
    int status = steep_task_record_status(task);
    if (status != STATUS(Running) && status != STATUS(Staged)) {
        steep_error_set("task is %s, not Running",
                        json_string_value(json_object_get(task, "status")) ?: "unknown");
        return STEEP_GRPC_FAILED_PRECONDITION;
    }
    const TeaclaveCommonProto__TaskResult *result = update->result;
    if (update->failure || result->result_case != TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK) {
        const char *reason = update->failure ? update->failure
                             : result->err   ? result->err->reason
                                             : "";
        json_object_set_new(task, "result", json_pack("{s:{s:s}}", "Err", "reason", reason));
        steep_task_record_set_status(task, STATUS(Failed));
        return 0;
    }
    const TeaclaveCommonProto__TaskOutputs *outputs = result->ok;
    json_t *tags = json_object(), *log = json_array();
    json_t *assigned = json_object_get(json_object_get(task, "assigned_outputs"), "inner");
    for (size_t i = 0; i < outputs->n_tags_map; i++) {
        const TeaclaveCommonProto__TaskOutputs__TagsMapEntry *entry = outputs->tags_map[i];
        json_t *tag = json_pack("{s:o}", "tag", bytes_json(entry->value.data, entry->value.len));
        json_object_set(tags, entry->key, tag);
        json_t *file = json_object_get(assigned, entry->key);
        if (file)
            json_object_set(file, "cmac", tag);
        json_decref(tag);
    }
    for (size_t i = 0; i < outputs->n_log; i++)
        json_array_append_new(log, json_string(outputs->log[i] ? outputs->log[i] : ""));
    json_object_set_new(task, "result",
                        json_pack("{s:{s:o, s:{s:o}, s:o}}", "Ok", "return_value",
                                  bytes_json(outputs->return_value.data, outputs->return_value.len),
                                  "tags_map", "inner", tags, "log", log));
    steep_task_record_set_status(task, STATUS(Finished));
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
    json_t *task = NULL;
    snprintf(key, sizeof key, "task-%s", uuid);
    if (steep_task_record_load(&s->store, key, &task, NULL) != STEEP_STORE_OK)
        return NULL; /* store_result reports it */
    json_t *assigned = json_object_get(json_object_get(task, "assigned_outputs"), "inner");
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
    json_decref(task);
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
    int rc = steep_task_record_update(&s->store, key, store_result, &update);
    if (rc == STEEP_TASK_RECORD_MISSING) {
        steep_error_set("invalid task id");
        return STEEP_GRPC_INVALID_ARGUMENT;
    }
    if (rc < 0) {
        log_error("scheduler: UpdateTaskResult %s: %s", uuid, steep_error_get());
        steep_error_set("service internal error");
        return STEEP_GRPC_INTERNAL;
    }
    release_slot(s, uuid);
    if (rc != 0)
        return rc;
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
