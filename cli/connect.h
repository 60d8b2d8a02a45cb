/*
 * How a steep command reaches the platform and who it acts as.
 *
 * The platform is named by --dir DIR (a directory made by `steep up`; also
 * $STEEP_DIR): its ports, attestation root, enclave_info and auditors'
 * signatures are read from there, and simulated evidence is accepted
 * because that platform is a local simulation. Without --dir, --auth,
 * --frontend, --root and --enclave-info name everything explicitly and
 * simulated evidence needs --allow-simulation.
 *
 * Credentials: `steep user login` keeps each user's token in
 * $STEEP_HOME/credentials/<frontend>/<user> ($STEEP_HOME defaults to
 * ~/.steep), a file only its owner can read; --user ID (or $STEEP_USER)
 * picks whose credential a command uses, else the last user who logged in.
 */
#ifndef STEEP_CLI_CONNECT_H
#define STEEP_CLI_CONNECT_H

#include "args.h"
#include "steep/steep.h"

struct cli_session {
    steep_client *client;
    char frontend[256]; /* host:port, names the credential directory */
    char user[256];     /* acting user ("" when none) */
    bool json;
};

/* Connects (lazily) without a credential. Returns an exit status on failure. */
int cli_session_open(const struct cli_args *args, struct cli_session *session);
/* Loads the acting user's credential into the client. */
int cli_session_login_saved(struct cli_session *session, const struct cli_args *args);
int cli_credential_save(const struct cli_session *session, const char *user, const char *token);
void cli_session_close(struct cli_session *session);

/*
 * A command group's sub-commands, dispatched from a table. Everything a
 * sub-command's words can be checked against without the platform (known
 * name, options, number of operands, required options) is checked before a
 * connection is opened, so a usage error is exit 2 even with the platform
 * down.
 */
enum cli_reach {
    CLI_LOCAL,    /* no platform: run gets a NULL session */
    CLI_ANON,     /* connected, no credential (user login) */
    CLI_LOGGED_IN /* connected with the acting user's saved credential */
};

struct cli_subcommand {
    const char *name;
    const char *options;  /* options taking a value, comma-separated */
    const char *flags;    /* boolean options */
    const char *required; /* options that must be given */
    unsigned min_operands, max_operands;
    const char *operands; /* how the operands read in messages, e.g. "TASK" */
    enum cli_reach reach;
    int (*run)(struct cli_session *session, const char *command, const struct cli_args *args);
    const char *numbers; /* options whose value must be a number (integer; "wait": seconds) */
};

/* Runs `steep GROUP COMMAND ...` (argv[0] is GROUP) from the table. */
int cli_dispatch(int argc, char **argv, const char *group, const struct cli_subcommand *table,
                 size_t n, void (*usage)(void));

/* Prints a failed call ("steep: <what>: <CODE>: message") and maps it to an exit status. */
int cli_report(const char *what, const struct steep_error *err);

/* Hex helpers for keys, ivs and cmacs. */
int cli_hex_arg(const char *what, const char *hex, uint8_t *out, size_t max, size_t *len);
void cli_print_hex(const uint8_t *data, size_t len);
/* JSON output, built with jansson so every string is escaped. */
#include <jansson.h>
/* Prints value compactly on one line and releases it; CLI_FAILED when it
 * cannot be built (a NULL value: allocation failed or a string was not UTF-8). */
int cli_json_print(json_t *value);
/* A JSON array of the list's strings (invalid UTF-8 replaced, never dropped). */
json_t *cli_json_strings(const struct steep_string_list *list);
/* A JSON string of s ("" for NULL); bytes that are not UTF-8 become U+FFFD. */
json_t *cli_json_str(const char *s);
/* Lower-case hex as a JSON string. */
json_t *cli_json_hex(const uint8_t *data, size_t len);

#endif
