/*
 * The runner side of the Python executor (what runs inside the sandbox).
 *
 * steep-python-runner initialises one embedded CPython (python_embed.c:
 * isolated configuration, the prelude that loads numpy and the allowed
 * modules and then closes the import system), and then either runs one
 * task itself (direct mode, started like steep-task-runner) or becomes the
 * node's zygote (python_runner.c): it forks one process per task, which
 * confines itself before the payload's first byte runs. The task's files
 * reach the script through the _teaclave module (python_files.c) over the
 * same struct steep_fn_io, file crypto and cmac checks as built-ins.
 */
#ifndef STEEP_EXECUTORS_PYTHON_RUNNER_H
#define STEEP_EXECUTORS_PYTHON_RUNNER_H

#include <stdint.h>

#include "executors/runner_confine.h"
#include "functions/function.h"

#define STEEP_PYTHON_CHANNEL_FD 3

/* Interpreter and prelude, once per runner process (before any fork). */
int steep_python_init(void);
/* In the task's own process, pid 1 of a new PID namespace: reads the
 * request on STEEP_PYTHON_CHANNEL_FD, enters the sandbox with options,
 * forks and supervises the worker, which confines itself, runs
 * entrypoint(argv) and reports. Returns the exit status. */
int steep_python_task(uint64_t result_limit, const struct steep_runner_options *options);

/* The _teaclave extension module's init function (python_files.c). */
struct _object *steep_python_files_init(void);
void steep_python_files_bind(struct steep_fn_io *io);
/* Finishes every file the script left open (outputs report their cmac). */
int steep_python_files_close_all(void);

#endif
