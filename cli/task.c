/* `steep task …`: create, get, assign, approve, invoke, cancel, result. */
#include "cli.h"
#include "connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 64

static void usage(void)
{
    printf("usage: steep task COMMAND [OPTIONS]\n"
           "  create --function ID [--executor builtin] [--args JSON]\n"
           "         [--input NAME=OWNER[,OWNER...]] [--output NAME=OWNER[,OWNER...]]\n"
           "  assign TASK [--input NAME=DATA_ID] [--output NAME=DATA_ID]\n"
           "  approve TASK | invoke TASK | cancel TASK\n"
           "  get TASK                       the whole task\n"
           "  result TASK [--wait SECONDS]   the result; with --wait, until the task ends\n"
           "Exit status of result: 0 finished, 1 failed or canceled (reason on stderr),\n"
           "4 not finished yet.\n");
}

/* NAME=A,B,C → one ownership entry; strings live in `text`. */
struct ownership_storage {
    struct steep_ownership items[MAX_ITEMS];
    const char *owners[MAX_ITEMS][MAX_ITEMS];
    char *text[MAX_ITEMS];
    size_t count;
};

static int parse_ownership(const struct cli_args *args, const char *option,
                           struct ownership_storage *st)
{
    for (size_t i = 0; i < cli_arg_count(args, option); i++) {
        if (st->count == MAX_ITEMS)
            return -1;
        char *text = strdup(cli_arg_nth(args, option, i));
        if (!text)
            return -1;
        st->text[st->count] = text;
        char *eq = strchr(text, '=');
        if (!eq || eq == text || !eq[1]) {
            cli_error("--%s %s: expected NAME=OWNER[,OWNER...]", option, text);
            return -1;
        }
        *eq = '\0';
        size_t n = 0;
        for (char *save = NULL, *tok = strtok_r(eq + 1, ",", &save); tok && n < MAX_ITEMS;
             tok = strtok_r(NULL, ",", &save))
            st->owners[st->count][n++] = tok;
        st->items[st->count] = (struct steep_ownership){text, st->owners[st->count], n};
        st->count++;
    }
    return 0;
}

static void ownership_free(struct ownership_storage *st)
{
    for (size_t i = 0; i < st->count; i++)
        free(st->text[i]);
}

static int parse_maps(const struct cli_args *args, const char *option, struct steep_data_map *out,
                      size_t *n, char **text)
{
    for (size_t i = 0; i < cli_arg_count(args, option) && *n < MAX_ITEMS; i++) {
        char *t = strdup(cli_arg_nth(args, option, i));
        if (!t)
            return -1;
        text[*n] = t;
        char *eq = strchr(t, '=');
        if (!eq || eq == t || !eq[1]) {
            cli_error("--%s %s: expected NAME=DATA_ID", option, t);
            (*n)++;
            return -1;
        }
        *eq = '\0';
        out[(*n)++] = (struct steep_data_map){t, eq + 1};
    }
    return 0;
}

static void print_strings(const char *label, const struct steep_string_list *l)
{
    printf("  %-16s", label);
    for (size_t i = 0; i < l->count; i++)
        printf(" %s", l->items[i]);
    printf("\n");
}

static void print_task_json(const struct steep_task *t)
{
    printf("{\"task_id\":");
    cli_print_json_string(t->task_id);
    printf(",\"creator\":");
    cli_print_json_string(t->creator);
    printf(",\"function_id\":");
    cli_print_json_string(t->function_id);
    printf(",\"function_owner\":");
    cli_print_json_string(t->function_owner);
    printf(",\"function_arguments\":");
    cli_print_json_string(t->function_arguments);
    printf(",\"status\":\"%s\",\"participants\":[", steep_task_status_name(t->status));
    for (size_t i = 0; i < t->participants.count; i++) {
        printf(i ? "," : "");
        cli_print_json_string(t->participants.items[i]);
    }
    printf("],\"approved_users\":[");
    for (size_t i = 0; i < t->approved_users.count; i++) {
        printf(i ? "," : "");
        cli_print_json_string(t->approved_users.items[i]);
    }
    printf("],\"assigned_inputs\":{");
    for (size_t i = 0; i < t->n_assigned_inputs; i++) {
        printf(i ? "," : "");
        cli_print_json_string(t->assigned_inputs[i].data_name);
        printf(":");
        cli_print_json_string(t->assigned_inputs[i].data_id);
    }
    printf("},\"assigned_outputs\":{");
    for (size_t i = 0; i < t->n_assigned_outputs; i++) {
        printf(i ? "," : "");
        cli_print_json_string(t->assigned_outputs[i].data_name);
        printf(":");
        cli_print_json_string(t->assigned_outputs[i].data_id);
    }
    printf("}");
    if (t->has_result) {
        printf(",\"result\":{\"return_value\":");
        cli_print_json_string((const char *)t->return_value);
        printf(",\"tags\":{");
        for (size_t i = 0; i < t->n_tags; i++) {
            printf(i ? "," : "");
            cli_print_json_string(t->tags[i].output_name);
            printf(":\"");
            cli_print_hex(t->tags[i].cmac, 16);
            printf("\"");
        }
        printf("},\"log\":[");
        for (size_t i = 0; i < t->log.count; i++) {
            printf(i ? "," : "");
            cli_print_json_string(t->log.items[i]);
        }
        printf("]}");
    }
    if (t->failure_reason) {
        printf(",\"failure_reason\":");
        cli_print_json_string(t->failure_reason);
    }
    printf("}\n");
}

static void print_task(const struct steep_task *t)
{
    printf("task %s\n  status           %s\n  creator          %s\n  function         %s "
           "(owner %s)\n  arguments        %s\n",
           t->task_id, steep_task_status_name(t->status), t->creator, t->function_id,
           t->function_owner, t->function_arguments);
    print_strings("participants", &t->participants);
    print_strings("approved by", &t->approved_users);
    for (size_t i = 0; i < t->n_inputs_ownership; i++)
        print_strings(t->inputs_ownership[i].data_name, &t->inputs_ownership[i].owners);
    for (size_t i = 0; i < t->n_outputs_ownership; i++)
        print_strings(t->outputs_ownership[i].data_name, &t->outputs_ownership[i].owners);
    for (size_t i = 0; i < t->n_assigned_inputs; i++)
        printf("  input  %-9s %s\n", t->assigned_inputs[i].data_name,
               t->assigned_inputs[i].data_id);
    for (size_t i = 0; i < t->n_assigned_outputs; i++)
        printf("  output %-9s %s\n", t->assigned_outputs[i].data_name,
               t->assigned_outputs[i].data_id);
    if (t->has_result)
        printf("  return value     %s\n", (const char *)t->return_value);
    if (t->failure_reason)
        printf("  failure reason   %s\n", t->failure_reason);
}

/* `task result`: the return value on stdout; exit status tells the outcome. */
static int print_result(const struct cli_session *s, const struct steep_task *t)
{
    if (s->json) {
        print_task_json(t);
    } else if (t->has_result) {
        printf("%s\n", (const char *)t->return_value);
        for (size_t i = 0; i < t->n_tags; i++) {
            fprintf(stderr, "output %s cmac ", t->tags[i].output_name);
            for (size_t j = 0; j < 16; j++)
                fprintf(stderr, "%02x", t->tags[i].cmac[j]);
            fputc('\n', stderr);
        }
        for (size_t i = 0; i < t->log.count; i++)
            fprintf(stderr, "log: %s\n", t->log.items[i]);
    }
    if (t->status == STEEP_TASK_FINISHED)
        return CLI_OK;
    if (steep_task_status_terminal(t->status)) {
        if (!s->json)
            cli_error("task %s %s: %s", t->task_id, steep_task_status_name(t->status),
                      t->failure_reason ? t->failure_reason : "(no reason given)");
        return CLI_FAILED;
    }
    if (!s->json)
        cli_error("task %s is %s: no result yet", t->task_id, steep_task_status_name(t->status));
    return 4;
}

static int run(struct cli_session *s, const char *command, const struct cli_args *args)
{
    struct steep_error err;
    if (!strcmp(command, "create")) {
        struct ownership_storage in = {0}, out = {0};
        const char *function = cli_arg(args, "function");
        const char *executor = cli_arg(args, "executor");
        int rc = CLI_OK;
        char *id = NULL;
        if (!function) {
            cli_error("task create: --function ID is required");
            rc = CLI_USAGE;
        } else if (parse_ownership(args, "input", &in) < 0 ||
                   parse_ownership(args, "output", &out) < 0)
            rc = CLI_USAGE;
        else {
            struct steep_task_spec spec = {function,
                                           cli_arg(args, "args"),
                                           executor ? executor : "builtin",
                                           in.items,
                                           in.count,
                                           out.items,
                                           out.count};
            if (steep_create_task(s->client, &spec, &id, &err) < 0)
                rc = cli_report("create task", &err);
            else if (s->json)
                printf("{\"task_id\":\"%s\"}\n", id);
            else
                printf("%s\n", id);
        }
        free(id);
        ownership_free(&in);
        ownership_free(&out);
        return rc;
    }
    if (args->n_positional != 1) {
        cli_error("task %s: needs exactly one TASK id", command);
        return CLI_USAGE;
    }
    const char *task_id = args->positional[0];
    if (!strcmp(command, "assign")) {
        struct steep_data_map in[MAX_ITEMS], out[MAX_ITEMS];
        char *text[2 * MAX_ITEMS] = {0};
        size_t n_in = 0, n_out = 0;
        int rc = CLI_OK;
        if (parse_maps(args, "input", in, &n_in, text) < 0 ||
            parse_maps(args, "output", out, &n_out, text + MAX_ITEMS) < 0)
            rc = CLI_USAGE;
        else if (n_in + n_out == 0) {
            cli_error("task assign: give at least one --input or --output NAME=DATA_ID");
            rc = CLI_USAGE;
        } else if (steep_assign_data(s->client, task_id, in, n_in, out, n_out, &err) < 0)
            rc = cli_report("assign data", &err);
        else
            printf(s->json ? "{\"ok\":true}\n" : "assigned\n");
        for (size_t i = 0; i < 2 * MAX_ITEMS; i++)
            free(text[i]);
        return rc;
    }
    static const struct {
        const char *command;
        int (*call)(steep_client *, const char *, struct steep_error *);
        const char *done;
    } simple[] = {
        {"approve", steep_approve_task, "approved"},
        {"invoke", steep_invoke_task, "invoked"},
        {"cancel", steep_cancel_task, "canceled"},
    };
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        if (strcmp(command, simple[i].command))
            continue;
        if (simple[i].call(s->client, task_id, &err) < 0)
            return cli_report(command, &err);
        printf(s->json ? "{\"ok\":true}\n" : "%s\n", simple[i].done);
        return CLI_OK;
    }
    if (!strcmp(command, "get") || !strcmp(command, "result")) {
        struct steep_task *t = NULL;
        const char *wait = cli_arg(args, "wait");
        int rc;
        if (wait && command[0] == 'r')
            rc = steep_wait_task(s->client, task_id, (int)(strtod(wait, NULL) * 1000), &t, &err);
        else
            rc = steep_get_task(s->client, task_id, &t, &err);
        if (rc < 0)
            return cli_report(command[0] == 'g' ? "get task" : "task result", &err);
        if (command[0] == 'g') {
            if (s->json)
                print_task_json(t);
            else
                print_task(t);
            rc = CLI_OK;
        } else
            rc = print_result(s, t);
        steep_task_free(t);
        return rc;
    }
    cli_error("unknown task command '%s' (see steep task --help)", command);
    return CLI_USAGE;
}

int cli_task(int argc, char **argv)
{
    return cli_group_main(argc, argv, "function,executor,args,input,output,wait", "", usage, run);
}
