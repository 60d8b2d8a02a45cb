/* Platform connection, credentials and error reporting for steep commands. */
#include "connect.h"

#include "cli.h"
#include "platform.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/text.h"

static const char *const auditor_names[] = {"godzilla", "optimus_prime", "albus_dumbledore"};
#define N_AUDITORS 3

int cli_report(const char *what, const struct steep_error *err)
{
    if (err->code == STEEP_ERROR_LOCAL) {
        cli_error("%s: %s", what, err->message);
        return CLI_FAILED;
    }
    cli_error("%s: %s: %s", what, steep_error_code_name(err->code), err->message);
    return err->code == 14 /* UNAVAILABLE */ ? CLI_UNREACHABLE : CLI_FAILED;
}

/* True when name is one of the comma-separated words of list. */
static bool listed_word(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && !strncmp(p, name, n))
            return true;
        p = end ? end + 1 : p + n;
    }
    return false;
}

static const struct cli_subcommand *find_subcommand(const struct cli_subcommand *table, size_t n,
                                                    const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(table[i].name, name))
            return &table[i];
    return NULL;
}

/* The words of a comma-separated list, each checked with cli_arg. */
static int check_required(const char *group, const struct cli_subcommand *c,
                          const struct cli_args *args)
{
    for (const char *p = c->required; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)len, p);
        if (!cli_arg(args, name)) {
            cli_error("%s %s: --%s is required (see steep %s --help)", group, c->name, name, group);
            return -1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* Prints each word of a comma-separated list as --word, one a line. */
static void print_options(const char *list)
{
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        int len = end ? (int)(end - p) : (int)strlen(p);
        printf("--%.*s\n", len, p);
        p = end ? end + 1 : NULL;
    }
}

/* Every value of the numeric options parses whole: an integer, or for
 * --wait a decimal number of seconds. */
static int check_numbers(const char *group, const struct cli_subcommand *c,
                         const struct cli_args *args)
{
    for (size_t i = 0; i < args->count; i++) {
        const char *name = args->names[i], *value = args->values[i];
        if (!value || !c->numbers || !listed_word(c->numbers, name))
            continue;
        char *end = NULL;
        errno = 0;
        if (!strcmp(name, "wait")) {
            double seconds = strtod(value, &end);
            if (*value && !*end && errno == 0 && seconds >= 0 && seconds <= 86400)
                continue;
        } else {
            long long v = strtoll(value, &end, 10);
            if (*value && !*end && errno == 0 && v >= INT32_MIN && v <= INT32_MAX)
                continue;
        }
        cli_error("%s %s: --%s %s is not a %s", group, c->name, name, value,
                  strcmp(name, "wait") ? "number" : "number of seconds (0 to 86400)");
        return -1;
    }
    return 0;
}

int cli_dispatch(int argc, char **argv, const char *group, const struct cli_subcommand *table,
                 size_t n, void (*usage)(void))
{
    /* `steep GROUP __complete` and `steep GROUP SUB __complete`: the words
     * the bash completion offers, read from this table so they cannot drift. */
    if (argc == 2 && !strcmp(argv[1], CLI_COMPLETE)) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", table[i].name);
        return CLI_OK;
    }
    if (argc == 3 && !strcmp(argv[2], CLI_COMPLETE)) {
        const struct cli_subcommand *c = find_subcommand(table, n, argv[1]);
        if (!c)
            return CLI_USAGE;
        print_options(c->options);
        print_options(c->flags);
        if (c->reach != CLI_LOCAL)
            cli_args_print_common();
        else
            printf("--json\n");
        printf("--help\n");
        return CLI_OK;
    }
    if (argc < 2 || cli_wants_help(argc, argv)) {
        if (argc < 2) {
            cli_error("%s: a command is needed", group);
            fflush(stdout);
        }
        usage();
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const struct cli_subcommand *c = find_subcommand(table, n, argv[1]);
    if (!c) {
        cli_error("unknown %s command '%s' (see steep %s --help)", group, argv[1], group);
        return CLI_USAGE;
    }
    struct cli_args args;
    if (cli_args_parse(argc - 1, argv + 1, c->options, c->flags, &args) < 0)
        return CLI_USAGE;
    if (args.n_positional < c->min_operands || args.n_positional > c->max_operands) {
        if (c->max_operands == 0)
            cli_error("%s %s: takes no operand, got '%s'", group, c->name, args.positional[0]);
        else
            cli_error("%s %s: expected %s, got %zu operand%s", group, c->name, c->operands,
                      args.n_positional, args.n_positional == 1 ? "" : "s");
        return CLI_USAGE;
    }
    if (check_required(group, c, &args) < 0 || check_numbers(group, c, &args) < 0)
        return CLI_USAGE;
    if (c->reach == CLI_LOCAL)
        return c->run(NULL, c->name, &args);
    struct cli_session s;
    int rc = cli_session_open(&args, &s);
    if (rc == CLI_OK &&
        (c->reach == CLI_ANON || (rc = cli_session_login_saved(&s, &args)) == CLI_OK))
        rc = c->run(&s, c->name, &args);
    cli_session_close(&s);
    return rc;
}

static int home_dir(char *out, size_t len)
{
    const char *home = getenv("STEEP_HOME");
    if (home && *home) {
        snprintf(out, len, "%s", home);
        return 0;
    }
    home = getenv("HOME");
    if (!home || !*home) {
        cli_error("neither STEEP_HOME nor HOME is set: nowhere to keep credentials");
        return -1;
    }
    snprintf(out, len, "%s/.steep", home);
    return 0;
}

/* $STEEP_HOME/credentials/<frontend>, created 0700 on the way. */
static int credential_dir(const struct cli_session *s, char *out, size_t len, bool create)
{
    char home[PATH_MAX - 512];
    if (home_dir(home, sizeof(home)) < 0)
        return -1;
    char safe[256];
    size_t j = 0;
    for (size_t i = 0; s->frontend[i] && j + 1 < sizeof(safe); i++)
        safe[j++] = s->frontend[i] == '/' ? '_' : s->frontend[i];
    safe[j] = '\0';
    snprintf(out, len, "%s/credentials/%s", home, safe);
    if (!create)
        return 0;
    char path[PATH_MAX];
    if (mkdir(home, 0700) < 0 && errno != EEXIST) {
        cli_error("cannot create %s: %s", home, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/credentials", home);
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        cli_error("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    if (mkdir(out, 0700) < 0 && errno != EEXIST) {
        cli_error("cannot create %s: %s", out, strerror(errno));
        return -1;
    }
    return 0;
}

/* A user id that can name a credential file (and a line of `current`). */
static bool valid_user_name(const char *user)
{
    if (!*user || strlen(user) > 200 || !strcmp(user, ".") || !strcmp(user, "..") ||
        !strcmp(user, "current"))
        return false;
    for (const unsigned char *p = (const unsigned char *)user; *p; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

int cli_credential_save(const struct cli_session *s, const char *user, const char *token)
{
    char dir[PATH_MAX - 300], path[PATH_MAX];
    if (!valid_user_name(user)) {
        cli_error("cannot keep a credential for the user id '%s'", user);
        return -1;
    }
    if (credential_dir(s, dir, sizeof(dir), true) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/%s", dir, user);
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    umask(077);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", token) < 0 || fclose(f) != 0 || chmod(tmp, 0600) < 0 ||
        rename(tmp, path) < 0) {
        cli_error("cannot write the credential %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/current", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", user) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int read_line(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *ok = fgets(out, (int)len, f);
    fclose(f);
    if (!ok)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : -1;
}

int cli_session_login_saved(struct cli_session *s, const struct cli_args *args)
{
    char dir[PATH_MAX - 300], path[PATH_MAX];
    if (credential_dir(s, dir, sizeof(dir), false) < 0)
        return CLI_FAILED;
    const char *user = cli_arg(args, "user");
    if (!user)
        user = getenv("STEEP_USER");
    if (user && *user)
        snprintf(s->user, sizeof(s->user), "%s", user);
    else {
        snprintf(path, sizeof(path), "%s/current", dir);
        if (read_line(path, s->user, sizeof(s->user)) < 0) {
            cli_error("not logged in: run `steep user login ID` first");
            return CLI_FAILED;
        }
    }
    if (!valid_user_name(s->user)) {
        cli_error("invalid user id '%s'", s->user);
        return CLI_USAGE;
    }
    char token[8192];
    snprintf(path, sizeof(path), "%s/%s", dir, s->user);
    if (read_line(path, token, sizeof(token)) < 0) {
        cli_error("no credential for %s at %s: run `steep user login %s` first", s->user, path,
                  s->user);
        return CLI_FAILED;
    }
    struct steep_error err;
    if (steep_client_set_credential(s->client, s->user, token, &err) < 0)
        return cli_report("credential", &err);
    return CLI_OK;
}

int cli_session_open(const struct cli_args *args, struct cli_session *s)
{
    memset(s, 0, sizeof(*s));
    s->json = cli_flag(args, "json");
    const char *dir = cli_arg(args, "dir");
    if (!dir)
        dir = getenv("STEEP_DIR");
    char auth[256] = "", root[PATH_MAX] = "", info[PATH_MAX] = "";
    char keys[N_AUDITORS][PATH_MAX], sigs[N_AUDITORS][PATH_MAX];
    const char *key_ptrs[N_AUDITORS], *sig_ptrs[N_AUDITORS];
    struct steep_client_options options = {0};
    if (dir && *dir) {
        struct platform_ports ports;
        if (platform_ports_load(dir, &ports) < 0) {
            cli_error("%s is not a platform directory (made by `steep up --dir`)", dir);
            return CLI_USAGE;
        }
        snprintf(auth, sizeof(auth), "localhost:%d", ports.authentication_api);
        snprintf(s->frontend, sizeof(s->frontend), "localhost:%d", ports.frontend);
        snprintf(root, sizeof(root), "%s/as_root_ca_cert.pem", dir);
        snprintf(info, sizeof(info), "%s/enclave_info.toml", dir);
        for (int i = 0; i < N_AUDITORS; i++) {
            snprintf(keys[i], sizeof(keys[i]), "%s/auditors/%s.public.pem", dir, auditor_names[i]);
            snprintf(sigs[i], sizeof(sigs[i]), "%s/auditors/%s.sign.sha256", dir, auditor_names[i]);
            key_ptrs[i] = keys[i];
            sig_ptrs[i] = sigs[i];
        }
        options.auditor_public_keys = key_ptrs;
        options.n_auditor_public_keys = N_AUDITORS;
        options.auditor_signatures = sig_ptrs;
        options.n_auditor_signatures = N_AUDITORS;
        /* A `steep up` platform is a local simulation by construction. */
        options.allow_simulation = true;
    } else {
        const char *a = cli_arg(args, "auth"), *f = cli_arg(args, "frontend");
        const char *r = cli_arg(args, "root"), *e = cli_arg(args, "enclave-info");
        if (!r || !e) {
            cli_error("name the platform with --dir DIR (or $STEEP_DIR), or give --root and "
                      "--enclave-info");
            return CLI_USAGE;
        }
        snprintf(auth, sizeof(auth), "%s", a ? a : "localhost:7776");
        snprintf(s->frontend, sizeof(s->frontend), "%s", f ? f : "localhost:7777");
        snprintf(root, sizeof(root), "%s", r);
        snprintf(info, sizeof(info), "%s", e);
        options.allow_simulation = cli_flag(args, "allow-simulation");
    }
    options.authentication_address = auth;
    options.frontend_address = s->frontend;
    options.as_root_ca_cert = root;
    options.enclave_info = info;
    struct steep_error err;
    if (!(s->client = steep_client_new(&options, &err)))
        return cli_report("cannot verify the platform", &err);
    return CLI_OK;
}

void cli_session_close(struct cli_session *s)
{
    steep_client_free(s->client);
    s->client = NULL;
}

int cli_hex_arg(const char *what, const char *hex, uint8_t *out, size_t max, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > max) {
        cli_error("%s must be an even number of hex digits, at most %zu bytes", what, max);
        return -1;
    }
    struct steep_cursor c = steep_cursor_make(hex, n);
    if (steep_cursor_read_hex(&c, out, n / 2) < 0) {
        cli_error("%s: '%s' is not hex", what, hex);
        return -1;
    }
    *len = n / 2;
    return 0;
}

void cli_print_hex(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", data[i]);
}

int cli_json_print(json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(value);
    if (!text) {
        cli_error("cannot build the JSON output (out of memory)");
        return CLI_FAILED;
    }
    puts(text);
    free(text);
    return CLI_OK;
}

json_t *cli_json_str(const char *s)
{
    if (!s)
        s = "";
    json_t *value = json_string(s);
    if (value)
        return value;
    /* Not UTF-8 (the server's bytes): keep every valid sequence, mark the rest. */
    size_t len = strlen(s);
    char *fixed = malloc(3 * len + 1);
    if (!fixed)
        return NULL;
    size_t j = 0;
    struct steep_cursor c = steep_cursor_make(s, len);
    while (steep_cursor_remaining(&c) > 0) {
        size_t start = c.pos;
        uint32_t code;
        if (steep_cursor_read_utf8(&c, &code) == 0) {
            memcpy(fixed + j, s + start, c.pos - start);
            j += c.pos - start;
        } else {
            memcpy(fixed + j, "\xef\xbf\xbd", 3);
            j += 3;
            c.pos++;
        }
    }
    value = json_stringn(fixed, j);
    free(fixed);
    return value;
}

json_t *cli_json_strings(const struct steep_string_list *list)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < list->count; i++)
        if (json_array_append_new(array, cli_json_str(list->items[i])) < 0) {
            json_decref(array);
            return NULL;
        }
    return array;
}

json_t *cli_json_hex(const uint8_t *data, size_t len)
{
    char text[2 * 64 + 1] = "";
    for (size_t i = 0; i < len && i < 64; i++)
        snprintf(text + 2 * i, 3, "%02x", data[i]);
    return json_string(text);
}
