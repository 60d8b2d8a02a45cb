/*
 * The 22 frontend APIs by the snake_case names Teaclave's access control
 * uses (teaclave-api.md §4.1, §8.1), written out independently of the code
 * under test so the policy and service tests check against the spec.
 */
#ifndef STEEP_TESTS_LIB_TEACLAVE_APIS_H
#define STEEP_TESTS_LIB_TEACLAVE_APIS_H

#define TEACLAVE_API_COUNT 22

static const char *const teaclave_apis[TEACLAVE_API_COUNT] = {
    "register_input_file",
    "register_output_file",
    "update_input_file",
    "update_output_file",
    "register_fusion_output",
    "register_input_from_output",
    "get_output_file",
    "get_input_file",
    "register_function",
    "get_function",
    "get_function_usage_stats",
    "update_function",
    "list_functions",
    "delete_function",
    "disable_function",
    "create_task",
    "get_task",
    "assign_data",
    "approve_task",
    "invoke_task",
    "cancel_task",
    "query_audit_logs",
};

#endif
