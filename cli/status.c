/*
 * `steep status`: the processes of a local platform, read from DIR/run: the
 * pid files, the supervisor's DIR/run/supervisor.status for each
 * process's start time (uptime) and restarts, and each service's health
 * from its admin port (DIR/run/NAME.admin; GET /healthz, the state its
 * gRPC health check answers).
 */
#include "cli.h"
#include "connect.h"
#include "platform.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

struct supervised_row {
    char name[32];
    long long started_at;
    int restarts;
    char state[16];
};

/* The supervisor's view, when it runs; n = 0 otherwise. */
static size_t load_supervised(const char *dir, struct supervised_row *rows, size_t max)
{
    char path[PATH_MAX];
    platform_pathf(path, sizeof(path), "%s/run/supervisor.status", dir);
    if (!platform_pid_ours(dir, platform_pid_read(dir, "supervisor")))
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    char line[256];
    int pid;
    while (n < max && fgets(line, sizeof(line), f))
        if (sscanf(line, "%31s %d %lld %d %15s", rows[n].name, &pid, &rows[n].started_at,
                   &rows[n].restarts, rows[n].state) == 5)
            n++;
    fclose(f);
    return n;
}

static const struct supervised_row *find_row(const struct supervised_row *rows, size_t n,
                                             const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].name, name))
            return &rows[i];
    return NULL;
}

static void format_uptime(long long seconds, char *out, size_t len)
{
    if (seconds < 0)
        platform_pathf(out, len, "-");
    else if (seconds < 60)
        platform_pathf(out, len, "%llds", seconds);
    else if (seconds < 3600)
        platform_pathf(out, len, "%lldm%02llds", seconds / 60, seconds % 60);
    else if (seconds < 86400)
        platform_pathf(out, len, "%lldh%02lldm", seconds / 3600, seconds / 60 % 60);
    else
        platform_pathf(out, len, "%lldd%02lldh", seconds / 86400, seconds / 3600 % 24);
}

struct status_out {
    bool json;
    json_t *list;
    const struct supervised_row *rows;
    size_t n_rows;
};

/* The health its admin port reports: "SERVING", "NOT_SERVING" or NULL. */
static const char *health_of(const char *dir, const char *name)
{
    int port = platform_admin_port(dir, name);
    char *body = NULL;
    int code = 0;
    if (port < 0 || platform_admin_get(port, "/healthz", &body, &code) < 0)
        return NULL;
    free(body);
    return code == 200 ? "SERVING" : code == 503 ? "NOT_SERVING" : NULL;
}

/* One process: port 0 = none to check. Returns whether it counts as up. */
static bool show(struct status_out *o, const char *dir, const char *name, int port)
{
    int pid = platform_pid_read(dir, name);
    bool alive = platform_pid_ours(dir, pid);
    bool up = alive && (!port || platform_port_listening(port));
    const struct supervised_row *row = find_row(o->rows, o->n_rows, name);
    long long uptime =
        alive && row && row->started_at > 0 ? (long long)time(NULL) - row->started_at : -1;
    const char *state = up ? "running" : alive ? "starting" : "stopped";
    const char *health = alive ? health_of(dir, name) : NULL;
    if (!alive && row && !strcmp(row->state, "restarting"))
        state = "restarting";
    if (o->json) {
        json_t *entry = json_pack("{s:s,s:i,s:b,s:s}", "name", name, "pid", alive ? pid : 0,
                                  "running", up, "state", state);
        if (entry && port)
            json_object_set_new(entry, "port", json_integer(port));
        if (entry && uptime >= 0)
            json_object_set_new(entry, "uptime_seconds", json_integer(uptime));
        if (entry && row)
            json_object_set_new(entry, "restarts", json_integer(row->restarts));
        if (entry && health)
            json_object_set_new(entry, "health", json_string(health));
        if (!entry || json_array_append_new(o->list, entry) < 0) {
            json_decref(o->list);
            o->list = NULL;
        }
        return up;
    }
    char pid_text[16], port_text[16] = "", uptime_text[32], restarts[16] = "-";
    platform_pathf(pid_text, sizeof(pid_text), "%d", alive ? pid : 0);
    if (port)
        platform_pathf(port_text, sizeof(port_text), "port %d", port);
    format_uptime(uptime, uptime_text, sizeof(uptime_text));
    if (row)
        platform_pathf(restarts, sizeof(restarts), "%d", row->restarts);
    enum cli_style colour = up                                      ? CLI_STYLE_GREEN
                            : alive || !strcmp(state, "restarting") ? CLI_STYLE_YELLOW
                                                                    : CLI_STYLE_RED;
    const char *health_text = !health                      ? "-"
                              : !strcmp(health, "SERVING") ? "serving"
                                                           : "not-serving";
    printf("%-16s %s%-10s%s pid %-7s %-10s up %-7s restarts %-3s health %s\n", name,
           cli_style(colour), state, cli_style(CLI_STYLE_RESET), pid_text, port_text, uptime_text,
           restarts, health_text);
    return up;
}

int cli_status(int argc, char **argv)
{
    const char *dir = getenv("STEEP_DIR");
    bool json = false;
    if (cli_wants_help(argc, argv)) {
        printf("usage: steep status [--dir DIR] [--json]   (default: $STEEP_DIR)\n"
               "Shows each process of the platform: its state, pid, port, uptime, how\n"
               "often the supervisor restarted it and its health (serving: it and every\n"
               "service it calls answer). Exit status 0 when everything runs.\n");
        return CLI_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            cli_error("status: unknown argument '%s' (see steep status --help)", argv[i]);
            return CLI_USAGE;
        }
    }
    struct platform_ports ports;
    if (!dir || !*dir || platform_ports_load(dir, &ports) < 0) {
        cli_error("status: %s is not a platform directory (run steep up --dir DIR)",
                  dir && *dir ? dir : "(none)");
        return CLI_USAGE;
    }
    struct supervised_row rows[PLATFORM_MAX_PROCESSES];
    struct status_out o = {.json = json, .list = json ? json_array() : NULL, .rows = rows};
    o.n_rows = load_supervised(dir, rows, PLATFORM_MAX_PROCESSES);
    bool all_up = show(&o, dir, "supervisor", 0);
    for (size_t i = 0; i < platform_n_services; i++) {
        int port = *(const int *)((const char *)&ports + platform_services[i].port_field);
        all_up = show(&o, dir, platform_services[i].name, port) && all_up;
    }
    for (int i = 1; i <= PLATFORM_MAX_PROCESSES; i++) {
        char name[32];
        platform_pathf(name, sizeof(name), "execution-%d", i);
        if (platform_pid_read(dir, name) < 0 && !find_row(rows, o.n_rows, name))
            break;
        all_up = show(&o, dir, name, 0) && all_up;
    }
    if (platform_pid_read(dir, "files") >= 0 || find_row(rows, o.n_rows, "files"))
        all_up = show(&o, dir, "files", ports.files) && all_up;
    if (json) {
        if (cli_json_print(json_pack("{s:o,s:b,s:b}", "services", o.list, "simulation", 1,
                                     "running", all_up)) != CLI_OK)
            return CLI_FAILED;
    } else
        printf("TEE back-end: sim (simulation, not hardware attestation)\n");
    return all_up ? CLI_OK : CLI_FAILED;
}
