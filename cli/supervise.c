/*
 * Process supervision of a local platform: starting a service in its own
 * session with its log under DIR/logs and its pid under DIR/run, waiting
 * until it listens, and stopping everything recorded under DIR/run.
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
int platform_spawn(const char *dir, const char *name, const char *exe, char *const extra_argv[])
{
    char exe_path[PATH_MAX], log_path[PATH_MAX], pid_path[PATH_MAX], config[PATH_MAX];
    platform_pathf(exe_path, sizeof(exe_path), "%s/%s", cli_bin_dir(), exe);
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
        setsid();
        int null = open("/dev/null", O_RDONLY);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (null < 0 || log < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(log, STDOUT_FILENO) < 0 ||
            dup2(log, STDERR_FILENO) < 0)
            _exit(126);
        if (chdir(dir) < 0)
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

/* Stops every process recorded under DIR/run: SIGTERM, then SIGKILL after 5 s. */
int platform_stop_all(const char *dir, bool quiet)
{
    char run[PATH_MAX];
    platform_pathf(run, sizeof(run), "%s/run", dir);
    int pids[PLATFORM_MAX_PROCESSES];
    char names[PLATFORM_MAX_PROCESSES][64];
    int n = 0;
    FILE *ls;
    char cmd[PATH_MAX + 32];
    platform_pathf(cmd, sizeof(cmd), "ls -1 '%s' 2>/dev/null", run);
    if (!(ls = popen(cmd, "r")))
        return -1;
    char line[256];
    while (n < PLATFORM_MAX_PROCESSES && fgets(line, sizeof(line), ls)) {
        line[strcspn(line, "\n")] = '\0';
        size_t len = strlen(line);
        if (len < 5 || strcmp(line + len - 4, ".pid"))
            continue;
        line[len - 4] = '\0';
        int pid = platform_pid_read(dir, line);
        char pid_path[PATH_MAX];
        platform_pathf(pid_path, sizeof(pid_path), "%s/%s.pid", run, line);
        unlink(pid_path);
        if (!platform_pid_ours(dir, pid))
            continue;
        /* Services run in their own session: signal the whole group. */
        kill(-pid, SIGTERM);
        kill(pid, SIGTERM);
        pids[n] = pid;
        platform_pathf(names[n], sizeof(names[n]), "%s", line);
        n++;
    }
    pclose(ls);
    long long deadline = platform_now_ms() + 5000;
    for (int i = 0; i < n; i++) {
        while (platform_pid_ours(dir, pids[i]) && platform_now_ms() < deadline) {
            waitpid(pids[i], NULL, WNOHANG);
            usleep(20 * 1000);
        }
        if (platform_pid_ours(dir, pids[i])) {
            kill(-pids[i], SIGKILL);
            kill(pids[i], SIGKILL);
            if (!quiet)
                fprintf(stderr, "steep: %s did not stop in time; killed\n", names[i]);
        }
        if (!quiet)
            printf("stopped %s\n", names[i]);
    }
    return n;
}

/* Creates the key material that must exist once per platform. */
