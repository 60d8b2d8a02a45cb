/*
 * What every part of the launcher shares: paths and small file helpers, the
 * service table, the launch state (DIR/platform.state), ports and the pid
 * bookkeeping under DIR/run. See platform.h.
 */
#include "cli.h"
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

#define PORT(f) offsetof(struct platform_ports, f)
/* Dependency order: nothing is started before what it calls. */
const struct platform_service platform_services[] = {
    {"storage", "steep-storage", PORT(storage)},
    {"access-control", "steep-access-control", PORT(access_control)},
    {"authentication", "steep-authentication", PORT(authentication_internal)},
    {"management", "steep-management", PORT(management)},
    {"scheduler", "steep-scheduler", PORT(scheduler)},
    {"frontend", "steep-frontend", PORT(frontend)},
};
const size_t platform_n_services = sizeof(platform_services) / sizeof(platform_services[0]);

/* snprintf for paths and names. The platform directory is checked to be
 * short (cli_up), so results always fit; a wrapper keeps -Wformat-truncation
 * quiet without hiding real overflows elsewhere. */
void platform_pathf(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

long long platform_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int platform_path_join(char *out, size_t len, const char *a, const char *b)
{
    if (strlen(a) + strlen(b) + 2 > len) {
        cli_error("path too long: %s/%s", a, b);
        return -1;
    }
    platform_pathf(out, len, "%s/%s", a, b);
    return 0;
}

bool platform_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int platform_make_dir(const char *path, int mode)
{
    if (mkdir(path, (mode_t)mode) < 0 && errno != EEXIST) {
        cli_error("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Runs BIN_DIR/exe with args; stdout to out_path when given. Returns exit status. */
int platform_run_tool(const char *out_path, const char *exe, ...)
{
    char path[PATH_MAX];
    if (platform_path_join(path, sizeof(path), cli_bin_dir(), exe) < 0)
        return -1;
    const char *argv[32] = {exe};
    int argc = 1;
    va_list ap;
    va_start(ap, exe);
    for (const char *a; argc < 31 && (a = va_arg(ap, const char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0) {
        cli_error("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (out_path) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
                _exit(126);
        }
        execv(path, (char *const *)argv);
        fprintf(stderr, "steep: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_error("%s %s failed", exe, argc > 1 ? argv[1] : "");
        return -1;
    }
    return 0;
}

void platform_ports_from_base(int base, struct platform_ports *p)
{
    p->authentication_api = base;
    p->frontend = base + 1;
    p->authentication_internal = base + 10000;
    p->management = base + 10001;
    p->storage = base + 10002;
    p->access_control = base + 10003;
    p->scheduler = base + 10004;
    p->execution = base + 9994;
    p->files = 6789;
}

/* DIR/platform.state: how the platform was launched, reused by the next
 * `up` on the same DIR unless the command line says otherwise. */
int platform_state_load(const char *dir, struct platform_launch_state *st)
{
    char path[PATH_MAX];
    if (platform_path_join(path, sizeof(path), dir, "platform.state") < 0)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[PATH_MAX + 32];
    int seen = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "port_base %d", &st->port_base) == 1 ||
            sscanf(line, "files_port %d", &st->files_port) == 1 ||
            sscanf(line, "executors %d", &st->executors) == 1)
            seen++;
        else if (!strcmp(line, "backend etcd"))
            st->etcd = true;
        else if (!strncmp(line, "files ", 6))
            platform_pathf(st->files, sizeof(st->files), "%s", line + 6);
        else /* absent from a directory made before supervision: the default */
            sscanf(line, "max_restarts %d", &st->max_restarts);
    }
    fclose(f);
    if (seen != 3 || st->port_base < 1024 || st->port_base > 65535 - 10004)
        return -1;
    return 0;
}

int platform_state_save(const char *dir, const struct platform_launch_state *st)
{
    char path[PATH_MAX];
    if (platform_path_join(path, sizeof(path), dir, "platform.state") < 0)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f ||
        fprintf(f, "port_base %d\nfiles_port %d\nexecutors %d\nfiles %s\nmax_restarts %d\n%s",
                st->port_base, st->files_port, st->executors, st->files, st->max_restarts,
                st->etcd ? "backend etcd\n" : "") < 0 ||
        fclose(f) != 0) {
        cli_error("up: cannot write %s", path);
        return -1;
    }
    return 0;
}

int platform_ports_load(const char *dir, struct platform_ports *ports)
{
    struct platform_launch_state st = {0};
    if (platform_state_load(dir, &st) < 0)
        return -1;
    platform_ports_from_base(st.port_base, ports);
    ports->files = st.files_port;
    return 0;
}

int platform_run_number(const char *dir, const char *name, const char *suffix)
{
    char path[PATH_MAX];
    platform_pathf(path, sizeof(path), "%s/run/%s.%s", dir, name, suffix);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int number = -1;
    if (fscanf(f, "%d", &number) != 1)
        number = -1;
    fclose(f);
    return number;
}

int platform_pid_read(const char *dir, const char *name)
{
    return platform_run_number(dir, name, "pid");
}

bool platform_pid_ours(const char *dir, int pid)
{
    if (!platform_pid_alive(pid))
        return false;
    /* Every process `up` starts runs in the platform directory. A pid file
     * left by a process that died (kill -9) may name a recycled pid that now
     * belongs to someone else: never signal or count that one. */
    char want[PATH_MAX], link[64], cwd[PATH_MAX];
    if (!realpath(dir, want))
        return false;
    platform_pathf(link, sizeof(link), "/proc/%d/cwd", pid);
    ssize_t n = readlink(link, cwd, sizeof(cwd) - 1);
    if (n <= 0)
        return false;
    cwd[n] = '\0';
    return strcmp(cwd, want) == 0;
}

bool platform_pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

bool platform_port_listening(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* True when process pid itself holds a listening TCP socket on port: its
 * socket inodes (/proc/PID/fd) matched against the LISTEN entries of
 * /proc/net/tcp and tcp6. A port merely answering could belong to another
 * program that took it first. */
bool platform_pid_listens_on(int pid, int port)
{
    char path[64];
    platform_pathf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *fds = opendir(path);
    if (!fds)
        return false;
    unsigned long inodes[256];
    size_t n = 0;
    for (struct dirent *e; n < 256 && (e = readdir(fds)) != NULL;) {
        char link[128], target[64];
        platform_pathf(link, sizeof(link), "%s/%s", path, e->d_name);
        ssize_t len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (sscanf(target, "socket:[%lu]", &inodes[n]) == 1)
            n++;
    }
    closedir(fds);
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (size_t t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        if (!f)
            continue;
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            char local[128];
            unsigned state;
            unsigned long inode;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, " %*d: %127s %*s %x %*s %*s %*s %*d %*d %lu", local, &state, &inode) !=
                    3 ||
                state != 0x0A)
                continue;
            const char *colon = strrchr(local, ':');
            if (!colon || (int)strtol(colon + 1, NULL, 16) != port)
                continue;
            for (size_t i = 0; i < n; i++) {
                if (inodes[i] == inode) {
                    fclose(f);
                    return true;
                }
            }
        }
        fclose(f);
    }
    return false;
}
