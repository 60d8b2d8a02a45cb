/*
 * RPC glue of steep-management: one table from method name to request type
 * and handler; every call checks the caller metadata, runs the handler and
 * answers with its response or its status. SaveLogs and QueryAuditLogs go to
 * the audit log (audit.h). A call carrying its audit entry (audit_attach.h)
 * runs on a kv that writes the entry with the call's first write.
 */
#include "service.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_attach.h"
#include "core/error.h"
#include "core/log.h"
#include "core/quota.h"
#include "core/text.h"
#include "google/protobuf/empty.pb-c.h"

#define PATH           "/teaclave_management_service_proto.TeaclaveManagement/"
#define FRONTEND(type) &teaclave_frontend_service_proto__##type##__descriptor

struct method {
    const char *name;
    const ProtobufCMessageDescriptor *request_type;
    steep_management_handler_fn handler;
};

static const struct method methods[] = {
    {"RegisterInputFile", FRONTEND(register_input_file_request),
     steep_management_register_input_file},
    {"RegisterOutputFile", FRONTEND(register_output_file_request),
     steep_management_register_output_file},
    {"UpdateInputFile", FRONTEND(update_input_file_request), steep_management_update_input_file},
    {"UpdateOutputFile", FRONTEND(update_output_file_request), steep_management_update_output_file},
    {"RegisterFusionOutput", FRONTEND(register_fusion_output_request),
     steep_management_register_fusion_output},
    {"RegisterInputFromOutput", FRONTEND(register_input_from_output_request),
     steep_management_register_input_from_output},
    {"GetOutputFile", FRONTEND(get_output_file_request), steep_management_get_output_file},
    {"GetInputFile", FRONTEND(get_input_file_request), steep_management_get_input_file},
    {"RegisterFunction", FRONTEND(register_function_request), steep_management_register_function},
    {"UpdateFunction", FRONTEND(update_function_request), steep_management_update_function},
    {"GetFunction", FRONTEND(get_function_request), steep_management_get_function},
    {"GetFunctionUsageStats", FRONTEND(get_function_usage_stats_request),
     steep_management_get_function_usage_stats},
    {"DeleteFunction", FRONTEND(delete_function_request), steep_management_delete_function},
    {"DisableFunction", FRONTEND(disable_function_request), steep_management_disable_function},
    {"ListFunctions", FRONTEND(list_functions_request), steep_management_list_functions},
    {"CreateTask", FRONTEND(create_task_request), steep_management_create_task},
    {"GetTask", FRONTEND(get_task_request), steep_management_get_task},
    {"AssignData", FRONTEND(assign_data_request), steep_management_assign_data},
    {"ApproveTask", FRONTEND(approve_task_request), steep_management_approve_task},
    {"InvokeTask", FRONTEND(invoke_task_request), steep_management_invoke_task},
    {"CancelTask", FRONTEND(cancel_task_request), steep_management_cancel_task},
};

/* The handler argument of each registered method. */
struct binding {
    struct steep_management_service *service;
    const struct method *method;
};

/* Caller metadata: Teaclave answers UNKNOWN "missing user id" / "missing user role". */
static bool call_cancelled(const void *call)
{
    return steep_rpc_call_cancelled(call);
}

static int caller_of(struct steep_rpc_call *call, struct steep_management_caller *caller)
{
    caller->id = steep_rpc_call_metadata(call, "id");
    caller->role = steep_rpc_call_metadata(call, "role");
    if (!caller->id || !caller->id[0])
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "missing user id");
    if (!caller->role || !caller->role[0])
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "missing user role");
    caller->wait_ms = 0;
    const char *wait = steep_rpc_call_metadata(call, "steep-wait-ms");
    if (wait) {
        uint64_t value = 0;
        if (steep_parse_u64(wait, strlen(wait), INT32_MAX, &value) == 0 && value > 0)
            caller->wait_ms =
                value > STEEP_MANAGEMENT_WAIT_MAX_MS ? STEEP_MANAGEMENT_WAIT_MAX_MS : (int)value;
    }
    caller->remaining_ms = steep_rpc_call_remaining_ms(call);
    caller->cancelled = call_cancelled;
    caller->call = call;
    return 0;
}

static void handle(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    const struct binding *binding = arg;
    const struct method *method = binding->method;
    struct steep_management_service *service = binding->service;
    struct steep_management_caller caller;
    ProtobufCMessage *response = NULL;
    struct steep_management *m = service->management, audited_m;
    struct steep_audit_attach attach;
    bool attached =
        steep_audit_attach_begin(&attach, service->audit, &m->kv,
                                 steep_rpc_call_metadata(call, STEEP_AUDIT_ATTACH_METADATA)) == 0;
    if (attached) {
        audited_m = *m;
        audited_m.kv = attach.kv;
        m = &audited_m;
    }
    int code = caller_of(call, &caller);
    if (code == 0)
        code = method->handler(m, &caller, request, &response);
    if (code == 0 && attached && attach.written)
        steep_rpc_call_add_metadata(call, STEEP_AUDIT_ATTACHED_METADATA, "1");
    if (code != 0)
        steep_rpc_fail(call, code, "%s", steep_error_get());
    else
        steep_rpc_reply(call, response);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    if (attached) {
        steep_audit_attach_end(&attach);
        OPENSSL_cleanse(&audited_m, sizeof audited_m); /* a copy of the user secret */
    }
}

/* ---- GetTask: a wait holds the call, not a worker (management.h) ---- */

/* Held GetTasks per user (the frontend bounds them too; this bounds any
 * caller of management). Entries exist only while held. */
static struct steep_quota waits = {.lock = PTHREAD_MUTEX_INITIALIZER,
                                   .max_total = STEEP_MANAGEMENT_MAX_WAITS,
                                   .max_per_name = STEEP_MANAGEMENT_MAX_WAITS_PER_USER};

static void answer(struct steep_rpc_call *call, int code, ProtobufCMessage *response)
{
    if (code != 0)
        steep_rpc_fail(call, code, "%s", steep_error_get());
    else
        steep_rpc_reply(call, response);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
}

static void wake_call(void *call)
{
    steep_rpc_call_wake(call);
}

static void get_task_step(struct steep_rpc_call *call, void *arg)
{
    ProtobufCMessage *response = NULL;
    int hold_ms = 0;
    int code = steep_management_wait_step(arg, &response, &hold_ms);
    if (code == 0 && !response) {
        steep_rpc_call_hold_until(call, hold_ms, get_task_step, arg);
        return;
    }
    steep_quota_release(&waits, steep_rpc_call_metadata(call, "id"));
    answer(call, code, response);
}

static void get_task(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    struct steep_management_service *service = arg;
    struct steep_management_caller caller;
    ProtobufCMessage *response = NULL;
    struct steep_management_wait *held = NULL;
    int hold_ms = 0;
    int code = caller_of(call, &caller);
    bool counted = code == 0 && caller.wait_ms > 0;
    if (counted && !steep_quota_acquire(&waits, caller.id)) {
        log_warn("management: a held GetTask of a user refused: %d held (at most %d per user, "
                 "%d in all)",
                 steep_quota_count(&waits, caller.id), STEEP_MANAGEMENT_MAX_WAITS_PER_USER,
                 STEEP_MANAGEMENT_MAX_WAITS);
        steep_rpc_fail(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "too many held calls");
        return;
    }
    if (code == 0)
        code = steep_management_get_task_begin(service->management, &caller, request, &response,
                                               &held, &hold_ms, wake_call);
    if (held) {
        steep_rpc_call_hold_until(call, hold_ms, get_task_step, held);
        return;
    }
    if (counted)
        steep_quota_release(&waits, caller.id);
    answer(call, code, response);
}

static void save_logs(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    struct steep_management_service *service = arg;
    int code = steep_audit_save_logs(service->audit, (const void *)request);
    if (code != 0) {
        steep_rpc_fail(call, code, "%s", steep_error_get());
        return;
    }
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    steep_rpc_reply(call, &empty.base);
}

static void query_audit_logs(struct steep_rpc_call *call, const ProtobufCMessage *request,
                             void *arg)
{
    struct steep_management_service *service = arg;
    struct steep_management_caller caller;
    TeaclaveFrontendServiceProto__QueryAuditLogsResponse *response = NULL;
    int code = caller_of(call, &caller);
    if (code == 0)
        code =
            steep_audit_query_logs(service->audit, caller.role, (const void *)request, &response);
    if (code != 0)
        steep_rpc_fail(call, code, "%s", steep_error_get());
    else
        steep_rpc_reply(call, &response->base);
    if (response)
        protobuf_c_message_free_unpacked(&response->base, NULL);
}

int steep_management_register(struct steep_rpc_server *server,
                              struct steep_management_service *service)
{
    enum { N = sizeof methods / sizeof *methods };
    static struct binding bindings[N];
    char path[128];
    for (size_t i = 0; i < N; i++) {
        bindings[i].service = service;
        bindings[i].method = &methods[i];
        snprintf(path, sizeof path, PATH "%s", methods[i].name);
        if (methods[i].handler == steep_management_get_task)
            GUARD(steep_rpc_server_add(server, path, methods[i].request_type, get_task, service));
        else
            GUARD(
                steep_rpc_server_add(server, path, methods[i].request_type, handle, &bindings[i]));
    }
    GUARD(steep_rpc_server_add(server, PATH "SaveLogs",
                               &teaclave_management_service_proto__save_logs_request__descriptor,
                               save_logs, service));
    GUARD(steep_rpc_server_add(server, PATH "QueryAuditLogs", FRONTEND(query_audit_logs_request),
                               query_audit_logs, service));
    return 0;
}
