/*
 * Pre-started runners: no process or namespace is created on a task's path.
 *
 * A node keeps, per executor kind, a few runners that are already started
 * and completely confined ([execution] runner_pool of them; 0 turns the
 * pool off and every task starts its own runner, as before):
 *   builtin  steep-task-runner prepared for the builtin executor;
 *   python   a child of the node's Python zygote (executors/python);
 *   wamr     steep-task-runner with the compiled module of the wasm
 *            function the node ran last already loaded (a module must be
 *            mapped executable before the runner confines itself, so a
 *            runner can only wait for a task of a module it was started
 *            with; the first task of another module starts its own runner
 *            and makes the pool switch to that module).
 * Each was started by the node exactly as a one-shot runner (its child,
 * pid 1 of a new PID namespace), ran the whole sandbox chain
 * (runner_confine.c: namespaces, empty root, sandbox user, supervisor and
 * worker, rlimits, no capabilities, Landlock, seccomp) and said READY; the
 * task's request and descriptors then come over its channel, which needs
 * no privilege. A runner serves one task and exits; nothing of one task
 * can reach another's runner.
 *
 * A background thread refills the pool as runners are taken, watches the
 * idle ones (one that dies while waiting, or says anything but READY, is
 * reaped and replaced, never given a task) and backs off when runners
 * cannot start (1 s doubling to 30 s, logged). A task finds no ready
 * runner when the pool is empty (a burst) or its limits or the audit mode
 * differ from the pool's; it then starts a runner of its own, as before.
 */
#ifndef STEEP_EXECUTORS_RUNNER_POOL_H
#define STEEP_EXECUTORS_RUNNER_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox.h"

struct steep_python_zygote;
struct steep_runner_pool;

struct steep_runner_pool_config {
    unsigned size;                      /* ready runners kept per kind (1..64) */
    const char *runner_path;            /* steep-task-runner */
    struct steep_python_zygote *python; /* NULL: no Python runners */
    const char *work_dir;               /* the runners' shared empty root is made below it */
    struct steep_sandbox_limits limits; /* the node's task limits */
};

struct steep_runner_pool_stats {
    uint64_t started;  /* runners started */
    uint64_t served;   /* tasks handed to a ready runner */
    uint64_t missed;   /* tasks that found none and started their own */
    uint64_t replaced; /* idle runners found dead and replaced */
    uint64_t failed;   /* runners that could not get ready */
    size_t ready;      /* ready now, all kinds */
};

/* NULL with the reason when the pool cannot be set up. */
struct steep_runner_pool *steep_runner_pool_start(const struct steep_runner_pool_config *config);
/* Kills and reaps the idle runners; NULL is ignored. */
void steep_runner_pool_stop(struct steep_runner_pool *pool);

/* A ready runner for one task of executor ("builtin", "python", "wamr";
 * module_fd: the task's compiled module, else -1) confined with limits.
 * 1: *pid and *channel are the caller's (steep_sandbox_run_prestarted);
 * 0: none (pool NULL or empty, other limits, other module). */
int steep_runner_pool_take(struct steep_runner_pool *pool, const char *executor, int module_fd,
                           const struct steep_sandbox_limits *limits, pid_t *pid, int *channel);
/* wamr: the pool's wasm runners are started with this module from now on
 * (descriptor duplicated; runners of the module before are retired). */
void steep_runner_pool_use_module(struct steep_runner_pool *pool, int module_fd);

void steep_runner_pool_stats(struct steep_runner_pool *pool, struct steep_runner_pool_stats *stats);
/* The pids of the ready runners of executor (tests): count returned, at
 * most max stored. */
size_t steep_runner_pool_ready_pids(struct steep_runner_pool *pool, const char *executor,
                                    pid_t *pids, size_t max);
/* Waits up to timeout_ms until at least count runners of executor are ready. */
bool steep_runner_pool_wait_ready(struct steep_runner_pool *pool, const char *executor,
                                  size_t count, int timeout_ms);

#endif
