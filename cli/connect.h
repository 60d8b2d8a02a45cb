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

/* The body of a command group that acts as a logged-in user: parses the
 * options after `steep GROUP COMMAND`, opens the session with the saved
 * credential and calls run(session, COMMAND, args). */
typedef int (*cli_group_fn)(struct cli_session *session, const char *command,
                            const struct cli_args *args);
int cli_group_main(int argc, char **argv, const char *options, const char *flags,
                   void (*usage)(void), cli_group_fn run);

/* Prints a failed call ("steep: <what>: <CODE>: message") and maps it to an exit status. */
int cli_report(const char *what, const struct steep_error *err);

/* Hex helpers for keys, ivs and cmacs. */
int cli_hex_arg(const char *what, const char *hex, uint8_t *out, size_t max, size_t *len);
void cli_print_hex(const uint8_t *data, size_t len);
/* Prints s as a JSON string literal. */
void cli_print_json_string(const char *s);

#endif
