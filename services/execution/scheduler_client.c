/* Typed scheduler RPCs; see scheduler_client.h. */
#include "scheduler_client.h"

#include <stdlib.h>
#include <string.h>

#include "google/protobuf/empty.pb-c.h"
#include "teaclave_common.pb-c.h"
#include "teaclave_scheduler_service.pb-c.h"

#define SCHEDULER "/teaclave_scheduler_service_proto.TeaclaveScheduler/"

static int call(struct steep_rpc_client *client, const char *method,
                const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                ProtobufCMessage **response, int timeout_ms, struct steep_rpc_status *status)
{
    char path[128];
    snprintf(path, sizeof path, SCHEDULER "%s", method);
    return steep_rpc_call(client, path, request, response_type, response, NULL, 0, timeout_ms,
                          status);
}

int steep_scheduler_pull_task(struct steep_rpc_client *client, const char *executor_id,
                              int timeout_ms, struct steep_buf *staged_task,
                              struct steep_rpc_status *status)
{
    TeaclaveSchedulerServiceProto__PullTaskRequest request =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__PULL_TASK_REQUEST__INIT;
    ProtobufCMessage *response = NULL;
    request.executor_id = (char *)executor_id;
    if (call(client, "PullTask", &request.base,
             &teaclave_scheduler_service_proto__pull_task_response__descriptor, &response,
             timeout_ms, status) < 0)
        return -1;
    TeaclaveSchedulerServiceProto__PullTaskResponse *pulled = (void *)response;
    steep_buf_reset(staged_task);
    int rc = steep_buf_append(staged_task, pulled->staged_task.data, pulled->staged_task.len);
    protobuf_c_message_free_unpacked(response, NULL);
    if (rc < 0) {
        status->code = STEEP_GRPC_RESOURCE_EXHAUSTED;
        snprintf(status->message, sizeof status->message, "out of memory");
    }
    return rc;
}

static int expect_empty(struct steep_rpc_client *client, const char *method,
                        const ProtobufCMessage *request, int timeout_ms,
                        struct steep_rpc_status *status)
{
    ProtobufCMessage *response = NULL;
    if (call(client, method, request, &google__protobuf__empty__descriptor, &response, timeout_ms,
             status) < 0)
        return -1;
    protobuf_c_message_free_unpacked(response, NULL);
    return 0;
}

int steep_scheduler_set_running(struct steep_rpc_client *client, const char *executor_id,
                                const char *task_id, int timeout_ms,
                                struct steep_rpc_status *status)
{
    TeaclaveSchedulerServiceProto__UpdateTaskStatusRequest request =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__UPDATE_TASK_STATUS_REQUEST__INIT;
    request.task_id = (char *)task_id;
    request.task_status = TEACLAVE_COMMON_PROTO__TASK_STATUS__Running;
    /* Names the slot, so the scheduler refuses a claim it gave back. */
    struct steep_rpc_metadata who = {"steep-executor-id", executor_id};
    ProtobufCMessage *response = NULL;
    if (steep_rpc_call(client, SCHEDULER "UpdateTaskStatus", &request.base,
                       &google__protobuf__empty__descriptor, &response, &who, 1, timeout_ms,
                       status) < 0)
        return -1;
    protobuf_c_message_free_unpacked(response, NULL);
    return 0;
}

int steep_scheduler_report(struct steep_rpc_client *client, const char *task_id,
                           const struct steep_task_outcome *outcome, int timeout_ms,
                           struct steep_rpc_status *status)
{
    TeaclaveSchedulerServiceProto__UpdateTaskResultRequest request =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__UPDATE_TASK_RESULT_REQUEST__INIT;
    TeaclaveCommonProto__TaskResult result = TEACLAVE_COMMON_PROTO__TASK_RESULT__INIT;
    TeaclaveCommonProto__TaskOutputs outputs = TEACLAVE_COMMON_PROTO__TASK_OUTPUTS__INIT;
    TeaclaveCommonProto__TaskFailure failure = TEACLAVE_COMMON_PROTO__TASK_FAILURE__INIT;
    size_t n = outcome->ok ? outcome->n_tags : 0;
    TeaclaveCommonProto__TaskOutputs__TagsMapEntry *entries = calloc(n + 1, sizeof *entries);
    TeaclaveCommonProto__TaskOutputs__TagsMapEntry **pointers = calloc(n + 1, sizeof *pointers);
    if (!entries || !pointers) {
        free(entries);
        free(pointers);
        status->code = STEEP_GRPC_RESOURCE_EXHAUSTED;
        snprintf(status->message, sizeof status->message, "out of memory");
        return -1;
    }
    request.task_id = (char *)task_id;
    request.result = &result;
    if (outcome->ok) {
        for (size_t i = 0; i < n; i++) {
            TeaclaveCommonProto__TaskOutputs__TagsMapEntry init =
                TEACLAVE_COMMON_PROTO__TASK_OUTPUTS__TAGS_MAP_ENTRY__INIT;
            entries[i] = init;
            entries[i].key = (char *)outcome->tags[i].name;
            entries[i].value.data = (uint8_t *)outcome->tags[i].cmac;
            entries[i].value.len = 16;
            pointers[i] = &entries[i];
        }
        outputs.return_value.data = outcome->summary.data;
        outputs.return_value.len = outcome->summary.len;
        outputs.n_tags_map = n;
        outputs.tags_map = pointers;
        outputs.n_log = outcome->n_log;
        outputs.log = outcome->log;
        result.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
        result.ok = &outputs;
    } else {
        failure.reason = (char *)outcome->reason;
        result.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_ERR;
        result.err = &failure;
    }
    int rc = expect_empty(client, "UpdateTaskResult", &request.base, timeout_ms, status);
    free(entries);
    free(pointers);
    return rc;
}

int steep_scheduler_heartbeat(struct steep_rpc_client *client, const char *executor_id,
                              bool executing, int timeout_ms, bool *stop,
                              struct steep_rpc_status *status)
{
    TeaclaveSchedulerServiceProto__HeartbeatRequest request =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__HEARTBEAT_REQUEST__INIT;
    ProtobufCMessage *response = NULL;
    request.executor_id = (char *)executor_id;
    request.status = executing ? TEACLAVE_COMMON_PROTO__EXECUTOR_STATUS__Executing
                               : TEACLAVE_COMMON_PROTO__EXECUTOR_STATUS__Idle;
    if (call(client, "Heartbeat", &request.base,
             &teaclave_scheduler_service_proto__heartbeat_response__descriptor, &response,
             timeout_ms, status) < 0)
        return -1;
    TeaclaveSchedulerServiceProto__HeartbeatResponse *reply = (void *)response;
    *stop = reply->command == TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__Stop;
    protobuf_c_message_free_unpacked(response, NULL);
    return 0;
}

bool steep_scheduler_retryable(const struct steep_rpc_status *status)
{
    return status->code == STEEP_GRPC_UNAVAILABLE || status->code == STEEP_GRPC_DEADLINE_EXCEEDED ||
           status->code == STEEP_GRPC_RESOURCE_EXHAUSTED || status->code == STEEP_GRPC_CANCELLED;
}
