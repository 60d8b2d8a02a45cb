/* `steep user …`: login, register, update, passwd, reset, delete, list. */
#include "cli.h"
#include "connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void usage(void)
{
    printf("usage: steep user COMMAND [OPTIONS]   (platform: --dir DIR or $STEEP_DIR)\n"
           "  login ID [--password P | --password-file F]   log in; keeps the token for ID\n"
           "  register ID --role ROLE [--attribute A] (--password P | --password-file F)\n"
           "  update ID --role ROLE [--attribute A] (--password P | --password-file F)\n"
           "  passwd (--password P | --password-file F)     change your own password\n"
           "  reset ID                                      reset ID's password (prints it)\n"
           "  delete ID\n"
           "  list [--attribute A]                          users you may manage\n"
           "ROLE: PlatformAdmin, FunctionOwner, DataOwnerManager, DataOwner.\n"
           "Without a password option the password is read from the terminal or stdin.\n"
           "--user ID acts as ID (default: the last user who logged in); --json for scripts.\n");
}

/* The password from --password, --password-file, or stdin (no echo on a terminal). */
static int read_password(const struct cli_args *args, char *out, size_t len)
{
    const char *given = cli_arg(args, "password"), *file = cli_arg(args, "password-file");
    if (given) {
        snprintf(out, len, "%s", given);
        return 0;
    }
    FILE *f = file ? fopen(file, "r") : stdin;
    if (!f) {
        cli_error("cannot read %s", file);
        return -1;
    }
    struct termios old, quiet;
    bool tty = !file && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fputs("password: ", stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *ok = fgets(out, (int)len, f);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', stderr);
    }
    if (file)
        fclose(f);
    if (!ok) {
        cli_error("no password given");
        return -1;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int login(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    char password[1024], *token = NULL;
    struct steep_error err;
    int rc = CLI_OK;
    const char *id = args->positional[0];
    if (read_password(args, password, sizeof(password)) < 0)
        rc = CLI_USAGE;
    else if (steep_user_login(s->client, id, password, &token, &err) < 0)
        rc = cli_report("login", &err);
    else if (cli_credential_save(s, id, token) < 0)
        rc = CLI_FAILED;
    else if (s->json)
        rc = cli_json_print(json_pack("{s:o,s:b}", "user", cli_json_str(id), "logged_in", 1));
    else
        printf("logged in as %s\n", id);
    free(token);
    explicit_bzero(password, sizeof(password));
    return rc;
}

/* register and update share their request. */
static int register_or_update(struct cli_session *s, const char *command,
                              const struct cli_args *args)
{
    char password[1024];
    struct steep_error err;
    int rc = CLI_OK;
    bool reg = !strcmp(command, "register");
    const char *id = args->positional[0];
    if (read_password(args, password, sizeof(password)) < 0)
        rc = CLI_USAGE;
    else if ((reg ? steep_user_register : steep_user_update)(s->client, id, password,
                                                             cli_arg(args, "role"),
                                                             cli_arg(args, "attribute"), &err) < 0)
        rc = cli_report(command, &err);
    else if (s->json)
        rc = cli_json_print(json_pack("{s:o}", "user", cli_json_str(id)));
    else
        printf("%s %s\n", reg ? "registered" : "updated", id);
    explicit_bzero(password, sizeof(password));
    return rc;
}

static int passwd(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    char password[1024];
    struct steep_error err;
    int rc = CLI_OK;
    if (read_password(args, password, sizeof(password)) < 0)
        rc = CLI_USAGE;
    else if (steep_user_change_password(s->client, password, &err) < 0)
        rc = cli_report("passwd", &err);
    else if (s->json)
        rc = cli_json_print(json_pack("{s:b}", "changed", 1));
    else
        printf("password changed; log in again\n");
    explicit_bzero(password, sizeof(password));
    return rc;
}

static int reset(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    char *fresh = NULL;
    struct steep_error err;
    int rc = CLI_OK;
    const char *id = args->positional[0];
    if (steep_user_reset_password(s->client, id, &fresh, &err) < 0)
        rc = cli_report("reset", &err);
    else if (s->json)
        rc = cli_json_print(
            json_pack("{s:o,s:o}", "user", cli_json_str(id), "password", cli_json_str(fresh)));
    else
        printf("new password for %s: %s\n", id, fresh);
    free(fresh);
    return rc;
}

static int delete_user(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
    if (steep_user_delete(s->client, args->positional[0], &err) < 0)
        return cli_report("delete", &err);
    if (s->json)
        return cli_json_print(json_pack("{s:b}", "deleted", 1));
    printf("deleted\n");
    return CLI_OK;
}

static int list(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
    struct steep_string_list ids = {0};
    const char *attribute = cli_arg(args, "attribute");
    /* The request's id is an attribute filter that must not be empty: a
     * DataOwnerManager names its attribute; for an admin any value lists all. */
    if (steep_user_list(s->client, attribute ? attribute : s->user, &ids, &err) < 0)
        return cli_report("list", &err);
    int rc = CLI_OK;
    if (s->json)
        rc = cli_json_print(cli_json_strings(&ids));
    else
        for (size_t i = 0; i < ids.count; i++)
            printf("%s\n", ids.items[i]);
    steep_string_list_free(&ids);
    return rc;
}

#define PASSWORD "password,password-file"
static const struct cli_subcommand commands[] = {
    {"login", PASSWORD, "", "", 1, 1, "one user id", CLI_ANON, login, NULL},
    {"register", PASSWORD ",role,attribute", "", "role", 1, 1, "one user id", CLI_LOGGED_IN,
     register_or_update, NULL},
    {"update", PASSWORD ",role,attribute", "", "role", 1, 1, "one user id", CLI_LOGGED_IN,
     register_or_update, NULL},
    {"passwd", PASSWORD, "", "", 0, 0, "", CLI_LOGGED_IN, passwd, NULL},
    {"reset", "", "", "", 1, 1, "one user id", CLI_LOGGED_IN, reset, NULL},
    {"delete", "", "", "", 1, 1, "one user id", CLI_LOGGED_IN, delete_user, NULL},
    {"list", "attribute", "", "", 0, 0, "", CLI_LOGGED_IN, list, NULL},
};

int cli_user(int argc, char **argv)
{
    return cli_dispatch(argc, argv, "user", commands, sizeof(commands) / sizeof(commands[0]),
                        usage);
}
