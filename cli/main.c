/*
 * `steep`: the command line of the platform. Each command group lives in
 * its own file; this file only dispatches.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "steep_version.h"

static const struct cli_command commands[] = {
    {"up", "start a complete local platform (sim TEE back-end)", cli_up},
    {"down", "stop a local platform", cli_down},
    {"status", "show the processes of a local platform", cli_status},
    {"metrics", "print a service's metrics (Prometheus text format)", cli_metrics},
    {"user", "log in; register, update, reset, delete and list users", cli_user},
    {"function", "register, get, list, update, delete, disable functions", cli_function},
    {"file", "encrypt, decrypt and cmac files in every scheme", cli_file},
    {"data", "register input, output and fusion files", cli_data},
    {"task", "create, assign, approve, invoke, cancel tasks; get results", cli_task},
    {"audit", "query the audit log (PlatformAdmin)", cli_audit},
    {"attest", "show and verify a service's attestation evidence", cli_attest},
    {"serve-files", "serve a directory over HTTP with GET and PUT", cli_serve_files},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: steep COMMAND [ARGS...]   (steep COMMAND --help for details)\n"
                 "       steep --version\n\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %s%-12s%s %s\n", out == stdout ? cli_style(CLI_STYLE_BOLD) : "",
                commands[i].name, out == stdout ? cli_style(CLI_STYLE_RESET) : "",
                commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], CLI_COMPLETE)) {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            printf("%s\n", commands[i].name);
        printf("--help\n--version\n");
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("steep %s\n", STEEP_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
