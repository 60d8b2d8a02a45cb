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

static int need_positional(const struct cli_args *args, const char *what)
{
    if (args->n_positional != 1) {
        cli_error("user %s: expected exactly one user id (see steep user --help)", what);
        return -1;
    }
    return 0;
}

int cli_user(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        usage();
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *command = argv[1];
    struct cli_args args;
    if (cli_args_parse(argc - 1, argv + 1, "password,password-file,role,attribute", "", &args) < 0)
        return CLI_USAGE;
    struct cli_session s;
    int rc = cli_session_open(&args, &s);
    if (rc != CLI_OK)
        return rc;
    struct steep_error err;
    char password[1024];
    if (!strcmp(command, "login")) {
        char *token = NULL;
        if (need_positional(&args, command) < 0 ||
            read_password(&args, password, sizeof(password)) < 0)
            rc = CLI_USAGE;
        else if (steep_user_login(s.client, args.positional[0], password, &token, &err) < 0)
            rc = cli_report("login", &err);
        else if (cli_credential_save(&s, args.positional[0], token) < 0)
            rc = CLI_FAILED;
        else if (s.json)
            printf("{\"user\":\"%s\",\"logged_in\":true}\n", args.positional[0]);
        else
            printf("logged in as %s\n", args.positional[0]);
        free(token);
        explicit_bzero(password, sizeof(password));
        cli_session_close(&s);
        return rc;
    }
    if ((rc = cli_session_login_saved(&s, &args)) != CLI_OK) {
        cli_session_close(&s);
        return rc;
    }
    const char *role = cli_arg(&args, "role"), *attribute = cli_arg(&args, "attribute");
    if (!strcmp(command, "register") || !strcmp(command, "update")) {
        if (need_positional(&args, command) < 0 || !role) {
            cli_error("user %s: needs ID and --role", command);
            rc = CLI_USAGE;
        } else if (read_password(&args, password, sizeof(password)) < 0)
            rc = CLI_USAGE;
        else if ((command[0] == 'r' ? steep_user_register : steep_user_update)(
                     s.client, args.positional[0], password, role, attribute, &err) < 0)
            rc = cli_report(command, &err);
        else if (!s.json)
            printf("%s %s\n", command[0] == 'r' ? "registered" : "updated", args.positional[0]);
        else
            printf("{\"user\":\"%s\"}\n", args.positional[0]);
    } else if (!strcmp(command, "passwd")) {
        if (read_password(&args, password, sizeof(password)) < 0)
            rc = CLI_USAGE;
        else if (steep_user_change_password(s.client, password, &err) < 0)
            rc = cli_report("passwd", &err);
        else
            printf(s.json ? "{\"changed\":true}\n" : "password changed; log in again\n");
    } else if (!strcmp(command, "reset")) {
        char *fresh = NULL;
        if (need_positional(&args, command) < 0)
            rc = CLI_USAGE;
        else if (steep_user_reset_password(s.client, args.positional[0], &fresh, &err) < 0)
            rc = cli_report("reset", &err);
        else if (s.json)
            printf("{\"user\":\"%s\",\"password\":\"%s\"}\n", args.positional[0], fresh);
        else
            printf("new password for %s: %s\n", args.positional[0], fresh);
        free(fresh);
    } else if (!strcmp(command, "delete")) {
        if (need_positional(&args, command) < 0)
            rc = CLI_USAGE;
        else if (steep_user_delete(s.client, args.positional[0], &err) < 0)
            rc = cli_report("delete", &err);
        else
            printf(s.json ? "{\"deleted\":true}\n" : "deleted\n");
    } else if (!strcmp(command, "list")) {
        struct steep_string_list ids = {0};
        /* The request's id is an attribute filter that must not be empty: a
         * DataOwnerManager names its attribute; for an admin any value lists all. */
        if (steep_user_list(s.client, attribute ? attribute : s.user, &ids, &err) < 0)
            rc = cli_report("list", &err);
        else {
            if (s.json)
                printf("[");
            for (size_t i = 0; i < ids.count; i++) {
                if (s.json) {
                    printf(i ? "," : "");
                    cli_print_json_string(ids.items[i]);
                } else
                    printf("%s\n", ids.items[i]);
            }
            if (s.json)
                printf("]\n");
            steep_string_list_free(&ids);
        }
    } else {
        cli_error("unknown user command '%s' (see steep user --help)", command);
        rc = CLI_USAGE;
    }
    explicit_bzero(password, sizeof(password));
    cli_session_close(&s);
    return rc;
}
