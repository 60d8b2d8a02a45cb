/*
 * The builtin executor: which (function executor_type, task executor) pairs
 * it serves, and running a built-in function by name inside the runner.
 *
 * Pairs served: (Builtin, Builtin), (Python, MesaPy) (executors/python) and
 * (WAMicroRuntime, WAMicroRuntime) (executors/wamr); any other pair fails
 * with Teaclave's text "function not available: (<type>, <executor>)".
 */
#ifndef STEEP_EXECUTORS_BUILTIN_H
#define STEEP_EXECUTORS_BUILTIN_H

#include "core/buf.h"

/* Node side: the executor name sent to the runner ("builtin", "python"), or -1. */
int steep_executor_select(const char *executor_type, const char *executor,
                          const char **runner_executor);

struct steep_fn_io;
struct steep_runner_request;

/* Runner side, before confinement: what an executor must load while it
 * still may (the wamr executor's compiled module). -1: the task fails. */
int steep_executor_load(struct steep_runner_request *request);

/* Runner side: runs function_name of the given executor with the
 * arguments JSON; the summary is appended to summary. -1 with
 * steep_error_get() = the task's failure reason. */
int steep_executor_run(const char *runner_executor, const char *function_name,
                       const char *arguments, struct steep_fn_io *io, struct steep_buf *summary);

#endif
