/*
 * The RPC surfaces of steep-scheduler and steep-management on a running
 * platform, called as execution, management and frontend would: Subscribe
 * is UNIMPLEMENTED, malformed calls get precise statuses and never crash
 * the service, each peer may call only its own methods, and management
 * answers Teaclave's "missing user id" / "missing user role".
 *
 *   rpc_checks   (STEEP_DIR: a platform made by steep up; STEEP_BIN)
 * Prints one line per check; exits 1 if any failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "google/protobuf/empty.pb-c.h"
#include "peer.h"
#include "steep_scheduler.pb-c.h"
#include "teaclave_frontend_service.pb-c.h"
#include "teaclave_management_service.pb-c.h"
#include "teaclave_scheduler_service.pb-c.h"

#define SCHEDULER(m)  "/teaclave_scheduler_service_proto.TeaclaveScheduler/" m
#define MANAGEMENT(m) "/teaclave_management_service_proto.TeaclaveManagement/" m
#define EMPTY         (&google__protobuf__empty__descriptor)

static int failures;

/* One call that must fail with code and a message containing text. */
static void expect(const char *name, struct steep_rpc_client *client, const char *path,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *type,
                   const struct steep_rpc_metadata *metadata, size_t n_metadata, int code,
                   const char *text)
{
    struct steep_rpc_status status = {0};
    ProtobufCMessage *response = NULL;
    int rc =
        steep_rpc_call(client, path, request, type, &response, metadata, n_metadata, 5000, &status);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    bool ok = rc < 0 && status.code == code && strstr(status.message, text) != NULL;
    printf("%s  %s", ok ? "ok     " : "FAILED ", name);
    if (!ok)
        printf(" (got %s \"%s\", wanted %s \"%s\")",
               rc == 0 ? "OK" : steep_grpc_code_name(status.code), rc == 0 ? "" : status.message,
               steep_grpc_code_name(code), text);
    printf("\n");
    failures += !ok;
}

static void die(const char *what)
{
    fprintf(stderr, "rpc_checks: %s: %s\n", what, steep_error_get());
    exit(2);
}

int main(void)
{
    steep_log_init("rpc_checks");
    steep_log_set_level(STEEP_LOG_ERROR);
    char path[4096];
    snprintf(path, sizeof path, "%s/steep.toml", getenv("STEEP_DIR") ? getenv("STEEP_DIR") : ".");
    struct steep_config *config = NULL;
    if (steep_config_load(path, &config) < 0)
        die("config");
    struct steep_attested *execution =
        peer_open(config, "teaclave_execution_service", "steep-execution");
    struct steep_attested *management =
        peer_open(config, "teaclave_management_service", "steep-management");
    struct steep_attested *frontend =
        peer_open(config, "teaclave_frontend_service", "steep-frontend");
    if (!execution || !management || !frontend)
        die("attestation");
    struct steep_rpc_client *as_execution =
        peer_client(execution, config, STEEP_ENDPOINT_SCHEDULER, "teaclave_scheduler_service");
    struct steep_rpc_client *as_management =
        peer_client(management, config, STEEP_ENDPOINT_SCHEDULER, "teaclave_scheduler_service");
    struct steep_rpc_client *to_management =
        peer_client(frontend, config, STEEP_ENDPOINT_MANAGEMENT, "teaclave_management_service");
    if (!as_execution || !as_management || !to_management)
        die("clients");

    /* ---- scheduler, as an execution slot ---- */
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    expect("Subscribe is UNIMPLEMENTED", as_execution, SCHEDULER("Subscribe"), &empty.base,
           &teaclave_scheduler_service_proto__subscribe_response__descriptor, NULL, 0,
           STEEP_GRPC_UNIMPLEMENTED, "not implemented");
    TeaclaveSchedulerServiceProto__HeartbeatRequest beat =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__HEARTBEAT_REQUEST__INIT;
    beat.executor_id = "not-a-uuid";
    expect("Heartbeat with a bad executor id", as_execution, SCHEDULER("Heartbeat"), &beat.base,
           &teaclave_scheduler_service_proto__heartbeat_response__descriptor, NULL, 0,
           STEEP_GRPC_INTERNAL, "invalid executor id");
    TeaclaveSchedulerServiceProto__PullTaskRequest pull =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__PULL_TASK_REQUEST__INIT;
    pull.executor_id = "0b0b0b0b-0000-4000-8000-000000000000";
    {
        struct steep_rpc_status status = {0};
        ProtobufCMessage *response = NULL;
        int rc = steep_rpc_call(as_execution, SCHEDULER("PullTask"), &pull.base,
                                &teaclave_scheduler_service_proto__pull_task_response__descriptor,
                                &response, NULL, 0, 400, &status);
        bool ok = rc < 0 && status.code == STEEP_GRPC_UNKNOWN &&
                  strcmp(status.message, "task queue is empty") == 0;
        printf("%s  PullTask long poll ends empty at the deadline\n", ok ? "ok     " : "FAILED ");
        if (!ok)
            printf("    got %s \"%s\"\n", steep_grpc_code_name(status.code), status.message);
        failures += !ok;
        if (response)
            protobuf_c_message_free_unpacked(response, NULL);
    }
    TeaclaveSchedulerServiceProto__UpdateTaskResultRequest result =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__UPDATE_TASK_RESULT_REQUEST__INIT;
    result.task_id = "task-0c0c0c0c-0000-4000-8000-000000000000";
    expect("UpdateTaskResult without a result", as_execution, SCHEDULER("UpdateTaskResult"),
           &result.base, EMPTY, NULL, 0, STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");
    TeaclaveSchedulerServiceProto__UpdateTaskStatusRequest status_request =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__UPDATE_TASK_STATUS_REQUEST__INIT;
    status_request.task_id = "garbage";
    expect("UpdateTaskStatus with a malformed id", as_execution, SCHEDULER("UpdateTaskStatus"),
           &status_request.base, EMPTY, NULL, 0, STEEP_GRPC_INVALID_ARGUMENT, "");
    TeaclaveSchedulerServiceProto__PublishTaskRequest publish =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__PUBLISH_TASK_REQUEST__INIT;
    publish.staged_task = (ProtobufCBinaryData){8, (uint8_t *)"not json"};
    expect("PublishTask with garbage", as_execution, SCHEDULER("PublishTask"), &publish.base, EMPTY,
           NULL, 0, STEEP_GRPC_INVALID_ARGUMENT, "invalid staged task");
    SteepSchedulerProto__CancelTaskRequest cancel =
        STEEP_SCHEDULER_PROTO__CANCEL_TASK_REQUEST__INIT;
    cancel.task_id = "task-0c0c0c0c-0000-4000-8000-000000000000";
    expect("an execution slot may not send management's wake-ups", as_execution,
           "/steep_scheduler_proto.SteepScheduler/CancelTask", &cancel.base, EMPTY, NULL, 0,
           STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    expect("management may not pull tasks", as_management, SCHEDULER("PullTask"), &pull.base,
           &teaclave_scheduler_service_proto__pull_task_response__descriptor, NULL, 0,
           STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    SteepSchedulerProto__TaskStagedRequest staged =
        STEEP_SCHEDULER_PROTO__TASK_STAGED_REQUEST__INIT;
    staged.task_id = "not-a-task";
    expect("TaskStaged with a malformed id", as_management,
           "/steep_scheduler_proto.SteepScheduler/TaskStaged", &staged.base, EMPTY, NULL, 0,
           STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");

    /* ---- management, as the frontend ---- */
    TeaclaveFrontendServiceProto__GetTaskRequest get =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_TASK_REQUEST__INIT;
    get.task_id = "task-0c0c0c0c-0000-4000-8000-000000000000";
    expect("management: no id metadata", to_management, MANAGEMENT("GetTask"), &get.base,
           &teaclave_frontend_service_proto__get_task_response__descriptor, NULL, 0,
           STEEP_GRPC_UNKNOWN, "missing user id");
    struct steep_rpc_metadata id_only[] = {{"id", "alice"}};
    expect("management: no role metadata", to_management, MANAGEMENT("GetTask"), &get.base,
           &teaclave_frontend_service_proto__get_task_response__descriptor, id_only, 1,
           STEEP_GRPC_UNKNOWN, "missing user role");
    struct steep_rpc_metadata caller[] = {{"id", "alice"}, {"role", "DataOwner-a"}};
    expect("management: unknown task", to_management, MANAGEMENT("GetTask"), &get.base,
           &teaclave_frontend_service_proto__get_task_response__descriptor, caller, 2,
           STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");
    TeaclaveFrontendServiceProto__GetFunctionRequest function =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_FUNCTION_REQUEST__INIT;
    function.function_id = "input-0c0c0c0c-0000-4000-8000-000000000000";
    expect("management: wrong id prefix", to_management, MANAGEMENT("GetFunction"), &function.base,
           &teaclave_frontend_service_proto__get_function_response__descriptor, caller, 2,
           STEEP_GRPC_INVALID_ARGUMENT, "invalid function id");
    TeaclaveCommonProto__Entry entry = TEACLAVE_COMMON_PROTO__ENTRY__INIT, *entries[] = {&entry};
    entry.ip = (ProtobufCBinaryData){4, (uint8_t *)"\x7f\0\0\x01"};
    entry.user = "alice";
    entry.message = "x";
    TeaclaveManagementServiceProto__SaveLogsRequest logs =
        TEACLAVE_MANAGEMENT_SERVICE_PROTO__SAVE_LOGS_REQUEST__INIT;
    logs.logs = entries;
    logs.n_logs = 1;
    expect("management: SaveLogs with a 4-byte ip", to_management, MANAGEMENT("SaveLogs"),
           &logs.base, EMPTY, NULL, 0, STEEP_GRPC_UNKNOWN, "audit log error");

    steep_rpc_client_free(as_execution);
    steep_rpc_client_free(as_management);
    steep_rpc_client_free(to_management);
    steep_attested_free(execution);
    steep_attested_free(management);
    steep_attested_free(frontend);
    steep_config_free(config);
    return failures ? 1 : 0;
}
