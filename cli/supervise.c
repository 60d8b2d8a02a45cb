/*
 * Process supervision of a local platform.
 *
 * `steep up` forks a supervisor (its own session, cwd DIR, pid in
 * DIR/run/supervisor.pid, log DIR/logs/supervisor.log) which is the parent
 * of every process of the platform: it starts them in dependency order,
 * each in its own session with its log under DIR/logs and its pid under
 * DIR/run, waits until each listens, and tells `steep up` through a pipe
 * that the platform is ready (EOF without the byte: it failed, and the
 * messages went to up's own stderr). From then on it reaps: a process that
 * dies is restarted after a backoff (250 ms doubling to 8 s), at most
 * max_restarts times in a row (a process that ran 30 s starts the count
 * afresh; 0 = never restart); each death is logged with its exit status or
 * signal. DIR/run/supervisor.status (rewritten whole on every change) holds
 * per process: pid, start time, restarts and state, for `steep status`.
 * SIGTERM (what `steep down` sends it first) stops every process: SIGTERM to
 * each session, SIGKILL after 5 s.
 */
#include "cli.h"
#include "platform.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
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

void platform_log_tail(const char *log_path)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    char lines[12][512];
    int n = 0;
    while (fgets(lines[n % 12], sizeof(lines[0]), f))
        n++;
    fclose(f);
    fprintf(stderr, "--- last lines of %s ---\n", log_path);
    for (int i = n > 12 ? n - 12 : 0; i < n; i++)
        fputs(lines[i % 12], stderr);
}

/* Starts one process in its own session; records its pid. */
/* A process's published admin port, and the temporary file of a write a
 * kill -9 cut short (steep_write_file_atomic writes NAME.admin.tmp.PID,
 * then renames it). */
static void remove_admin_files(const char *run, const char *name)
{
    char path[PATH_MAX];
    platform_pathf(path, sizeof(path), "%s/%s.admin", run, name);
    unlink(path);
    platform_pathf(path, sizeof(path), "%s/%s.admin.tmp.*", run, name);
    glob_t found;
    if (glob(path, GLOB_NOSORT, NULL, &found) == 0) {
        for (size_t i = 0; i < found.gl_pathc; i++)
            unlink(found.gl_pathv[i]);
    }
    globfree(&found);
}

int platform_spawn(const char *dir, const char *name, const char *exe, char *const extra_argv[])
{
    char exe_path[PATH_MAX], log_path[PATH_MAX], pid_path[PATH_MAX], config[PATH_MAX];
    char admin_path[PATH_MAX];
    if (exe[0] == '/') /* a system program (etcd) */
        platform_pathf(exe_path, sizeof(exe_path), "%s", exe);
    else
        platform_pathf(exe_path, sizeof(exe_path), "%s/%s", cli_bin_dir(), exe);
    /* Each service's admin port (metrics, health): loopback, a port of its
     * choosing, published in DIR/run/NAME.admin for status and metrics. */
    platform_pathf(admin_path, sizeof(admin_path), "%s/run/%s.admin", dir, name);
    char run_dir[PATH_MAX];
    platform_pathf(run_dir, sizeof(run_dir), "%s/run", dir);
    remove_admin_files(run_dir, name);
    platform_pathf(log_path, sizeof(log_path), "%s/logs/%s.log", dir, name);
    platform_pathf(pid_path, sizeof(pid_path), "%s/run/%s.pid", dir, name);
    platform_pathf(config, sizeof(config), "%s/steep.toml", dir);
    if (access(exe_path, X_OK) < 0) {
        cli_error("%s is missing (build with `make`)", exe_path);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* The supervisor waits for signals with them blocked; a service
         * starts with the default mask. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        int null = open("/dev/null", O_RDONLY);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (null < 0 || log < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(log, STDOUT_FILENO) < 0 ||
            dup2(log, STDERR_FILENO) < 0)
            _exit(126);
        if (chdir(dir) < 0)
            _exit(126);
        if (!extra_argv && (setenv("STEEP_ADMIN_LISTEN", "127.0.0.1:0", 1) < 0 ||
                            setenv("STEEP_ADMIN_PORT_FILE", admin_path, 1) < 0))
            _exit(126);
        const char *argv[16] = {exe};
        int argc = 1;
        if (extra_argv)
            for (; extra_argv[argc - 1] && argc < 15; argc++)
                argv[argc] = extra_argv[argc - 1];
        else {
            argv[argc++] = "--config";
            argv[argc++] = config;
        }
        argv[argc] = NULL;
        execv(exe_path, (char *const *)argv);
        _exit(127);
    }
    FILE *f = fopen(pid_path, "w");
    if (!f) {
        cli_error("cannot write %s: %s", pid_path, strerror(errno));
        kill(pid, SIGKILL);
        return -1;
    }
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
    return pid;
}

/* Waits until the process listens on port (or, with port 0, stays up for a moment). */
int platform_wait_ready(const char *dir, const char *name, int pid, int port, int timeout_ms)
{
    char log_path[PATH_MAX];
    platform_pathf(log_path, sizeof(log_path), "%s/logs/%s.log", dir, name);
    long long deadline = platform_now_ms() + timeout_ms;
    long long settled = platform_now_ms() + 300;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid || !platform_pid_alive(pid)) {
            cli_error("%s exited during start-up", name);
            platform_log_tail(log_path);
            return -1;
        }
        if (port ? platform_pid_listens_on(pid, port) : platform_now_ms() > settled)
            return 0;
        if (platform_now_ms() > deadline) {
            cli_error("%s did not become ready within %d ms", name, timeout_ms);
            platform_log_tail(log_path);
            return -1;
        }
        usleep(20 * 1000);
    }
}

/* Waits up to ms for pid (ours) to end; SIGKILLs its session after that. */
static bool stop_wait(const char *dir, int pid, long long ms)
{
    long long deadline = platform_now_ms() + ms;
    while (platform_pid_ours(dir, pid) && platform_now_ms() < deadline) {
        waitpid(pid, NULL, WNOHANG);
        usleep(20 * 1000);
    }
    if (!platform_pid_ours(dir, pid))
        return true;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    return false;
}

/* Stops every process recorded under DIR/run: the supervisor first (so it
 * restarts nothing, and it stops its children itself), then whatever still
 * runs: SIGTERM, then SIGKILL after 5 s. */
int platform_stop_all(const char *dir, bool quiet)
{
    char run[PATH_MAX];
    platform_pathf(run, sizeof(run), "%s/run", dir);
    int pids[PLATFORM_MAX_PROCESSES];
    char names[PLATFORM_MAX_PROCESSES][64];
    int n = 0;
    DIR *listing = opendir(run);
    if (!listing)
        return errno == ENOENT ? 0 : -1;
    for (struct dirent *e; n < PLATFORM_MAX_PROCESSES && (e = readdir(listing)) != NULL;) {
        char name[256];
        platform_pathf(name, sizeof(name), "%s", e->d_name);
        size_t len = strlen(name);
        if (len < 5 || strcmp(name + len - 4, ".pid"))
            continue;
        name[len - 4] = '\0';
        int pid = platform_pid_read(dir, name);
        char pid_path[PATH_MAX];
        platform_pathf(pid_path, sizeof(pid_path), "%s/%s.pid", run, name);
        unlink(pid_path);
        remove_admin_files(run, name);
        if (!platform_pid_ours(dir, pid))
            continue;
        pids[n] = pid;
        platform_pathf(names[n], sizeof(names[n]), "%s", name);
        n++;
    }
    closedir(listing);
    /* Messages in name order, whatever order the directory lists. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char name[64];
            int pid = pids[j];
            memcpy(name, names[j], sizeof(name));
            memcpy(names[j], names[j - 1], sizeof(name));
            memcpy(names[j - 1], name, sizeof(name));
            pids[j] = pids[j - 1];
            pids[j - 1] = pid;
        }
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], "supervisor")) {
            kill(pids[i], SIGTERM);
            if (!stop_wait(dir, pids[i], 8000) && !quiet)
                fprintf(stderr, "steep: the supervisor did not stop in time; killed\n");
        }
    for (int i = 0; i < n; i++) {
        if (!platform_pid_ours(dir, pids[i]))
            continue;
        /* Services run in their own session: signal the whole group. */
        kill(-pids[i], SIGTERM);
        kill(pids[i], SIGTERM);
    }
    for (int i = 0; i < n; i++) {
        if (!stop_wait(dir, pids[i], 5000) && !quiet)
            fprintf(stderr, "steep: %s did not stop in time; killed\n", names[i]);
        if (!quiet && strcmp(names[i], "supervisor"))
            printf("stopped %s\n", names[i]);
    }
    char status[PATH_MAX];
    platform_pathf(status, sizeof(status), "%s/supervisor.status", run);
    unlink(status);
    return n;
}

/* Creates the key material that must exist once per platform. */

/* ---- the supervisor ---- */

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS   8000
#define HEALTHY_RUN_MS   30000

struct child {
    char name[32];
    const char *exe;
    char *argv[8];      /* extra argv (the file server), NULL-terminated; argv[0] NULL = none */
    char arg[PATH_MAX]; /* storage for one of argv (etcd's config file) */
    int port;           /* readiness: listening on port; 0 = staying up a moment */
    int timeout_ms;
    pid_t pid;            /* 0 while not running */
    long long started_ms; /* monotonic */
    time_t started_at;    /* wall clock, for uptime in status */
    int restarts;         /* over the supervisor's life */
    int failures;         /* consecutive deaths since a healthy run */
    long long restart_at; /* monotonic ms of the next start; 0 = none due */
    bool given_up;
    char last_exit[64];
};

struct supervisor {
    const char *dir;
    struct child children[PLATFORM_MAX_PROCESSES];
    size_t n;
    int max_restarts;
    char files_port[16];
    time_t started_at;
};

/* One line of the supervisor's log. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char when[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ INFO  supervisor: ", when, ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void describe_exit(int status, char *out, size_t len)
{
    if (WIFSIGNALED(status))
        platform_pathf(out, len, "killed by signal %d (%s)", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        platform_pathf(out, len, "exited with status %d", WEXITSTATUS(status));
    else
        platform_pathf(out, len, "ended (wait status %#x)", (unsigned)status);
}

static int child_start(struct supervisor *sv, struct child *c)
{
    int pid = platform_spawn(sv->dir, c->name, c->exe, c->argv[0] ? c->argv : NULL);
    if (pid < 0)
        return -1;
    c->pid = pid;
    c->started_ms = platform_now_ms();
    c->started_at = time(NULL);
    c->restart_at = 0;
    return pid;
}

static void write_status(const struct supervisor *sv)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    platform_pathf(path, sizeof(path), "%s/run/supervisor.status", sv->dir);
    platform_pathf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    /* name pid started_at restarts state; the supervisor itself first */
    fprintf(f, "supervisor %d %lld 0 running\n", (int)getpid(), (long long)sv->started_at);
    for (size_t i = 0; i < sv->n; i++) {
        const struct child *c = &sv->children[i];
        fprintf(f, "%s %d %lld %d %s\n", c->name, c->pid, (long long)c->started_at, c->restarts,
                c->pid        ? "running"
                : c->given_up ? "given-up"
                              : "restarting");
    }
    if (fclose(f) == 0)
        rename(tmp, path);
}

/* SIGTERM to every child's session, SIGKILL after 5 s; reaps them all. */
static void stop_children(struct supervisor *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        if (sv->children[i].pid > 0) {
            kill(-sv->children[i].pid, SIGTERM);
            kill(sv->children[i].pid, SIGTERM);
        }
    long long deadline = platform_now_ms() + 5000;
    for (size_t i = 0; i < sv->n; i++) {
        struct child *c = &sv->children[i];
        while (c->pid > 0) {
            pid_t done = waitpid(c->pid, NULL, WNOHANG);
            if (done == c->pid || (done < 0 && errno == ECHILD))
                break;
            if (platform_now_ms() > deadline) {
                kill(-c->pid, SIGKILL);
                kill(c->pid, SIGKILL);
                waitpid(c->pid, NULL, 0);
                break;
            }
            usleep(20 * 1000);
        }
        if (c->pid > 0) {
            char pid_path[PATH_MAX];
            platform_pathf(pid_path, sizeof(pid_path), "%s/run/%s.pid", sv->dir, c->name);
            unlink(pid_path);
            char run_dir[PATH_MAX];
            platform_pathf(run_dir, sizeof(run_dir), "%s/run", sv->dir);
            remove_admin_files(run_dir, c->name);
        }
        c->pid = 0;
    }
}

/* Starts every child in order, waiting for each; messages to up's stderr. */
static int start_all(struct supervisor *sv, long slots, const char *files)
{
    for (size_t i = 0; i < sv->n; i++) {
        struct child *c = &sv->children[i];
        if (c->port && platform_port_listening(c->port)) {
            cli_error("up: port %d (%s) is already in use by another program", c->port, c->name);
            return -1;
        }
        if (child_start(sv, c) < 0 ||
            platform_wait_ready(sv->dir, c->name, c->pid, c->port, c->timeout_ms) < 0) {
            c->pid = 0; /* reaped by platform_wait_ready, or never started */
            return -1;
        }
        if (!strcmp(c->exe, "steep-execution"))
            printf("started %-16s pid %d (%ld slots)\n", c->name, c->pid, slots);
        else if (!strcmp(c->name, "files"))
            printf("started %-16s pid %-7d http://127.0.0.1:%d/ serves %s\n", c->name, c->pid,
                   c->port, files);
        else
            printf("started %-16s pid %-7d port %d\n", c->name, c->pid, c->port);
        fflush(stdout);
    }
    return 0;
}

static void reap(struct supervisor *sv)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < sv->n; i++) {
            struct child *c = &sv->children[i];
            if (c->pid != pid)
                continue;
            long long ran = platform_now_ms() - c->started_ms;
            describe_exit(status, c->last_exit, sizeof(c->last_exit));
            c->pid = 0;
            /* its admin port died with it (and a write cut short leaves a
             * temporary file) */
            char run_dir[PATH_MAX];
            platform_pathf(run_dir, sizeof(run_dir), "%s/run", sv->dir);
            remove_admin_files(run_dir, c->name);
            if (ran >= HEALTHY_RUN_MS)
                c->failures = 0;
            if (c->failures >= sv->max_restarts) {
                c->given_up = true;
                say("%s (pid %d) %s after %.1f s; not restarted (%d restart%s in a row allowed)",
                    c->name, (int)pid, c->last_exit, ran / 1000.0, sv->max_restarts,
                    sv->max_restarts == 1 ? "" : "s");
                break;
            }
            long long delay = (long long)BACKOFF_FIRST_MS << (c->failures < 5 ? c->failures : 5);
            if (delay > BACKOFF_MAX_MS)
                delay = BACKOFF_MAX_MS;
            c->failures++;
            c->restart_at = platform_now_ms() + delay;
            say("%s (pid %d) %s after %.1f s; restarting in %lld ms (attempt %d of %d)", c->name,
                (int)pid, c->last_exit, ran / 1000.0, delay, c->failures, sv->max_restarts);
            break;
        }
    }
}

static void restart_due(struct supervisor *sv)
{
    long long now = platform_now_ms();
    for (size_t i = 0; i < sv->n; i++) {
        struct child *c = &sv->children[i];
        if (c->pid || c->given_up || !c->restart_at || c->restart_at > now)
            continue;
        if (child_start(sv, c) < 0) {
            c->restart_at = now + BACKOFF_MAX_MS;
            say("%s: cannot start: retrying in %d ms", c->name, BACKOFF_MAX_MS);
            continue;
        }
        c->restarts++;
        say("%s restarted: pid %d (restart %d)", c->name, (int)c->pid, c->restarts);
    }
}

static int next_wait_ms(const struct supervisor *sv)
{
    long long wait = 60000, now = platform_now_ms();
    for (size_t i = 0; i < sv->n; i++) {
        const struct child *c = &sv->children[i];
        if (!c->pid && !c->given_up && c->restart_at) {
            long long left = c->restart_at - now;
            wait = left < wait ? left : wait;
        }
    }
    return wait < 1 ? 1 : (int)wait;
}

/* The supervisor's life once the platform is up. Never returns. */
static void supervise(struct supervisor *sv, const sigset_t *signals)
{
    for (;;) {
        write_status(sv);
        int ms = next_wait_ms(sv);
        struct timespec timeout = {ms / 1000, (long)(ms % 1000) * 1000000};
        int sig = sigtimedwait(signals, NULL, &timeout);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
            say("stopping on signal %d: stopping every process", sig);
            stop_children(sv);
            char path[PATH_MAX];
            platform_pathf(path, sizeof(path), "%s/run/supervisor.status", sv->dir);
            unlink(path);
            platform_pathf(path, sizeof(path), "%s/run/supervisor.pid", sv->dir);
            unlink(path);
            say("stopped");
            exit(0);
        }
        reap(sv);
        restart_due(sv);
    }
}

static void plan(struct supervisor *sv, const struct platform_plan *p)
{
    for (int i = 0; p->etcd && i < PLATFORM_ETCD_MEMBERS; i++) {
        struct child *c = &sv->children[sv->n++];
        platform_pathf(c->name, sizeof(c->name), "etcd-%d", i + 1);
        platform_pathf(c->arg, sizeof(c->arg), "%s/etcd/etcd-%d.yaml", sv->dir, i + 1);
        c->exe = PLATFORM_ETCD_EXE;
        c->argv[0] = "--config-file";
        c->argv[1] = c->arg;
        c->port = platform_etcd_client_port(p->port_base, i);
        c->timeout_ms = 15000;
    }
    for (size_t i = 0; i < platform_n_services; i++) {
        struct child *c = &sv->children[sv->n++];
        platform_pathf(c->name, sizeof(c->name), "%s", platform_services[i].name);
        c->exe = platform_services[i].exe;
        c->port = *(const int *)((const char *)p->ports + platform_services[i].port_field);
        /* on etcd, storage waits up to 30 s for a cluster still electing
         * its leader (lib/store/configured.c) before it listens */
        c->timeout_ms = p->etcd ? 45000 : 15000;
    }
    for (int i = 0; i < p->executors && sv->n < PLATFORM_MAX_PROCESSES - 1; i++) {
        struct child *c = &sv->children[sv->n++];
        platform_pathf(c->name, sizeof(c->name), "execution-%d", i + 1);
        c->exe = "steep-execution";
        c->timeout_ms = 15000;
    }
    if (p->files && p->files[0]) {
        struct child *c = &sv->children[sv->n++];
        platform_pathf(c->name, sizeof(c->name), "files");
        platform_pathf(sv->files_port, sizeof(sv->files_port), "%d", p->ports->files);
        c->exe = "steep";
        c->argv[0] = "serve-files";
        c->argv[1] = "--root";
        c->argv[2] = (char *)p->files;
        c->argv[3] = "--port";
        c->argv[4] = sv->files_port;
        c->port = p->ports->files;
        c->timeout_ms = 5000;
    }
}

int platform_supervise(const char *dir, const struct platform_plan *p)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        cli_error("up: pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("up: fork: %s", strerror(errno));
        close(ready[0]);
        close(ready[1]);
        return -1;
    }
    if (pid > 0) {
        close(ready[1]);
        char byte = 0;
        ssize_t got;
        while ((got = read(ready[0], &byte, 1)) < 0 && errno == EINTR)
            ;
        close(ready[0]);
        if (got == 1 && byte == 'R')
            return 0;
        waitpid(pid, NULL, 0); /* it failed and stopped what it started */
        return -1;
    }

    /* The supervisor. */
    close(ready[0]);
    setsid();
    static struct supervisor sv;
    sv.dir = dir;
    sv.max_restarts = p->max_restarts;
    sv.started_at = time(NULL);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGCHLD);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &signals, NULL);
    /* If `steep up` is gone (interrupted), telling it we are ready must fail
     * with EPIPE, not kill the supervisor of a running platform. Blocked,
     * not ignored: an ignored signal would stay ignored in the services. */
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_signal, NULL);
    char path[PATH_MAX], log_path[PATH_MAX];
    platform_pathf(path, sizeof(path), "%s/run/supervisor.pid", dir);
    platform_pathf(log_path, sizeof(log_path), "%s/logs/supervisor.log", dir);
    FILE *f = fopen(path, "w");
    if (chdir(dir) < 0 || !f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
        cli_error("up: cannot write %s: %s", path, strerror(errno));
        _exit(1);
    }
    plan(&sv, p);
    if (start_all(&sv, p->slots, p->files) < 0) {
        stop_children(&sv);
        unlink(path);
        _exit(1);
    }
    /* Ready: from now on stdout and stderr are the supervisor's log, so
     * `steep up` (and whoever reads its output) sees the end of it. */
    int null = open("/dev/null", O_RDONLY);
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (null < 0 || log < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(log, STDOUT_FILENO) < 0 ||
        dup2(log, STDERR_FILENO) < 0) {
        stop_children(&sv);
        _exit(1);
    }
    close(null);
    close(log);
    say("platform up: %zu processes; a process that dies is restarted at most %d time%s in a "
        "row",
        sv.n, sv.max_restarts, sv.max_restarts == 1 ? "" : "s");
    write_status(&sv);
    if (write(ready[1], "R", 1) != 1)
        say("steep up is gone before the platform was ready");
    close(ready[1]);
    supervise(&sv, &signals);
    return 0;
}
