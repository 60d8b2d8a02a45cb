/*
 * steep-task-runner: the process one task's function runs in.
 *
 * Started by the execution node (sandbox.c) as root and pid 1 of a new PID
 * namespace, with the task channel on descriptor 3 and the task's files on
 * the descriptors after it. It reads its request, enters the sandbox as
 * the sandbox user, forks the worker and supervises it; the worker confines
 * itself, runs the function and reports the outcome as frames
 * (runner_protocol.h). See runner_confine.c for the whole chain, also for
 * a pre-started runner (runner_pool.h), which gets the same chain before
 * it waits for its one task. It never
 * opens a path after confinement and holds only the staged keys of its own
 * task.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "builtin.h"
#include "runner_confine.h"
#include "runner_io.h"
#include "runner_protocol.h"

#define CHANNEL_FD 3

static int fail(const char *reason)
{
    steep_runner_frame_write(CHANNEL_FD, STEEP_RUNNER_ERROR, reason, strlen(reason));
    return 0;
}

static int run(const struct steep_runner_request *request)
{
    struct steep_runner_io runner_io;
    struct steep_buf summary = STEEP_BUF_INIT;
    steep_runner_io_init(&runner_io, request, CHANNEL_FD);
    if (steep_executor_run(request->executor, request->function_name, request->arguments,
                           &runner_io.io, &summary) < 0) {
        char reason[STEEP_ERROR_MAX];
        snprintf(reason, sizeof reason, "%s", steep_error_get());
        steep_buf_free(&summary);
        steep_runner_report_memory();
        return fail(reason);
    }
    if (summary.len > request->message_bytes) {
        char reason[STEEP_ERROR_MAX];
        snprintf(reason, sizeof reason,
                 "function result of %zu bytes exceeds the platform's message limit of %llu "
                 "bytes",
                 summary.len, (unsigned long long)request->message_bytes);
        steep_buf_free(&summary);
        return fail(reason);
    }
    /* A function that survived a failed allocation still hit its limit. */
    steep_runner_report_memory();
    int rc = steep_runner_frame_write(CHANNEL_FD, STEEP_RUNNER_OK, summary.data, summary.len);
    steep_buf_free(&summary);
    return rc;
}

/* Before the sandbox: libraries primed, a wasm module loaded (while the
 * runner may still map executable pages; none of it runs before the
 * worker is confined). */
static int prepare(struct steep_runner_request *request)
{
    GUARD(steep_runner_prime());
    return steep_executor_load(request);
}

int main(int argc, char **argv)
{
    struct steep_runner_request request;
    struct steep_runner_options options;

    steep_log_init("task-runner");
    if (steep_runner_options_parse(argc, argv, &options) < 0) {
        fail(steep_error_get());
        return 2;
    }
    int rc = steep_runner_start(CHANNEL_FD, &options, prepare, &request);
    if (rc == -2)
        return 2;
    if (rc < 0) {
        fail(steep_error_get());
        _exit(2);
    }
    rc = run(&request);
    steep_runner_request_free(&request);
    /* _exit: no atexit work that could need a refused syscall. */
    _exit(rc < 0 ? 2 : 0);
}
