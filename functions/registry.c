/*
 * The table of built-in functions (Teaclave's builtin executor dispatch by
 * name), the run wrapper and the log helper. Test payloads are registered
 * only when compiled with STEEP_TEST_PAYLOADS.
 */
#include "functions/builtins.h"
#include "functions/function.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct steep_builtin builtins[] = {
    {"builtin-echo", steep_fn_echo},
    {"builtin-ordered-set-intersect", steep_fn_ordered_set_intersect},
    {"builtin-ordered-set-join", steep_fn_ordered_set_join},
    {"builtin-private-join-and-compute", steep_fn_private_join_and_compute},
    {"builtin-password-check", steep_fn_password_check},
    {"builtin-rsa-sign", steep_fn_rsa_sign},
    {"builtin_online_decrypt", steep_fn_online_decrypt},
    {"builtin-logistic-regression-predict", steep_fn_logistic_regression_predict},
    {"builtin-gbdt-predict", steep_fn_gbdt_predict},
    {"builtin-gbdt-train", steep_fn_gbdt_train},
    {"builtin-logistic-regression-train", steep_fn_logistic_regression_train},
    {"builtin_principal_components_analysis", steep_fn_principal_components_analysis},
    {"builtin-face-detection", steep_fn_face_detection},
#ifdef STEEP_TEST_PAYLOADS
    {"test-crash", steep_fn_test_crash},
    {"test-loop", steep_fn_test_loop},
    {"test-alloc", steep_fn_test_alloc},
    {"test-fork", steep_fn_test_fork},
    {"test-network", steep_fn_test_network},
    {"test-open-file", steep_fn_test_open_file},
    {"test-sleep", steep_fn_test_sleep},
    {"test-write-big", steep_fn_test_write_big},
    {"test-signal-escape", steep_fn_test_signal_escape},
    {"test-stat-path", steep_fn_test_stat_path},
    {"test-identity", steep_fn_test_identity},
#endif
};

const struct steep_builtin *steep_builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    steep_error_set("Function not found.");
    return NULL;
}

int steep_builtin_run(const struct steep_builtin *fn, const char *args_json, struct steep_fn_io *io,
                      struct steep_buf *summary)
{
    ENSURE(fn, "Function not found.");
    return fn->run(args_json, io, summary);
}

void steep_fn_log(struct steep_fn_io *io, const char *level, const char *target, const char *fmt,
                  ...)
{
    if (!io || !io->log)
        return;
    char line[4096];
    int n = snprintf(line, sizeof(line), "[%s %s] ", level, target);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    io->log(io->ctx, line);
}
