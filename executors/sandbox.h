/*
 * One sandboxed process per task.
 *
 * steep_sandbox_run() starts the task runner (steep-task-runner) as pid 1
 * of a new PID namespace with the task's files as inherited descriptors and
 * one socket to talk over (runner_protocol.h). The runner confines itself
 * before it touches the function (runner_confine.c): the sandbox user
 * (never root) in its own user, network, mount, IPC and UTS namespaces,
 * pivot_root into an empty directory, no capabilities, rlimits on address
 * space, CPU time, file size and open files, PR_SET_NO_NEW_PRIVS, Landlock
 * without any file system access and a seccomp allow-list that refuses
 * socket, open, fork/clone and everything else the function does not
 * need. The node adds a wall-clock timeout and cancellation, and
 * turns the way the process ended into a reason a user can act on:
 * "function crashed: signal 11 (SIGSEGV)", "function exceeded its CPU time
 * limit", "function violated the sandbox policy (syscall socket)", ...
 */
#ifndef STEEP_EXECUTORS_SANDBOX_H
#define STEEP_EXECUTORS_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/error.h"
#include "runner_protocol.h"

struct steep_sandbox_limits {
    uint32_t cpu_seconds;     /* RLIMIT_CPU */
    uint32_t wall_seconds;    /* killed after this long */
    uint32_t open_files;      /* RLIMIT_NOFILE */
    uint64_t memory_bytes;    /* address space on top of the runner's own */
    uint64_t file_size_bytes; /* RLIMIT_FSIZE */
    uint64_t message_bytes;   /* the RPC message limit: arguments, payload, result */
};

/* Defaults: 300 s CPU and wall clock, 1 GiB memory, 4 GiB per file, 64 files,
 * 4 MiB messages. */
void steep_sandbox_limits_default(struct steep_sandbox_limits *limits);

/* How every runner of this process is confined ([execution] sandbox_uid,
 * sandbox_gid, insecure_without_user_namespace). */
struct steep_sandbox_options {
    uint32_t uid, gid; /* the host user runners run as; default 65534 (nobody/nogroup) */
    /* For hosts without user namespaces, tests only: runners still get
     * every other namespace and the sandbox user, but no user namespace. */
    bool insecure_without_user_namespace;
    /* Test builds only (STEEP_TEST_PAYLOADS; also the environment variable
     * STEEP_SANDBOX_AUDIT=1): refused system calls fail with ENOSYS and are
     * recorded instead of ending the task, and a task that made any fails
     * with "sandbox audit: refused system calls: a, b". */
    bool audit_syscalls;
};

void steep_sandbox_options_default(struct steep_sandbox_options *options);
/* Call before the first task; refuses uid or gid 0. */
int steep_sandbox_configure(const struct steep_sandbox_options *options);
/* At node start: logs which Landlock ABI is in force (or that there is
 * none) and runs builtin-echo through the real sandbox in a scratch
 * directory under work_dir; an error says why the sandbox cannot work on
 * this host (the node must then not start). */
int steep_sandbox_check(const char *runner_path, const char *work_dir);

/* Lets another thread cancel the task running in a slot. */
struct steep_sandbox_control {
    pthread_mutex_t lock;
    pid_t pid; /* 0 when no process runs */
    bool cancel;
};

void steep_sandbox_control_init(struct steep_sandbox_control *control);
void steep_sandbox_control_destroy(struct steep_sandbox_control *control);
/* Kills the running process (if any) and marks the task canceled. */
void steep_sandbox_cancel(struct steep_sandbox_control *control);

struct steep_sandbox_output {
    char name[256];
    uint8_t cmac[16];
};

struct steep_sandbox_result {
    bool ok;
    bool canceled;
    struct steep_buf summary;             /* on success */
    char reason[STEEP_ERROR_MAX];         /* on failure */
    struct steep_sandbox_output *outputs; /* cmacs of the staged outputs written */
    size_t n_outputs;
    char **log; /* log lines (only when the request asked for them) */
    size_t n_log;
};

/* The file to be opened by the runner is file->fd in the node; run() places
 * it at the descriptor number the runner sees. */
struct steep_sandbox_task {
    const char *runner_path;
    struct steep_runner_request *request; /* fd fields: the node's descriptors */
    struct steep_sandbox_limits limits;
    struct steep_sandbox_control *control; /* may be NULL */
};

/*
 * Runs the task to its end. Returns 0 when the sandbox ran (result->ok tells
 * whether the function succeeded, result->reason why not) and -1 when the
 * process could not be started.
 */
int steep_sandbox_run(const struct steep_sandbox_task *task, struct steep_sandbox_result *result);

/* Starts a task process in place of clone+exec of runner_path (the Python
 * zygote): fds[0] is the channel, then the task files, to be placed at
 * descriptors 3, 4, ...; argv holds the runner options a steep-task-runner
 * gets (argv[0] is a name, then --uid=N --gid=N, ...; NULL-terminated,
 * steep_runner_options_parse). The process must be a child of this one
 * and pid 1 of a new PID namespace, so the whole task dies with it, and
 * it enters the sandbox exactly as steep-task-runner does. */
struct steep_sandbox_spawner {
    int (*spawn)(void *arg, const int *fds, size_t n, char *const *argv, pid_t *pid);
    void *arg;
};

/* steep_sandbox_run() with the process from spawner (runner_path unused). */
int steep_sandbox_run_spawned(const struct steep_sandbox_task *task,
                              const struct steep_sandbox_spawner *spawner,
                              struct steep_sandbox_result *result);
void steep_sandbox_result_free(struct steep_sandbox_result *result);

/* ---- pre-started runners (runner_pool.h) ---- */

/* A runner started ahead of its task: it enters the sandbox and confines
 * itself completely for one task of executor, then answers READY on its
 * channel and waits (runner_confine.c, "pre-started runners"). */
struct steep_sandbox_prestart {
    const char *runner_path;
    const struct steep_sandbox_spawner *spawner; /* NULL: clone + exec runner_path */
    const char *executor;                        /* "builtin", "python", "wamr" */
    const char *jail_dir;                        /* an empty directory, read-only to the runner */
    struct steep_sandbox_limits limits;
    int module_fd;       /* wamr: the sealed memfd of the compiled module; else -1 */
    unsigned generation; /* steep_sandbox_generation() when started */
};

/* Changes with every steep_sandbox_configure() and with the audit mode
 * (test builds): a pre-started runner serves only the configuration it
 * was started under. */
unsigned steep_sandbox_generation(void);
/* Starts the runner and sends PREPARE; the caller reads READY (or the
 * runner's end) from *channel and owns pid (kill and reap). */
int steep_sandbox_prestart(const struct steep_sandbox_prestart *prestart, pid_t *pid, int *channel);
/* steep_sandbox_run() in a ready pre-started runner of the task's executor,
 * started with the same limits; the task's files go over the channel
 * (channel is consumed, the runner reaped). Returns 1, nothing of the
 * task sent, when the runner was already gone (it is reaped; the caller
 * starts the task the ordinary way). */
int steep_sandbox_run_prestarted(const struct steep_sandbox_task *task, pid_t pid, int channel,
                                 struct steep_sandbox_result *result);

/* "steep-task-runner" next to the running executable. */
int steep_sandbox_default_runner(char *path, size_t size);
/* The runner called name next to the running executable. */
int steep_sandbox_runner_beside(const char *name, char *path, size_t size);

#endif
