/* Option parsing for the steep subcommands; see args.h. */
#include "args.h"

#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char common_options[] = "dir,user,auth,frontend,root,enclave-info";
static const char common_flags[] = "allow-simulation,json";

/* True when name is one of the comma-separated words of list. */
static bool listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && !strncmp(p, name, n))
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

int cli_args_parse(int argc, char **argv, const char *options, const char *flags,
                   struct cli_args *args)
{
    memset(args, 0, sizeof(*args));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || a[2] == '\0') {
            if (args->n_positional == CLI_ARGS_MAX) {
                cli_error("too many arguments");
                return -1;
            }
            args->positional[args->n_positional++] = a;
            continue;
        }
        const char *name = a + 2;
        if (args->count == CLI_ARGS_MAX) {
            cli_error("too many options");
            return -1;
        }
        if (listed(flags, name) || listed(common_flags, name)) {
            args->names[args->count] = name;
            args->values[args->count++] = NULL;
        } else if (listed(options, name) || listed(common_options, name)) {
            if (i + 1 >= argc) {
                cli_error("option --%s needs a value", name);
                return -1;
            }
            args->names[args->count] = name;
            args->values[args->count++] = argv[++i];
        } else {
            cli_error("unknown option --%s (see --help)", name);
            return -1;
        }
    }
    return 0;
}

void cli_args_print_common(void)
{
    for (const char *lists[] = {common_options, common_flags}, **l = lists; l < lists + 2; l++)
        for (const char *p = *l; p && *p;) {
            const char *end = strchr(p, ',');
            int len = end ? (int)(end - p) : (int)strlen(p);
            printf("--%.*s\n", len, p);
            p = end ? end + 1 : NULL;
        }
}

const char *cli_arg(const struct cli_args *args, const char *name)
{
    const char *value = NULL;
    for (size_t i = 0; i < args->count; i++)
        if (!strcmp(args->names[i], name) && args->values[i])
            value = args->values[i];
    return value;
}

bool cli_flag(const struct cli_args *args, const char *name)
{
    for (size_t i = 0; i < args->count; i++)
        if (!strcmp(args->names[i], name) && !args->values[i])
            return true;
    return false;
}

const char *cli_arg_nth(const struct cli_args *args, const char *name, size_t n)
{
    for (size_t i = 0; i < args->count; i++)
        if (!strcmp(args->names[i], name) && args->values[i] && n-- == 0)
            return args->values[i];
    return NULL;
}

size_t cli_arg_count(const struct cli_args *args, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < args->count; i++)
        n += !strcmp(args->names[i], name) && args->values[i];
    return n;
}
