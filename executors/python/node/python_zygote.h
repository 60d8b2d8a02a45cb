/*
 * Node side of the Python executor: the node's zygote.
 *
 * A node keeps one steep-python-runner in zygote mode (interpreter and
 * numpy already loaded) and asks it for each Python task's process:
 * steep_python_zygote_spawn() hands it the task's channel and files over
 * the control socket (SCM_RIGHTS) with the runner options a
 * steep-task-runner gets on its command line (sandbox user, audit, ...),
 * and gets back the pid of a fresh fork that is this node's own child and
 * pid 1 of a new PID namespace (clone with CLONE_PARENT | CLONE_NEWPID),
 * so steep_sandbox_run() watches, kills (the whole namespace), reaps and
 * explains it like any task runner. A zygote that died or stopped answering is killed and started
 * again on the next request; a task never shares a process with another.
 * Requests are serialised by a lock (a fork takes about a millisecond).
 */
#ifndef STEEP_EXECUTORS_PYTHON_ZYGOTE_H
#define STEEP_EXECUTORS_PYTHON_ZYGOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct steep_python_zygote;

/* Starts the zygote (it initialises in the background). result_limit: the
 * largest result a Python function may return, in bytes. */
struct steep_python_zygote *steep_python_zygote_start(const char *runner_path,
                                                      uint64_t result_limit);
/* The largest control message: a u32 and the runner options. */
#define STEEP_PYTHON_ZYGOTE_MESSAGE 512

/* For struct steep_sandbox_spawner: fds[0] the channel, then the task
 * files, placed at descriptors 3, 4, ... of the task process; argv the
 * runner options (argv[0] ignored). */
int steep_python_zygote_spawn(void *zygote, const int *fds, size_t n, char *const *argv,
                              pid_t *pid);
/* The zygote's pid (0 when none runs), for tests and measurements. */
pid_t steep_python_zygote_pid(struct steep_python_zygote *zygote);
void steep_python_zygote_stop(struct steep_python_zygote *zygote);

/* "steep-python-runner" next to the running executable. */
int steep_python_default_runner(char *path, size_t size);

#endif
