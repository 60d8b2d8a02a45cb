/*
 * The scheduler's RPC surface: Teaclave's TeaclaveScheduler methods (for
 * the execution slots) and Steep's SteepScheduler wake-ups (for
 * management), each decoding its request, calling the core and answering.
 */
#include "service.h"

#include <string.h>

#include "core/error.h"
#include "google/protobuf/empty.pb-c.h"
#include "steep_scheduler.pb-c.h"
#include "teaclave_scheduler_service.pb-c.h"

#define TEACLAVE "/teaclave_scheduler_service_proto.TeaclaveScheduler/"
#define STEEP    "/steep_scheduler_proto.SteepScheduler/"

/* Teaclave's methods are the execution slots', the wake-ups management's:
 * both may connect (the inbound list), each calls only its own. */
static bool peer_is(struct steep_rpc_call *call, const char *service)
{
    if (strcmp(steep_rpc_call_peer_name(call), service) == 0)
        return true;
    steep_rpc_fail(call, STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    return false;
}

#define FROM_EXECUTION(call)                                                                       \
    if (!peer_is(call, "teaclave_execution_service"))                                              \
    return
#define FROM_MANAGEMENT(call)                                                                      \
    if (!peer_is(call, "teaclave_management_service"))                                             \
    return

static void answer_empty(struct steep_rpc_call *call, int code)
{
    if (code != 0) {
        steep_rpc_fail(call, code, "%s", steep_error_get());
        return;
    }
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    steep_rpc_reply(call, &empty.base);
}

static void publish_task(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    FROM_EXECUTION(call);
    const TeaclaveSchedulerServiceProto__PublishTaskRequest *req = (const void *)request;
    answer_empty(call, steep_scheduler_publish(arg, req->staged_task.data, req->staged_task.len));
}

static void subscribe(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    FROM_EXECUTION(call);
    steep_rpc_fail(call, STEEP_GRPC_UNIMPLEMENTED, "Subscribe is not implemented");
}

static bool call_cancelled(void *call)
{
    return steep_rpc_call_cancelled(call);
}

static void pull_task(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    FROM_EXECUTION(call);
    const TeaclaveSchedulerServiceProto__PullTaskRequest *req = (const void *)request;
    struct steep_buf staged = STEEP_BUF_INIT;
    int64_t remaining = steep_rpc_call_remaining_ms(call);
    /* Stop taking tasks well before the client's deadline, so that a task
     * claimed at the last moment still reaches it. A deadline of more than
     * 6 s keeps 5 s for the answer: a staged task carries its arguments and
     * payload (up to the message limit each), megabytes a slow node needs
     * a while to receive (execution nodes ask for that allowance). */
    int64_t timeout = remaining > 6000  ? remaining - 5000
                      : remaining > 400 ? remaining - 200
                                        : remaining / 2;
    if (remaining >= 0 && timeout <= 0)
        timeout = 1;
    int code = steep_scheduler_pull(arg, req->executor_id, timeout, call_cancelled, call, &staged);
    if (code != 0) {
        steep_rpc_fail(call, code, "%s", steep_error_get());
    } else {
        TeaclaveSchedulerServiceProto__PullTaskResponse resp =
            TEACLAVE_SCHEDULER_SERVICE_PROTO__PULL_TASK_RESPONSE__INIT;
        resp.staged_task = (ProtobufCBinaryData){staged.len, staged.data};
        steep_rpc_reply(call, &resp.base);
    }
    steep_buf_free(&staged);
}

static void update_task_status(struct steep_rpc_call *call, const ProtobufCMessage *request,
                               void *arg)
{
    FROM_EXECUTION(call);
    const TeaclaveSchedulerServiceProto__UpdateTaskStatusRequest *req = (const void *)request;
    answer_empty(call, steep_scheduler_update_status(arg, req->task_id, req->task_status));
}

static void update_task_result(struct steep_rpc_call *call, const ProtobufCMessage *request,
                               void *arg)
{
    FROM_EXECUTION(call);
    const TeaclaveSchedulerServiceProto__UpdateTaskResultRequest *req = (const void *)request;
    answer_empty(call, steep_scheduler_update_result(arg, req->task_id, req->result));
}

static void heartbeat(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    FROM_EXECUTION(call);
    const TeaclaveSchedulerServiceProto__HeartbeatRequest *req = (const void *)request;
    TeaclaveSchedulerServiceProto__HeartbeatResponse resp =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__HEARTBEAT_RESPONSE__INIT;
    int code = steep_scheduler_heartbeat(arg, req->executor_id, req->status, &resp.command);
    if (code != 0)
        steep_rpc_fail(call, code, "%s", steep_error_get());
    else
        steep_rpc_reply(call, &resp.base);
}

static void task_staged(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    FROM_MANAGEMENT(call);
    const SteepSchedulerProto__TaskStagedRequest *req = (const void *)request;
    int code =
        steep_scheduler_task_staged(arg, req->task_id, req->task_record.data, req->task_record.len);
    if (code)
        steep_error_set("invalid task id");
    answer_empty(call, code);
}

static void cancel_task(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    FROM_MANAGEMENT(call);
    const SteepSchedulerProto__CancelTaskRequest *req = (const void *)request;
    int code = steep_scheduler_task_canceled(arg, req->task_id);
    if (code)
        steep_error_set("invalid task id");
    answer_empty(call, code);
}

int steep_scheduler_register(struct steep_rpc_server *server, struct steep_scheduler *scheduler)
{
    static const struct {
        const char *path;
        const ProtobufCMessageDescriptor *type;
        steep_rpc_handler_fn handler;
    } methods[] = {
        {TEACLAVE "PublishTask",
         &teaclave_scheduler_service_proto__publish_task_request__descriptor, publish_task},
        {TEACLAVE "Subscribe", &google__protobuf__empty__descriptor, subscribe},
        {TEACLAVE "PullTask", &teaclave_scheduler_service_proto__pull_task_request__descriptor,
         pull_task},
        {TEACLAVE "UpdateTaskStatus",
         &teaclave_scheduler_service_proto__update_task_status_request__descriptor,
         update_task_status},
        {TEACLAVE "UpdateTaskResult",
         &teaclave_scheduler_service_proto__update_task_result_request__descriptor,
         update_task_result},
        {TEACLAVE "Heartbeat", &teaclave_scheduler_service_proto__heartbeat_request__descriptor,
         heartbeat},
        {STEEP "TaskStaged", &steep_scheduler_proto__task_staged_request__descriptor, task_staged},
        {STEEP "CancelTask", &steep_scheduler_proto__cancel_task_request__descriptor, cancel_task},
    };
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        GUARD(steep_rpc_server_add(server, methods[i].path, methods[i].type, methods[i].handler,
                                   scheduler));
    return 0;
}
