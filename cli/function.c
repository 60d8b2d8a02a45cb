/* `steep function …`: register, get, list, update, delete, disable, usage. */
#include "cli.h"
#include "connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

#define MAX_ITEMS 64

static void usage(void)
{
    printf("usage: steep function COMMAND [OPTIONS]\n"
           "  register --name N --executor-type T [SPEC]   prints the new function id\n"
           "  update ID --name N --executor-type T [SPEC]\n"
           "  get ID | delete ID | disable ID | usage ID\n"
           "  list [--user-id U]                            default: yourself\n"
           "SPEC: [--description D] [--public] [--payload FILE]\n"
           "      [--arg KEY[=DEFAULT]] [--overwritable-arg KEY[=DEFAULT]]\n"
           "      [--input NAME[:optional]] [--output NAME[:optional]]\n"
           "      [--allow USER] [--quota N]   (quota: negative = unlimited, the default)\n"
           "T: builtin (name = the builtin, e.g. builtin-echo), python, wamr.\n");
}

struct spec_storage {
    struct steep_function_argument arguments[MAX_ITEMS];
    char *argument_text[MAX_ITEMS];
    struct steep_function_io inputs[MAX_ITEMS], outputs[MAX_ITEMS];
    char *io_text[2 * MAX_ITEMS];
    const char *allow[MAX_ITEMS];
    struct steep_buf payload;
};

static void spec_free(struct spec_storage *st)
{
    for (size_t i = 0; i < MAX_ITEMS; i++)
        free(st->argument_text[i]);
    for (size_t i = 0; i < 2 * MAX_ITEMS; i++)
        free(st->io_text[i]);
    steep_buf_free(&st->payload);
}

/* KEY[=DEFAULT] */
static int add_arguments(const struct cli_args *args, const char *option, bool overwrite,
                         struct steep_function_spec *spec, struct spec_storage *st)
{
    for (size_t i = 0; i < cli_arg_count(args, option); i++) {
        if (spec->n_arguments == MAX_ITEMS) {
            cli_error("at most %d arguments", MAX_ITEMS);
            return -1;
        }
        char *text = strdup(cli_arg_nth(args, option, i));
        if (!text)
            return -1;
        st->argument_text[spec->n_arguments] = text;
        char *eq = strchr(text, '=');
        if (eq)
            *eq = '\0';
        struct steep_function_argument *a = &st->arguments[spec->n_arguments++];
        a->key = text;
        a->default_value = eq ? eq + 1 : "";
        a->allow_overwrite = overwrite;
    }
    return 0;
}

/* NAME[:optional] */
static int add_ios(const struct cli_args *args, const char *option, struct steep_function_io *out,
                   size_t *n, char **text_slots)
{
    for (size_t i = 0; i < cli_arg_count(args, option); i++) {
        if (*n == MAX_ITEMS) {
            cli_error("at most %d %ss", MAX_ITEMS, option);
            return -1;
        }
        char *text = strdup(cli_arg_nth(args, option, i));
        if (!text)
            return -1;
        text_slots[*n] = text;
        char *colon = strchr(text, ':');
        bool optional = false;
        if (colon) {
            if (strcmp(colon + 1, "optional")) {
                cli_error("--%s %s: only ':optional' may follow the name", option, text);
                return -1;
            }
            *colon = '\0';
            optional = true;
        }
        out[(*n)++] = (struct steep_function_io){text, "", optional};
    }
    return 0;
}

static int build_spec(const struct cli_args *args, struct steep_function_spec *spec,
                      struct spec_storage *st)
{
    memset(spec, 0, sizeof(*spec));
    memset(st, 0, sizeof(*st));
    spec->name = cli_arg(args, "name");
    spec->executor_type = cli_arg(args, "executor-type");
    if (!spec->name || !spec->executor_type) {
        cli_error("--name and --executor-type are required");
        return -1;
    }
    spec->description = cli_arg(args, "description");
    spec->public_function = cli_flag(args, "public");
    const char *quota = cli_arg(args, "quota");
    spec->usage_quota = quota ? (int32_t)strtol(quota, NULL, 10) : -1;
    const char *payload = cli_arg(args, "payload");
    if (payload) {
        if (steep_read_file(payload, 64u << 20, &st->payload) < 0) {
            cli_error("--payload: %s", steep_error_get());
            return -1;
        }
        spec->payload = st->payload.data;
        spec->payload_len = st->payload.len;
    }
    if (add_arguments(args, "arg", false, spec, st) < 0 ||
        add_arguments(args, "overwritable-arg", true, spec, st) < 0 ||
        add_ios(args, "input", st->inputs, &spec->n_inputs, st->io_text) < 0 ||
        add_ios(args, "output", st->outputs, &spec->n_outputs, st->io_text + MAX_ITEMS) < 0)
        return -1;
    spec->arguments = st->arguments;
    spec->inputs = st->inputs;
    spec->outputs = st->outputs;
    size_t n_allow = cli_arg_count(args, "allow");
    for (size_t i = 0; i < n_allow && i < MAX_ITEMS; i++)
        st->allow[i] = cli_arg_nth(args, "allow", i);
    spec->user_allowlist = st->allow;
    spec->n_user_allowlist = n_allow < MAX_ITEMS ? n_allow : MAX_ITEMS;
    return 0;
}

static json_t *io_json(const struct steep_function_io *ios, size_t n)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < n; i++)
        if (json_array_append_new(array, json_pack("{s:o,s:b}", "name", cli_json_str(ios[i].name),
                                                   "optional", ios[i].optional)) < 0) {
            json_decref(array);
            return NULL;
        }
    return array;
}

static int print_function(const char *id, const struct steep_function *f, bool json)
{
    if (json) {
        json_t *arguments = json_array();
        for (size_t i = 0; arguments && i < f->n_arguments; i++)
            if (json_array_append_new(
                    arguments,
                    json_pack("{s:o,s:o,s:b}", "key", cli_json_str(f->arguments[i].key),
                              "default_value", cli_json_str(f->arguments[i].default_value),
                              "allow_overwrite", f->arguments[i].allow_overwrite)) < 0) {
                json_decref(arguments);
                arguments = NULL;
            }
        return cli_json_print(
            json_pack("{s:o,s:o,s:o,s:o,s:o,s:b,s:I,s:o,s:o,s:o,s:o}", "function_id",
                      cli_json_str(id), "name", cli_json_str(f->name), "description",
                      cli_json_str(f->description), "executor_type", cli_json_str(f->executor_type),
                      "owner", cli_json_str(f->owner), "public", f->public_function,
                      "payload_bytes", (json_int_t)f->payload_len, "arguments", arguments, "inputs",
                      io_json(f->inputs, f->n_inputs), "outputs", io_json(f->outputs, f->n_outputs),
                      "user_allowlist", cli_json_strings(&f->user_allowlist)));
    }
    printf("function %s\n  name:          %s\n  description:   %s\n  executor type: %s\n"
           "  owner:         %s\n  public:        %s\n  payload:       %zu bytes\n",
           id, f->name, f->description, f->executor_type, f->owner,
           f->public_function ? "yes" : "no", f->payload_len);
    for (size_t i = 0; i < f->n_arguments; i++)
        printf("  argument:      %s (default \"%s\"%s)\n", f->arguments[i].key,
               f->arguments[i].default_value,
               f->arguments[i].allow_overwrite ? ", overwritable" : "");
    for (size_t i = 0; i < f->n_inputs; i++)
        printf("  input:         %s%s\n", f->inputs[i].name,
               f->inputs[i].optional ? " (optional)" : "");
    for (size_t i = 0; i < f->n_outputs; i++)
        printf("  output:        %s%s\n", f->outputs[i].name,
               f->outputs[i].optional ? " (optional)" : "");
    for (size_t i = 0; i < f->user_allowlist.count; i++)
        printf("  allowed user:  %s\n", f->user_allowlist.items[i]);
    return CLI_OK;
}

static int print_id(const struct cli_session *s, const char *id, const char *done)
{
    if (s->json)
        return cli_json_print(json_pack("{s:o}", "function_id", cli_json_str(id)));
    printf("%s%s%s\n", done, *done ? " " : "", id);
    return CLI_OK;
}

static int register_or_update(struct cli_session *s, const char *command,
                              const struct cli_args *args)
{
    struct steep_error err;
    struct steep_function_spec spec;
    struct spec_storage st;
    int rc = CLI_OK;
    if (build_spec(args, &spec, &st) < 0)
        rc = CLI_USAGE;
    else if (!strcmp(command, "update")) {
        const char *id = args->positional[0];
        if (steep_update_function(s->client, id, &spec, &err) < 0)
            rc = cli_report("update function", &err);
        else
            rc = print_id(s, id, "updated");
    } else {
        char *fid = NULL;
        if (steep_register_function(s->client, &spec, &fid, &err) < 0)
            rc = cli_report("register function", &err);
        else
            rc = print_id(s, fid, "");
        free(fid);
    }
    spec_free(&st);
    return rc;
}

static int list(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
    struct steep_string_list registered = {0}, allowed = {0};
    const char *user = cli_arg(args, "user-id");
    if (steep_list_functions(s->client, user ? user : s->user, &registered, &allowed, &err) < 0)
        return cli_report("list functions", &err);
    int rc = CLI_OK;
    if (s->json)
        rc = cli_json_print(json_pack("{s:o,s:o}", "registered", cli_json_strings(&registered),
                                      "allowed", cli_json_strings(&allowed)));
    else {
        for (size_t i = 0; i < registered.count; i++)
            printf("registered %s\n", registered.items[i]);
        for (size_t i = 0; i < allowed.count; i++)
            printf("allowed %s\n", allowed.items[i]);
    }
    steep_string_list_free(&registered);
    steep_string_list_free(&allowed);
    return rc;
}

static int get(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
    struct steep_function *f = NULL;
    if (steep_get_function(s->client, args->positional[0], &f, &err) < 0)
        return cli_report("get function", &err);
    int rc = print_function(args->positional[0], f, s->json);
    steep_function_free(f);
    return rc;
}

static int usage_stats(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
    int32_t quota, used;
    if (steep_get_function_usage_stats(s->client, args->positional[0], &quota, &used, &err) < 0)
        return cli_report("function usage", &err);
    if (s->json)
        return cli_json_print(
            json_pack("{s:i,s:i}", "function_quota", (int)quota, "current_usage", (int)used));
    if (quota < 0)
        printf("used %d times (no quota)\n", used);
    else
        printf("used %d of %d\n", used, quota);
    return CLI_OK;
}

static int delete_or_disable(struct cli_session *s, const char *command,
                             const struct cli_args *args)
{
    struct steep_error err;
    bool del = !strcmp(command, "delete");
    const char *id = args->positional[0];
    if ((del ? steep_delete_function : steep_disable_function)(s->client, id, &err) < 0)
        return cli_report(del ? "delete function" : "disable function", &err);
    if (s->json)
        return cli_json_print(json_pack("{s:b}", "ok", 1));
    printf("%s %s\n", del ? "deleted" : "disabled", id);
    return CLI_OK;
}

#define SPEC_OPTIONS                                                                               \
    "name,executor-type,description,payload,arg,overwritable-arg,input,output,allow,quota"
static const struct cli_subcommand commands[] = {
    {"register", SPEC_OPTIONS, "public", "name,executor-type", 0, 0, "", CLI_LOGGED_IN,
     register_or_update, "quota"},
    {"update", SPEC_OPTIONS, "public", "name,executor-type", 1, 1, "a function id", CLI_LOGGED_IN,
     register_or_update, "quota"},
    {"list", "user-id", "", "", 0, 0, "", CLI_LOGGED_IN, list, NULL},
    {"get", "", "", "", 1, 1, "a function id", CLI_LOGGED_IN, get, NULL},
    {"usage", "", "", "", 1, 1, "a function id", CLI_LOGGED_IN, usage_stats, NULL},
    {"delete", "", "", "", 1, 1, "a function id", CLI_LOGGED_IN, delete_or_disable, NULL},
    {"disable", "", "", "", 1, 1, "a function id", CLI_LOGGED_IN, delete_or_disable, NULL},
};

int cli_function(int argc, char **argv)
{
    return cli_dispatch(argc, argv, "function", commands, sizeof(commands) / sizeof(commands[0]),
                        usage);
}
