/* Two parties intersect their hashed lists; each reads only its own membership bits. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void)
{
    struct steep_error err;
    steep_client *user0 = connect_as("c_psi_user0", "password0", "DataOwner", "psi0");
    steep_client *user1 = connect_as("c_psi_user1", "password1", "DataOwner", "psi1");
    steep_client *admin = connect_as("admin", env_or("ADMIN_PASSWORD", "teaclave"), NULL, NULL);

    struct steep_function_argument arg = {"order", "", true};
    struct steep_function_io inputs[2] = {{"input_data1", "", false}, {"input_data2", "", false}};
    struct steep_function_io outputs[2] = {{"output_result1", "", false},
                                           {"output_result2", "", false}};
    struct steep_function_spec spec = {.name = "builtin-ordered-set-intersect",
                                       .executor_type = "builtin",
                                       .public_function = true,
                                       .arguments = &arg,
                                       .n_arguments = 1,
                                       .inputs = inputs,
                                       .n_inputs = 2,
                                       .outputs = outputs,
                                       .n_outputs = 2,
                                       .usage_quota = -1};
    char *function_id, *task_id;
    check(steep_register_function(admin, &spec, &function_id, &err), "register function", &err);
    const char *owner0[] = {"c_psi_user0"}, *owner1[] = {"c_psi_user1"};
    struct steep_ownership in[2] = {{"input_data1", owner0, 1}, {"input_data2", owner1, 1}};
    struct steep_ownership out[2] = {{"output_result1", owner0, 1}, {"output_result2", owner1, 1}};
    struct steep_task_spec task = {
        function_id, "{\"order\": \"ascending\"}", "builtin", in, 2, out, 2};
    check(steep_create_task(user0, &task, &task_id, &err), "create task", &err);

    steep_client *users[2] = {user0, user1};
    char out_rel[2][256];
    uint8_t out_keys[2][16];
    long long run = (long long)time(NULL);
    for (int i = 0; i < 2; i++) {
        char in_name[16];
        snprintf(in_name, sizeof(in_name), "psi%d", i);
        random_key(out_keys[i]);
        snprintf(out_rel[i], sizeof(out_rel[i]), "outputs/c_psi_%lld_output%d.enc", run, i);
        char *input_id = example_input(users[i], in_name),
             *output_id = tf128_output(users[i], out_rel[i], out_keys[i]);
        struct steep_data_map input = {inputs[i].name, input_id},
                              output = {outputs[i].name, output_id};
        check(steep_assign_data(users[i], task_id, &input, 1, &output, 1, &err), "assign", &err);
        free(input_id);
        free(output_id);
    }
    /* Approval needs every piece of data assigned first. */
    for (int i = 0; i < 2; i++)
        check(steep_approve_task(users[i], task_id, &err), "approve", &err);
    check(steep_invoke_task(user0, task_id, &err), "invoke", &err);
    struct steep_task *result;
    check(steep_wait_task(user1, task_id, 120000, &result, &err), "wait", &err);
    char *common = example_text("psi.common"), summary[64];
    snprintf(summary, sizeof(summary), "%s common items", common);
    free(common);
    int ok =
        result->status == STEEP_TASK_FINISHED && !strcmp((char *)result->return_value, summary);
    printf("[+] both users see: %s\n",
           result->has_result ? (char *)result->return_value : result->failure_reason);
    for (int i = 0; ok && i < 2; i++) {
        char *bits = tf128_decrypt_text(out_rel[i], out_keys[i]), name[32];
        snprintf(name, sizeof(name), "psi%d.expected", i);
        char *expected = example_text(name);
        printf("[+] c_psi_user%d's membership bits: %s\n", i, bits);
        ok = !strcmp(bits, expected);
        free(bits);
        free(expected);
    }
    steep_task_free(result);
    free(function_id);
    free(task_id);
    steep_client_free(user0);
    steep_client_free(user1);
    steep_client_free(admin);
    return ok ? 0 : 1;
}
