/*
 * Confinement of the task runner (runner_confine.c): the runner process the
 * node starts becomes the first process of a fresh PID namespace, enters
 * the task's namespaces and empty root and drops to the sandbox user
 * (steep_runner_enter), forks the worker that runs the function
 * (steep_runner_supervise), and the worker shuts itself in before the
 * function's first instruction (steep_runner_confine).
 */
#ifndef STEEP_EXECUTORS_RUNNER_CONFINE_H
#define STEEP_EXECUTORS_RUNNER_CONFINE_H

#include <stdbool.h>
#include <stdint.h>

#include "runner_protocol.h"

#define STEEP_SANDBOX_DEFAULT_UID 65534u
#define STEEP_SANDBOX_DEFAULT_GID 65534u

struct steep_runner_options {
    uint32_t uid, gid; /* the host user the task runs as (never 0) */
    /* false only with [execution] insecure_without_user_namespace */
    bool user_namespace;
    /* Test builds only: refused system calls are reported and fail with
     * ENOSYS instead of ending the task (the syscall audit). */
    bool audit;
};

void steep_runner_options_default(struct steep_runner_options *options);
/* --uid=N --gid=N --audit-syscalls --insecure-without-user-namespace */
int steep_runner_options_parse(int argc, char **argv, struct steep_runner_options *options);

/* Loads what the function may need later and cannot open under seccomp
 * (OpenSSL providers and its random generator, the time zone, glibc's
 * cached memory size for qsort). */
int steep_runner_prime(void);
/* As root and pid 1 of a new PID namespace: new mount, network, IPC and
 * UTS namespaces, pivot_root into the empty jail_dir, the sandbox user and
 * its own user namespace; dies with the node (channel is its link). */
int steep_runner_enter(const char *jail_dir, int channel,
                       const struct steep_runner_options *options);
/* Forks the worker. Returns 0 in the worker; the supervisor (pid 1 of the
 * namespace) waits for it, sends its wait status as an EXIT frame over
 * channel and exits, so it never returns. */
int steep_runner_supervise(int channel);
/* In the worker: rlimits, crash and violation reporting over channel, no
 * capabilities, PR_SET_NO_NEW_PRIVS, Landlock and the seccomp allow-list. */
int steep_runner_confine(const struct steep_runner_request *request, int channel, int highest_fd,
                         const struct steep_runner_options *options);
/* The whole start of a runner on channel: reads the node's first frame,
 * calls prepare (what must happen before the sandbox: priming, loading a
 * module) and runs the chain above. A REQUEST is a one-shot runner's task;
 * a PREPARE makes a pre-started runner (runner_confine.c, "pre-started
 * runners"), which confines itself, answers READY, waits for its task and
 * leaves *request holding it. Returns 0 in the confined worker, -1 with the
 * task's failure reason, -2 when no usable first frame came (logged). */
int steep_runner_start(int channel, const struct steep_runner_options *options,
                       int (*prepare)(struct steep_runner_request *request),
                       struct steep_runner_request *request);
/* Tells the node when the address space ran out or an allocation failed. */
void steep_runner_report_memory(void);
/* True once a malloc/calloc/realloc of the runner failed (runner_memory.c). */
bool steep_runner_allocation_failed(void);
/* From now on, heap allocations beyond bytes in use fail (runner_memory.c). */
void steep_runner_limit_heap(uint64_t bytes);

#endif
