/*
 * Entry points of the built-in functions, one file each (registry.c maps
 * names to them). Each has the struct steep_builtin run signature.
 */
#ifndef STEEP_FUNCTIONS_BUILTINS_H
#define STEEP_FUNCTIONS_BUILTINS_H

#include "functions/function.h"

#define STEEP_FN(name)                                                                             \
    int name(const char *args_json, struct steep_fn_io *io, struct steep_buf *summary)

STEEP_FN(steep_fn_echo);
STEEP_FN(steep_fn_ordered_set_intersect);
STEEP_FN(steep_fn_ordered_set_join);
STEEP_FN(steep_fn_private_join_and_compute);
STEEP_FN(steep_fn_password_check);
STEEP_FN(steep_fn_rsa_sign);
STEEP_FN(steep_fn_online_decrypt);
STEEP_FN(steep_fn_logistic_regression_predict);
STEEP_FN(steep_fn_gbdt_predict);
STEEP_FN(steep_fn_gbdt_train);
STEEP_FN(steep_fn_logistic_regression_train);
STEEP_FN(steep_fn_principal_components_analysis);
STEEP_FN(steep_fn_face_detection);
STEEP_FN(steep_fn_test_crash);
STEEP_FN(steep_fn_test_loop);
STEEP_FN(steep_fn_test_alloc);
STEEP_FN(steep_fn_test_fork);
STEEP_FN(steep_fn_test_network);
STEEP_FN(steep_fn_test_open_file);
STEEP_FN(steep_fn_test_sleep);
STEEP_FN(steep_fn_test_write_big);
STEEP_FN(steep_fn_test_signal_escape);
STEEP_FN(steep_fn_test_stat_path);
STEEP_FN(steep_fn_test_identity);

/* Opens an input / creates an output through io, with Teaclave's messages
 * when the runtime has no such file. */
struct steep_reader *steep_fn_open_input(struct steep_fn_io *io, const char *name);
struct steep_writer *steep_fn_create_output(struct steep_fn_io *io, const char *name);
/* Closes a writer keeping an earlier error message if rc was already -1. */
int steep_fn_close_output(struct steep_writer *w, int rc);

#endif
