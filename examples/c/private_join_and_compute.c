/*
 * Three banks (user0..user2) learn the customers they share and the summed
 * amounts; user3 creates and invokes the task. Every participant approves.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether two texts hold the same lines in any order. */
static int same_lines(const char *a, const char *b)
{
    char *copies[2] = {strdup(a), strdup(b)};
    char *lines[2][4096];
    size_t n[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        for (char *save, *line = strtok_r(copies[k], "\n", &save); line && n[k] < 4096;
             line = strtok_r(NULL, "\n", &save))
            lines[k][n[k]++] = line;
    int same = n[0] == n[1] && n[0] > 0;
    for (int k = 0; k < 2; k++)
        qsort(lines[k], n[k], sizeof(char *), compare_lines);
    for (size_t i = 0; same && i < n[0]; i++)
        same = strcmp(lines[0][i], lines[1][i]) == 0;
    free(copies[0]);
    free(copies[1]);
    return same;
}

int main(void)
{
    struct steep_error err;
    steep_client *users[4];
    char name[32], password[32], attribute[32];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "c_pjc_user%d", i);
        snprintf(password, sizeof(password), "password%d", i);
        snprintf(attribute, sizeof(attribute), "bank%d", i);
        users[i] = connect_as(name, password, "DataOwner", attribute);
    }
    steep_client *admin = connect_as("admin", env_or("ADMIN_PASSWORD", "teaclave"), NULL, NULL);

    struct steep_function_argument arg = {"num_user", "", true};
    struct steep_function_io inputs[3] = {
        {"input_data0", "", false}, {"input_data1", "", false}, {"input_data2", "", false}};
    struct steep_function_io outputs[3] = {
        {"output_data0", "", false}, {"output_data1", "", false}, {"output_data2", "", false}};
    struct steep_function_spec spec = {
        .name = "builtin-private-join-and-compute",
        .executor_type = "builtin",
        .public_function = true,
        .arguments = &arg,
        .n_arguments = 1,
        .inputs = inputs,
        .n_inputs = 3,
        .outputs = outputs,
        .n_outputs = 3,
        .usage_quota = -1,
    };
    char *function_id, *task_id;
    check(steep_register_function(admin, &spec, &function_id, &err), "register function", &err);

    const char *owners[3][1] = {{"c_pjc_user0"}, {"c_pjc_user1"}, {"c_pjc_user2"}};
    struct steep_ownership in[3], out[3];
    for (int i = 0; i < 3; i++) {
        in[i] = (struct steep_ownership){inputs[i].name, owners[i], 1};
        out[i] = (struct steep_ownership){outputs[i].name, owners[i], 1};
    }
    struct steep_task_spec task = {function_id, "{\"num_user\": 3}", "builtin", in, 3, out, 3};
    check(steep_create_task(users[3], &task, &task_id, &err), "create task", &err);

    char outputs_rel[3][256];
    uint8_t out_keys[3][16]; /* each bank's own key for its result */
    long long run = (long long)time(NULL);
    for (int i = 0; i < 3; i++) {
        char bank[16];
        snprintf(bank, sizeof(bank), "bank%d", i);
        random_key(out_keys[i]);
        snprintf(outputs_rel[i], sizeof(outputs_rel[i]), "outputs/c_pjc_%lld_user%d.enc", run, i);
        char *input_id = example_input(users[i], bank),
             *output_id = tf128_output(users[i], outputs_rel[i], out_keys[i]);
        struct steep_data_map input = {inputs[i].name, input_id},
                              output = {outputs[i].name, output_id};
        check(steep_assign_data(users[i], task_id, &input, 1, &output, 1, &err), "assign", &err);
        free(input_id);
        free(output_id);
    }
    for (int i = 0; i < 4; i++)
        check(steep_approve_task(users[i], task_id, &err), "approve", &err);
    check(steep_invoke_task(users[3], task_id, &err), "invoke", &err);
    struct steep_task *result;
    check(steep_wait_task(users[3], task_id, 120000, &result, &err), "wait", &err);
    int ok = result->status == STEEP_TASK_FINISHED;
    printf("[+] function returned: %s\n",
           ok ? (char *)result->return_value : result->failure_reason);
    /* The answer awk computed from the plaintexts, one "customer, sum" a
     * line in sorted order; the function writes input_data0's order. */
    char path[4096];
    snprintf(path, sizeof(path), "%s/bank.expected", env_or("EXAMPLE_DIR", "."));
    char *expected = read_text(path);
    for (int i = 0; ok && i < 3; i++) {
        char *text = tf128_decrypt_text(outputs_rel[i], out_keys[i]);
        printf("[+] c_pjc_user%d's result:\n%s", i, text);
        ok = same_lines(text, expected);
        free(text);
    }
    free(expected);
    steep_task_free(result);
    free(function_id);
    free(task_id);
    for (int i = 0; i < 4; i++)
        steep_client_free(users[i]);
    steep_client_free(admin);
    return ok ? 0 : 1;
}
