/*
 * A ready-made struct steep_fn_io over staged files (Teaclave's
 * DefaultRuntime): each input name maps to a path, its crypto and the
 * expected cmac (checked when the function opens it: "Corrupted input
 * file: cmac mismatch"); each output name maps to a path and crypto, and
 * the cmac of the file is recorded when the function closes the writer.
 * Unknown names give Teaclave's "Invalid input file identifier." /
 * "Invalid output file identifier". Log lines are collected in `log`
 * (one per line) and also passed to on_log when set.
 */
#ifndef STEEP_FUNCTIONS_RUNTIME_H
#define STEEP_FUNCTIONS_RUNTIME_H

#include "crypto/file_crypto.h"
#include "functions/function.h"

#include <stdbool.h>

#define STEEP_FN_RUNTIME_MAX_FILES 64

struct steep_fn_file {
    char name[256];
    char path[4096];
    struct steep_file_crypto crypto;
    uint8_t cmac[16];
    bool has_cmac; /* inputs: a cmac to check; outputs: set once written */
};

struct steep_fn_runtime {
    struct steep_fn_io io; /* pass &rt->io to steep_builtin_run */
    struct steep_fn_file inputs[STEEP_FN_RUNTIME_MAX_FILES];
    size_t input_count;
    struct steep_fn_file outputs[STEEP_FN_RUNTIME_MAX_FILES];
    size_t output_count;
    struct steep_buf log;
    void (*on_log)(void *arg, const char *line);
    void *on_log_arg;
};

void steep_fn_runtime_init(struct steep_fn_runtime *rt);
/* expected_cmac may be NULL (no check, e.g. raw inputs). */
int steep_fn_runtime_add_input(struct steep_fn_runtime *rt, const char *name, const char *path,
                               const struct steep_file_crypto *crypto,
                               const uint8_t *expected_cmac);
int steep_fn_runtime_add_output(struct steep_fn_runtime *rt, const char *name, const char *path,
                                const struct steep_file_crypto *crypto);
/* The cmac of a written output, or NULL if the function did not finish it. */
const uint8_t *steep_fn_runtime_output_cmac(const struct steep_fn_runtime *rt, const char *name);
/* Wipes keys and frees the log. */
void steep_fn_runtime_free(struct steep_fn_runtime *rt);

#endif
