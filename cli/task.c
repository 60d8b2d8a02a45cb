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

static json_t *data_maps_json(const struct steep_task_assignment *maps, size_t n)
{
    json_t *object = json_object();
    for (size_t i = 0; object && i < n; i++)
        if (json_object_set_new(object, maps[i].data_name, cli_json_str(maps[i].data_id)) < 0) {
            json_decref(object);
            return NULL;
        }
    return object;
}

static int print_task_json(const struct steep_task *t)
{
    json_t *task = json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o,s:o,s:o}", "task_id", cli_json_str(t->task_id), "creator",
        cli_json_str(t->creator), "function_id", cli_json_str(t->function_id), "function_owner",
        cli_json_str(t->function_owner), "function_arguments", cli_json_str(t->function_arguments),
        "status", steep_task_status_name(t->status), "participants",
        cli_json_strings(&t->participants), "approved_users", cli_json_strings(&t->approved_users),
        "assigned_inputs", data_maps_json(t->assigned_inputs, t->n_assigned_inputs),
        "assigned_outputs", data_maps_json(t->assigned_outputs, t->n_assigned_outputs));
    if (task && t->has_result) {
        json_t *tags = json_object();
        for (size_t i = 0; tags && i < t->n_tags; i++)
            if (json_object_set_new(tags, t->tags[i].output_name,
                                    cli_json_hex(t->tags[i].cmac, 16)) < 0) {
                json_decref(tags);
                tags = NULL;
            }
        json_t *result =
            json_pack("{s:o,s:o,s:o}", "return_value", cli_json_str((const char *)t->return_value),
                      "tags", tags, "log", cli_json_strings(&t->log));
        if (json_object_set_new(task, "result", result) < 0) {
            json_decref(task);
            task = NULL;
        }
    }
    if (task && t->failure_reason &&
        json_object_set_new(task, "failure_reason", cli_json_str(t->failure_reason)) < 0) {
        json_decref(task);
        task = NULL;
    }
    return cli_json_print(task);
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
        if (print_task_json(t) != CLI_OK)
            return CLI_FAILED;
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

static int create(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
    struct ownership_storage in = {0}, out = {0};
    const char *executor = cli_arg(args, "executor");
    int rc = CLI_OK;
    char *id = NULL;
    if (parse_ownership(args, "input", &in) < 0 || parse_ownership(args, "output", &out) < 0)
        rc = CLI_USAGE;
    else {
        struct steep_task_spec spec = {cli_arg(args, "function"),
                                       cli_arg(args, "args"),
                                       executor ? executor : "builtin",
                                       in.items,
                                       in.count,
                                       out.items,
                                       out.count};
        if (steep_create_task(s->client, &spec, &id, &err) < 0)
            rc = cli_report("create task", &err);
        else if (s->json)
            rc = cli_json_print(json_pack("{s:o}", "task_id", cli_json_str(id)));
        else
            printf("%s\n", id);
    }
    free(id);
    ownership_free(&in);
    ownership_free(&out);
    return rc;
}

static int assign(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
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
    } else if (steep_assign_data(s->client, args->positional[0], in, n_in, out, n_out, &err) < 0)
        rc = cli_report("assign data", &err);
    else if (s->json)
        rc = cli_json_print(json_pack("{s:b}", "ok", 1));
    else
        printf("assigned\n");
    for (size_t i = 0; i < 2 * MAX_ITEMS; i++)
        free(text[i]);
    return rc;
}

/* approve, invoke, cancel: one call on the task, nothing returned. */
static int simple(struct cli_session *s, const char *command, const struct cli_args *args)
{
    static const struct {
        const char *command;
        int (*call)(steep_client *, const char *, struct steep_error *);
        const char *done;
    } calls[] = {
        {"approve", steep_approve_task, "approved"},
        {"invoke", steep_invoke_task, "invoked"},
        {"cancel", steep_cancel_task, "canceled"},
    };
    struct steep_error err;
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        if (strcmp(command, calls[i].command))
            continue;
        if (calls[i].call(s->client, args->positional[0], &err) < 0)
            return cli_report(command, &err);
        if (s->json)
            return cli_json_print(json_pack("{s:b}", "ok", 1));
        printf("%s\n", calls[i].done);
        return CLI_OK;
    }
    return CLI_USAGE;
}

static int get_or_result(struct cli_session *s, const char *command, const struct cli_args *args)
{
    struct steep_error err;
    struct steep_task *t = NULL;
    const char *wait = cli_arg(args, "wait");
    bool result = !strcmp(command, "result");
    int rc;
    if (wait && result)
        rc = steep_wait_task(s->client, args->positional[0], (int)(strtod(wait, NULL) * 1000), &t,
                             &err);
    else
        rc = steep_get_task(s->client, args->positional[0], &t, &err);
    if (rc < 0)
        return cli_report(result ? "task result" : "get task", &err);
    if (result)
        rc = print_result(s, t);
    else if (s->json)
        rc = print_task_json(t);
    else {
        print_task(t);
        rc = CLI_OK;
    }
    steep_task_free(t);
    return rc;
}

static const struct cli_subcommand commands[] = {
    {"create", "function,executor,args,input,output", "", "function", 0, 0, "", CLI_LOGGED_IN,
     create, NULL},
    {"assign", "input,output", "", "", 1, 1, "one TASK id", CLI_LOGGED_IN, assign, NULL},
    {"approve", "", "", "", 1, 1, "one TASK id", CLI_LOGGED_IN, simple, NULL},
    {"invoke", "", "", "", 1, 1, "one TASK id", CLI_LOGGED_IN, simple, NULL},
    {"cancel", "", "", "", 1, 1, "one TASK id", CLI_LOGGED_IN, simple, NULL},
    {"get", "", "", "", 1, 1, "one TASK id", CLI_LOGGED_IN, get_or_result, NULL},
    {"result", "wait", "", "", 1, 1, "one TASK id", CLI_LOGGED_IN, get_or_result, "wait"},
};

int cli_task(int argc, char **argv)
{
    return cli_dispatch(argc, argv, "task", commands, sizeof(commands) / sizeof(commands[0]),
                        usage);
}
