/* builtin-echo on libsteep: register, create, invoke, wait, print. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *message = argc > 1 ? argv[1] : "Hello, Teaclave!";
    struct steep_error err;
    steep_client *admin = connect_as("admin", env_or("ADMIN_PASSWORD", "teaclave"), NULL, NULL);

    struct steep_function_argument arg = {"message", "", true};
    struct steep_function_spec spec = {
        .name = "builtin-echo",
        .description = "Native Echo Function",
        .executor_type = "builtin",
        .arguments = &arg,
        .n_arguments = 1,
        .usage_quota = -1,
    };
    char *function_id, *task_id, arguments[512];
    check(steep_register_function(admin, &spec, &function_id, &err), "register function", &err);
    snprintf(arguments, sizeof(arguments), "{\"message\": \"%s\"}", message);
    struct steep_task_spec task = {
        .function_id = function_id, .arguments_json = arguments, .executor = "builtin"};
    check(steep_create_task(admin, &task, &task_id, &err), "create task", &err);
    check(steep_invoke_task(admin, task_id, &err), "invoke task", &err);
    struct steep_task *result;
    check(steep_wait_task(admin, task_id, 120000, &result, &err), "wait for the task", &err);
    printf("[+] Task result in string: %s\n",
           result->has_result ? (char *)result->return_value : result->failure_reason);
    int ok =
        result->status == STEEP_TASK_FINISHED && !strcmp((char *)result->return_value, message);
    steep_task_free(result);
    free(function_id);
    free(task_id);
    steep_client_free(admin);
    return ok ? 0 : 1;
}
