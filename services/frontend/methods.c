/*
 * The TeaclaveFrontend method table (teaclave_frontend_service.proto, in
 * proto order). Methods answering google.protobuf.Empty are DeleteFunction,
 * DisableFunction, AssignData, ApproveTask, InvokeTask and CancelTask.
 */
#include "methods.h"

#include "google/protobuf/empty.pb-c.h"
#include "teaclave_frontend_service.pb-c.h"

#define METHOD(name, api, request, response)                                                       \
    {                                                                                              \
        name, api, &teaclave_frontend_service_proto__##request##__descriptor, response             \
    }
#define FRONTEND(type) &teaclave_frontend_service_proto__##type##__descriptor
#define EMPTY          &google__protobuf__empty__descriptor

const struct steep_frontend_method steep_frontend_methods[] = {
    METHOD("RegisterInputFile", "register_input_file", register_input_file_request,
           FRONTEND(register_input_file_response)),
    METHOD("RegisterOutputFile", "register_output_file", register_output_file_request,
           FRONTEND(register_output_file_response)),
    METHOD("UpdateInputFile", "update_input_file", update_input_file_request,
           FRONTEND(update_input_file_response)),
    METHOD("UpdateOutputFile", "update_output_file", update_output_file_request,
           FRONTEND(update_output_file_response)),
    METHOD("RegisterFusionOutput", "register_fusion_output", register_fusion_output_request,
           FRONTEND(register_fusion_output_response)),
    METHOD("RegisterInputFromOutput", "register_input_from_output",
           register_input_from_output_request, FRONTEND(register_input_from_output_response)),
    METHOD("GetOutputFile", "get_output_file", get_output_file_request,
           FRONTEND(get_output_file_response)),
    METHOD("GetInputFile", "get_input_file", get_input_file_request,
           FRONTEND(get_input_file_response)),
    METHOD("RegisterFunction", "register_function", register_function_request,
           FRONTEND(register_function_response)),
    METHOD("GetFunction", "get_function", get_function_request, FRONTEND(get_function_response)),
    METHOD("GetFunctionUsageStats", "get_function_usage_stats", get_function_usage_stats_request,
           FRONTEND(get_function_usage_stats_response)),
    METHOD("UpdateFunction", "update_function", update_function_request,
           FRONTEND(update_function_response)),
    METHOD("ListFunctions", "list_functions", list_functions_request,
           FRONTEND(list_functions_response)),
    METHOD("DeleteFunction", "delete_function", delete_function_request, EMPTY),
    METHOD("DisableFunction", "disable_function", disable_function_request, EMPTY),
    METHOD("CreateTask", "create_task", create_task_request, FRONTEND(create_task_response)),
    METHOD("GetTask", "get_task", get_task_request, FRONTEND(get_task_response)),
    METHOD("AssignData", "assign_data", assign_data_request, EMPTY),
    METHOD("ApproveTask", "approve_task", approve_task_request, EMPTY),
    METHOD("InvokeTask", "invoke_task", invoke_task_request, EMPTY),
    METHOD("CancelTask", "cancel_task", cancel_task_request, EMPTY),
    METHOD("QueryAuditLogs", "query_audit_logs", query_audit_logs_request,
           FRONTEND(query_audit_logs_response)),
};

const size_t steep_frontend_method_count =
    sizeof steep_frontend_methods / sizeof steep_frontend_methods[0];
