/*
 * Built-in functions (Teaclave's builtin-* executor) behind one interface.
 *
 * The execution service opens the task's files and hands them to a function
 * through struct steep_fn_io: open_input/create_output take the function's
 * file name ("input_data", "output_file", ...), return NULL with
 * steep_error_get() set when the task has no such file or it cannot be
 * opened. The function closes every stream it opened (writers' close()
 * finishes the file and reports its cmac to the runtime through the writer
 * implementation; the runtime records it). log() receives one log line
 * without newline, in Teaclave's shape "[INFO teaclave_function::echo] msg".
 *
 * steep_builtin_run() parses args_json (a JSON object text), runs the
 * function and appends its return value (the task's "summary") to summary.
 * It returns 0, or -1 with steep_error_get() = the task's failure reason.
 * functions/runtime.h is a ready-made steep_fn_io over staged files.
 *
 * Built-ins: builtin-echo, builtin-ordered-set-intersect,
 * builtin-ordered-set-join, builtin-private-join-and-compute,
 * builtin-password-check, builtin-rsa-sign, builtin_online_decrypt,
 * builtin-gbdt-train, builtin-gbdt-predict, builtin-logistic-regression-train,
 * builtin-logistic-regression-predict, builtin_principal_components_analysis,
 * builtin-face-detection;
 * with STEEP_TEST_PAYLOADS also test-crash, test-loop, test-alloc, test-fork,
 * test-network, test-open-file, test-sleep, test-write-big, test-signal-escape,
 * test-stat-path, test-identity (functions/test_payloads.c, not even compiled
 * without the option).
 */
#ifndef STEEP_FUNCTIONS_FUNCTION_H
#define STEEP_FUNCTIONS_FUNCTION_H

#include "core/buf.h"
#include "crypto/stream.h"

struct steep_fn_io {
    void *ctx;
    struct steep_reader *(*open_input)(void *ctx, const char *name);
    struct steep_writer *(*create_output)(void *ctx, const char *name);
    void (*log)(void *ctx, const char *line);
    /* A file the platform supplies to a function besides the task's own
     * (the face detector's model, "face_model"); NULL with the reason when
     * the node has none. May itself be NULL: no resources at all. */
    struct steep_reader *(*open_resource)(void *ctx, const char *name);
};

struct steep_builtin {
    const char *name; /* e.g. "builtin-echo" */
    int (*run)(const char *args_json, struct steep_fn_io *io, struct steep_buf *summary);
};

/* NULL (with steep_error_get() = "Function not found.") for an unknown name. */
const struct steep_builtin *steep_builtin_find(const char *name);
int steep_builtin_run(const struct steep_builtin *fn, const char *args_json, struct steep_fn_io *io,
                      struct steep_buf *summary);

/* Formats a log line "[LEVEL target] message" and passes it to io->log (if set). */
void steep_fn_log(struct steep_fn_io *io, const char *level, const char *target, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

#endif
