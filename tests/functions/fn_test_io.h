/*
 * Built-in functions under test: inputs and outputs are named files with a
 * scheme (raw or teaclave-file-128 with a random key), logs are collected,
 * and the function runs inside the real sandbox (fn_test_run).
 */
#ifndef STEEP_TESTS_FN_TEST_IO_H
#define STEEP_TESTS_FN_TEST_IO_H

#include "crypto/file_crypto.h"
#include "functions/function.h"

#define FN_TEST_MAX_FILES 16

struct fn_test_file {
    const char *name;
    char path[4096];
    struct steep_file_crypto crypto;
};

struct fn_test_io {
    struct steep_fn_io io;
    struct fn_test_file inputs[FN_TEST_MAX_FILES];
    size_t input_count;
    struct fn_test_file outputs[FN_TEST_MAX_FILES];
    size_t output_count;
    struct steep_buf log;
};

void fn_test_io_init(struct fn_test_io *t);
void fn_test_io_free(struct fn_test_io *t);
/* A plaintext input at a fixture path (relative to the functions fixtures). */
void fn_test_add_fixture(struct fn_test_io *t, const char *name, const char *rel);
/* An encrypted tf128 fixture (key zero). */
void fn_test_add_fixture_tf128(struct fn_test_io *t, const char *name, const char *rel);
/* An input with the given contents, stored as a tf128 file with a random key. */
void fn_test_add_input_bytes(struct fn_test_io *t, const char *name, const void *data, size_t len);
/* An output stored under the temp dir, tf128 with a random key when encrypted. */
void fn_test_add_output(struct fn_test_io *t, const char *name, int encrypted);
/* Reads an output back (decrypting); returns its bytes NUL-terminated. */
void fn_test_read_output(struct fn_test_io *t, const char *name, struct steep_buf *out);
/* Runs name with args in the real sandbox (a task runner process with the
 * files as descriptors, as the execution node runs it); 0 with summary
 * filled, or -1 with the failure reason as the error. */
int fn_test_run(struct fn_test_io *t, const char *name, const char *args,
                struct steep_buf *summary);
/* Calls the function in this process (the test payloads the sandbox refuses). */
int fn_test_run_in_process(struct fn_test_io *t, const char *name, const char *args,
                           struct steep_buf *summary);

#endif
