/*
 * Command-line options of the steep subcommands: `--name value` pairs,
 * boolean flags and positional arguments, checked against the options the
 * command accepts so a typo is an error, not a silently ignored word.
 */
#ifndef STEEP_CLI_ARGS_H
#define STEEP_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_ARGS_MAX 64

struct cli_args {
    const char *names[CLI_ARGS_MAX];
    const char *values[CLI_ARGS_MAX]; /* NULL for flags */
    size_t count;
    const char *positional[CLI_ARGS_MAX];
    size_t n_positional;
};

/*
 * options: comma-separated names that take a value ("user,dir,input");
 * flags: comma-separated boolean names ("json,public"). The connection and
 * identity options (dir, user, auth, frontend, root, enclave-info,
 * allow-simulation, json) are accepted by every command. Returns -1 (and
 * prints why) on an unknown option or a missing value.
 */
int cli_args_parse(int argc, char **argv, const char *options, const char *flags,
                   struct cli_args *args);
/* Prints the options every command accepts, as --name, one a line. */
void cli_args_print_common(void);
const char *cli_arg(const struct cli_args *args, const char *name);
bool cli_flag(const struct cli_args *args, const char *name);
/* The i-th value of a repeatable option, or NULL. */
const char *cli_arg_nth(const struct cli_args *args, const char *name, size_t i);
size_t cli_arg_count(const struct cli_args *args, const char *name);

#endif
