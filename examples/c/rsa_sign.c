/* user2 gets "test data" signed with user1's RSA key, which never leaves the TEE. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    struct steep_error err;
    steep_client *user1 = connect_as("c_rsa_user1", "password1", "DataOwner", "rsa1");
    steep_client *user2 = connect_as("c_rsa_user2", "password2", "DataOwner", "rsa2");
    steep_client *admin = connect_as("admin", env_or("ADMIN_PASSWORD", "teaclave"), NULL, NULL);

    struct steep_function_argument arg = {"data", "", true};
    struct steep_function_io input = {"rsa_key", "", false};
    struct steep_function_spec spec = {.name = "builtin-rsa-sign",
                                       .executor_type = "builtin",
                                       .public_function = true,
                                       .arguments = &arg,
                                       .n_arguments = 1,
                                       .inputs = &input,
                                       .n_inputs = 1,
                                       .usage_quota = -1};
    char *function_id, *task_id;
    check(steep_register_function(admin, &spec, &function_id, &err), "register function", &err);
    const char *owner1[] = {"c_rsa_user1"};
    struct steep_ownership in = {"rsa_key", owner1, 1};
    struct steep_task_spec task = {
        function_id, "{\"data\": \"test data\"}", "builtin", &in, 1, NULL, 0};
    check(steep_create_task(user2, &task, &task_id, &err), "create task", &err);
    char *key_id = example_input(user1, "rsakey");
    struct steep_data_map map = {"rsa_key", key_id};
    check(steep_assign_data(user1, task_id, &map, 1, NULL, 0, &err), "assign", &err);
    check(steep_approve_task(user1, task_id, &err), "approve", &err);
    check(steep_approve_task(user2, task_id, &err), "approve", &err);
    check(steep_invoke_task(user2, task_id, &err), "invoke", &err);
    struct steep_task *result;
    check(steep_wait_task(user2, task_id, 120000, &result, &err), "wait", &err);
    /* openssl signed the same data with the same key (PKCS#1 v1.5 is deterministic). */
    char *expected = example_text("rsakey.expected");
    int ok =
        result->status == STEEP_TASK_FINISHED && !strcmp((char *)result->return_value, expected);
    printf("[+] signature: %s\n",
           result->has_result ? (char *)result->return_value : result->failure_reason);
    free(expected);
    steep_task_free(result);
    free(function_id);
    free(task_id);
    free(key_id);
    steep_client_free(user1);
    steep_client_free(user2);
    steep_client_free(admin);
    return ok ? 0 : 1;
}
