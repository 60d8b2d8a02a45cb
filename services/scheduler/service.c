/*
 * The scheduler's RPC surface: Teaclave's TeaclaveScheduler methods (for
 * the execution slots) and Steep's SteepScheduler wake-ups (for
 * management), each decoding its request, calling the core and answering.
 * Every call goes through the gate: on a replica that does not lead (no
 * core published) it is answered UNAVAILABLE.
 */
#include "service.h"

#include <pthread.h>
#include <stdlib.h>
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

/* Which core serves (the leader's; NULL on a follower) and how many calls
 * are inside it, so that a core that lost the leadership is freed only
 * once the last of them left. */
struct steep_scheduler_gate {
    pthread_mutex_t lock;
    pthread_cond_t left;
    struct steep_scheduler *scheduler;
    int users;
};

struct steep_scheduler_gate *steep_scheduler_gate_new(struct steep_scheduler *scheduler)
{
    struct steep_scheduler_gate *gate = calloc(1, sizeof *gate);
    if (!gate) {
        steep_error_set("out of memory");
        return NULL;
    }
    pthread_mutex_init(&gate->lock, NULL);
    pthread_cond_init(&gate->left, NULL);
    gate->scheduler = scheduler;
    return gate;
}

struct steep_scheduler *steep_scheduler_gate_swap(struct steep_scheduler_gate *gate,
                                                  struct steep_scheduler *scheduler)
{
    pthread_mutex_lock(&gate->lock);
    struct steep_scheduler *previous = gate->scheduler;
    gate->scheduler = scheduler;
    pthread_mutex_unlock(&gate->lock);
    return previous;
}

void steep_scheduler_gate_drain(struct steep_scheduler_gate *gate)
{
    pthread_mutex_lock(&gate->lock);
    while (gate->users > 0)
        pthread_cond_wait(&gate->left, &gate->lock);
    pthread_mutex_unlock(&gate->lock);
}

void steep_scheduler_gate_free(struct steep_scheduler_gate *gate)
{
    if (!gate)
        return;
    steep_scheduler_gate_drain(gate);
    pthread_mutex_destroy(&gate->lock);
    pthread_cond_destroy(&gate->left);
    free(gate);
}

/* The core for this call, or NULL after answering UNAVAILABLE: the
 * caller's client moves on to the next replica (lib/rpc failover). */
static struct steep_scheduler *enter(struct steep_rpc_call *call, struct steep_scheduler_gate *gate)
{
    pthread_mutex_lock(&gate->lock);
    struct steep_scheduler *scheduler = gate->scheduler;
    if (scheduler)
        gate->users++;
    pthread_mutex_unlock(&gate->lock);
    if (!scheduler)
        steep_rpc_fail(call, STEEP_GRPC_UNAVAILABLE,
                       "this scheduler replica is not the leader: ask another");
    return scheduler;
}

static void leave(struct steep_scheduler_gate *gate)
{
    pthread_mutex_lock(&gate->lock);
    if (--gate->users == 0)
        pthread_cond_broadcast(&gate->left);
    pthread_mutex_unlock(&gate->lock);
}

static void answer_empty(struct steep_rpc_call *call, int code)
{
    if (code != 0) {
        steep_rpc_fail(call, code, "%s", steep_error_get());
        return;
    }
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    steep_rpc_reply(call, &empty.base);
}

static void publish_task_core(struct steep_rpc_call *call, const ProtobufCMessage *request,
                              void *arg)
{
    FROM_EXECUTION(call);
    const TeaclaveSchedulerServiceProto__PublishTaskRequest *req = (const void *)request;
    answer_empty(call, steep_scheduler_publish(arg, req->staged_task.data, req->staged_task.len));
}

static void subscribe_core(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    FROM_EXECUTION(call);
    steep_rpc_fail(call, STEEP_GRPC_UNIMPLEMENTED, "Subscribe is not implemented");
}

static bool call_cancelled(void *call)
{
    return steep_rpc_call_cancelled(call);
}

static void pull_task_core(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
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

static void update_task_status_core(struct steep_rpc_call *call, const ProtobufCMessage *request,
                                    void *arg)
{
    FROM_EXECUTION(call);
    const TeaclaveSchedulerServiceProto__UpdateTaskStatusRequest *req = (const void *)request;
    answer_empty(call,
                 steep_scheduler_update_status(arg, req->task_id, req->task_status,
                                               steep_rpc_call_metadata(call, "steep-executor-id")));
}

static void update_task_result_core(struct steep_rpc_call *call, const ProtobufCMessage *request,
                                    void *arg)
{
    FROM_EXECUTION(call);
    const TeaclaveSchedulerServiceProto__UpdateTaskResultRequest *req = (const void *)request;
    answer_empty(call, steep_scheduler_update_result(arg, req->task_id, req->result));
}

static void heartbeat_core(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
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

static void task_staged_core(struct steep_rpc_call *call, const ProtobufCMessage *request,
                             void *arg)
{
    FROM_MANAGEMENT(call);
    const SteepSchedulerProto__TaskStagedRequest *req = (const void *)request;
    int code =
        steep_scheduler_task_staged(arg, req->task_id, req->task_record.data, req->task_record.len);
    if (code)
        steep_error_set("invalid task id");
    answer_empty(call, code);
}

static void cancel_task_core(struct steep_rpc_call *call, const ProtobufCMessage *request,
                             void *arg)
{
    FROM_MANAGEMENT(call);
    const SteepSchedulerProto__CancelTaskRequest *req = (const void *)request;
    int code = steep_scheduler_task_canceled(arg, req->task_id);
    if (code)
        steep_error_set("invalid task id");
    answer_empty(call, code);
}

#define GATED(name)                                                                                \
    static void name(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)      \
    {                                                                                              \
        struct steep_scheduler *scheduler = enter(call, arg);                                      \
        if (!scheduler)                                                                            \
            return;                                                                                \
        name##_core(call, request, scheduler);                                                     \
        leave(arg);                                                                                \
    }
GATED(publish_task)
GATED(subscribe)
GATED(pull_task)
GATED(update_task_status)
GATED(update_task_result)
GATED(heartbeat)
GATED(task_staged)
GATED(cancel_task)

int steep_scheduler_register(struct steep_rpc_server *server, struct steep_scheduler_gate *gate)
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
                                   gate));
    return 0;
}
