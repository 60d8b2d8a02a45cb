/* Is user0's password among user1's leaked passwords? Neither sees the other's data. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    struct steep_error err;
    steep_client *user0 = connect_as("c_pwc_user0", "password0", "DataOwner", "pwc0");
    steep_client *user1 = connect_as("c_pwc_user1", "password1", "DataOwner", "pwc1");
    steep_client *admin = connect_as("admin", env_or("ADMIN_PASSWORD", "teaclave"), NULL, NULL);

    struct steep_function_io inputs[2] = {{"password", "", false},
                                          {"exposed_passwords", "", false}};
    struct steep_function_spec spec = {.name = "builtin-password-check",
                                       .executor_type = "builtin",
                                       .public_function = true,
                                       .inputs = inputs,
                                       .n_inputs = 2,
                                       .usage_quota = -1};
    char *function_id, *task_id;
    check(steep_register_function(admin, &spec, &function_id, &err), "register function", &err);
    const char *owner0[] = {"c_pwc_user0"}, *owner1[] = {"c_pwc_user1"};
    struct steep_ownership in[2] = {{"password", owner0, 1}, {"exposed_passwords", owner1, 1}};
    struct steep_task_spec task = {function_id, NULL, "builtin", in, 2, NULL, 0};
    check(steep_create_task(user0, &task, &task_id, &err), "create task", &err);

    /* The password travels inline: an aes-gcm-128 data: URL under its own
     * key and iv (made by examples/inputs.sh). */
    uint8_t key[16], iv[12], cmac[16];
    char *text = example_text("password.key");
    hex_bytes(text, key, sizeof key);
    free(text);
    text = example_text("password.iv");
    hex_bytes(text, iv, sizeof iv);
    free(text);
    text = example_text("password.cmac");
    hex_bytes(text, cmac, sizeof cmac);
    free(text);
    char *url = example_text("password.url");
    struct steep_crypto_info gcm = {"aes-gcm-128", key, 16, iv, 12};
    char *password_id, *exposed_id;
    check(steep_register_input_file(user0, url, cmac, &gcm, &password_id, &err),
          "register password", &err);
    free(url);
    exposed_id = example_input(user1, "exposed_passwords");
    struct steep_data_map m0 = {"password", password_id}, m1 = {"exposed_passwords", exposed_id};
    check(steep_assign_data(user0, task_id, &m0, 1, NULL, 0, &err), "assign", &err);
    check(steep_assign_data(user1, task_id, &m1, 1, NULL, 0, &err), "assign", &err);
    check(steep_approve_task(user0, task_id, &err), "approve", &err);
    check(steep_approve_task(user1, task_id, &err), "approve", &err);
    check(steep_invoke_task(user0, task_id, &err), "invoke", &err);
    struct steep_task *result;
    check(steep_wait_task(user1, task_id, 120000, &result, &err), "wait", &err);
    int ok = result->status == STEEP_TASK_FINISHED && !strcmp((char *)result->return_value, "true");
    printf("[+] password exposed: %s\n",
           result->has_result ? (char *)result->return_value : result->failure_reason);
    steep_task_free(result);
    free(function_id);
    free(task_id);
    free(password_id);
    free(exposed_id);
    steep_client_free(user0);
    steep_client_free(user1);
    steep_client_free(admin);
    return ok ? 0 : 1;
}
