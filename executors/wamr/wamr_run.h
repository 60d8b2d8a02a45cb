/*
 * Runner side of the WebAssembly executor (run.c): the two calls the task
 * runner makes, before and after it confines itself.
 */
#ifndef STEEP_EXECUTORS_WAMR_WAMR_RUN_H
#define STEEP_EXECUTORS_WAMR_WAMR_RUN_H

#include "core/buf.h"
#include "functions/function.h"
#include "runner_protocol.h"

/* Unconfined: takes the compiled module out of the request and loads it. */
int steep_wamr_runner_load(struct steep_runner_request *request);
/* Confined: runs it; the result (decimal text) is appended to summary. */
int steep_wamr_runner_run(const char *function_name, const char *arguments, struct steep_fn_io *io,
                          struct steep_buf *summary);

#endif
