/*
 * The `steep` command: one file per command group, dispatched by main.c.
 *
 * Every command returns an exit status: 0 success, 1 the operation failed
 * (the server said no, a file was bad), 2 usage error, 3 the platform could
 * not be reached. Messages go to stderr; results to stdout (JSON with --json).
 */
#ifndef STEEP_CLI_H
#define STEEP_CLI_H

#include <stdbool.h>
#include <stdio.h>

enum {
    CLI_OK = 0,
    CLI_FAILED = 1,
    CLI_USAGE = 2,
    CLI_UNREACHABLE = 3,
};

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

/* Command groups (each in its own file). */
int cli_up(int argc, char **argv);
int cli_down(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_metrics(int argc, char **argv);
int cli_serve_files(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_function(int argc, char **argv);
int cli_file(int argc, char **argv);
int cli_data(int argc, char **argv);
int cli_task(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_attest(int argc, char **argv);
struct cli_args;
/* steep attest --evidence FILE --collateral DIR ... (attest_hw.c) */
int cli_attest_evidence(const struct cli_args *args);

/* The hidden word with which the bash completion asks for the words it may
 * offer (`steep __complete`, `steep GROUP __complete`, ...). */
#define CLI_COMPLETE "__complete"

/* Shared helpers (cli_util.c). */
/* Directory holding this executable and the service executables. */
const char *cli_bin_dir(void);
/* True when argv contains --help or -h. */
bool cli_wants_help(int argc, char **argv);
/* Terminal styling for stdout: the escape sequence when stdout is a
 * terminal (and $NO_COLOR is unset), else "" so pipes and files get plain text. */
enum cli_style {
    CLI_STYLE_RESET,
    CLI_STYLE_BOLD,
    CLI_STYLE_GREEN,
    CLI_STYLE_YELLOW,
    CLI_STYLE_RED
};
const char *cli_style(enum cli_style style);
/* Prints "steep: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
