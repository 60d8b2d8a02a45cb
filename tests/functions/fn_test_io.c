/* Test runtime for the built-ins; see fn_test_io.h. fn_test_run hands the
 * files to the real task runner as descriptors, the way the execution node
 * does (executors/sandbox.h), so every assertion on a built-in's outputs
 * and errors holds inside the sandbox; fn_test_run_in_process calls the
 * function directly, for the test payloads that the sandbox refuses. */
#include "fn_test_io.h"
#include "test_util.h"

#include "core/error.h"
#include "executors/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct fn_test_file *find(struct fn_test_file *files, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(files[i].name, name) == 0)
            return &files[i];
    return NULL;
}

static struct steep_reader *open_input(void *ctx, const char *name)
{
    struct fn_test_io *t = ctx;
    struct fn_test_file *f = find(t->inputs, t->input_count, name);
    if (!f) {
        steep_error_set("Invalid input file identifier.");
        return NULL;
    }
    return steep_file_reader_open(f->path, &f->crypto, NULL, NULL);
}

static struct steep_writer *create_output(void *ctx, const char *name)
{
    struct fn_test_io *t = ctx;
    struct fn_test_file *f = find(t->outputs, t->output_count, name);
    if (!f) {
        steep_error_set("Invalid output file identifier");
        return NULL;
    }
    return steep_file_writer_create(f->path, &f->crypto, 1);
}

static void log_line(void *ctx, const char *line)
{
    struct fn_test_io *t = ctx;
    steep_buf_printf(&t->log, "%s\n", line);
}

void fn_test_io_init(struct fn_test_io *t)
{
    memset(t, 0, sizeof(*t));
    t->io.ctx = t;
    t->io.open_input = open_input;
    t->io.create_output = create_output;
    t->io.log = log_line;
}

void fn_test_io_free(struct fn_test_io *t)
{
    for (size_t i = 0; i < t->output_count; i++)
        unlink(t->outputs[i].path);
    for (size_t i = 0; i < t->input_count; i++)
        if (strstr(t->inputs[i].path, "/staged-"))
            unlink(t->inputs[i].path);
    steep_buf_free(&t->log);
}

static struct fn_test_file *add(struct fn_test_file *files, size_t *count, const char *name)
{
    assert_true(*count < FN_TEST_MAX_FILES);
    struct fn_test_file *f = &files[(*count)++];
    memset(f, 0, sizeof(*f));
    f->name = name;
    f->crypto.scheme = STEEP_SCHEME_RAW;
    return f;
}

void fn_test_add_fixture(struct fn_test_io *t, const char *name, const char *rel)
{
    struct fn_test_file *f = add(t->inputs, &t->input_count, name);
    test_fixture_path(f->path, sizeof(f->path), rel);
}

void fn_test_add_fixture_tf128(struct fn_test_io *t, const char *name, const char *rel)
{
    struct fn_test_file *f = add(t->inputs, &t->input_count, name);
    test_fixture_path(f->path, sizeof(f->path), rel);
    uint8_t zero[16] = {0};
    assert_int_equal(steep_file_crypto_init(&f->crypto, "teaclave-file-128", zero, 16, NULL, 0), 0);
}

void fn_test_add_input_bytes(struct fn_test_io *t, const char *name, const void *data, size_t len)
{
    struct fn_test_file *f = add(t->inputs, &t->input_count, name);
    char file[300];
    snprintf(file, sizeof(file), "staged-%s", name);
    test_temp_path(f->path, sizeof(f->path), file);
    assert_int_equal(steep_file_crypto_random_tf128(&f->crypto), 0);
    struct steep_writer *w = steep_file_writer_create(f->path, &f->crypto, 0);
    assert_non_null(w);
    assert_int_equal(steep_writer_write_all(w, data, len), 0);
    assert_int_equal(steep_writer_close(w, NULL), 0);
}

void fn_test_add_output(struct fn_test_io *t, const char *name, int encrypted)
{
    struct fn_test_file *f = add(t->outputs, &t->output_count, name);
    char file[300];
    snprintf(file, sizeof(file), "out-%s", name);
    test_temp_path(f->path, sizeof(f->path), file);
    unlink(f->path);
    if (encrypted)
        assert_int_equal(steep_file_crypto_random_tf128(&f->crypto), 0);
}

void fn_test_read_output(struct fn_test_io *t, const char *name, struct steep_buf *out)
{
    struct fn_test_file *f = find(t->outputs, t->output_count, name);
    assert_non_null(f);
    struct steep_reader *r = steep_file_reader_open(f->path, &f->crypto, NULL, NULL);
    if (!r)
        fail_msg("output %s: %s", name, steep_error_get());
    steep_buf_reset(out);
    assert_int_equal(test_read_all(r, out), 0);
    steep_reader_close(r);
    assert_int_equal(steep_buf_terminate(out), 0);
}

int fn_test_run_in_process(struct fn_test_io *t, const char *name, const char *args,
                           struct steep_buf *summary)
{
    steep_buf_reset(summary);
    const struct steep_builtin *fn = steep_builtin_find(name);
    if (!fn)
        return -1;
    int rc = steep_builtin_run(fn, args, &t->io, summary);
    steep_buf_terminate(summary);
    return rc;
}

/* One runner file for a test file: its descriptor, scheme, key, cmac. */
static void runner_file(const struct fn_test_file *f, bool output, struct steep_runner_file *r)
{
    memset(r, 0, sizeof(*r));
    r->name = (char *)f->name;
    const char *slash = strrchr(f->path, '/');
    r->file_name = (char *)(slash ? slash + 1 : f->path);
    r->fd = output ? open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
                   : open(f->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        fail_msg("cannot open %s", f->path);
    if (f->crypto.scheme == STEEP_SCHEME_RAW)
        return;
    assert_int_equal(f->crypto.scheme, STEEP_SCHEME_TEACLAVE_FILE_128);
    r->scheme = STEEP_RUNNER_SCHEME_TF128;
    memcpy(r->key, f->crypto.key, sizeof(r->key));
    if (!output && steep_file_cmac(f->path, &f->crypto, r->cmac) < 0)
        fail_msg("cmac of %s: %s", f->path, steep_error_get());
}

int fn_test_run(struct fn_test_io *t, const char *name, const char *args, struct steep_buf *summary)
{
    steep_buf_reset(summary);
    struct steep_runner_file inputs[FN_TEST_MAX_FILES], outputs[FN_TEST_MAX_FILES];
    for (size_t i = 0; i < t->input_count; i++)
        runner_file(&t->inputs[i], false, &inputs[i]);
    for (size_t i = 0; i < t->output_count; i++)
        runner_file(&t->outputs[i], true, &outputs[i]);
    /* The runner pivots into an empty root of its own, as on a node. */
    char jail[] = "/tmp/steep-fn-jail.XXXXXX";
    if (!mkdtemp(jail))
        fail_msg("cannot make an empty root: %s", strerror(errno));
    chmod(jail, 0500);
    struct steep_runner_request request = {
        .executor = "builtin",
        .function_name = (char *)name,
        .arguments = (char *)args,
        .jail_dir = jail,
        .save_log = true,
        .n_inputs = t->input_count,
        .n_outputs = t->output_count,
        .inputs = inputs,
        .outputs = outputs,
    };
    char runner[4096];
    const char *build = getenv("STEEP_BUILD_DIR");
    snprintf(runner, sizeof(runner), "%s/bin/steep-task-runner", build ? build : "build");
    struct steep_sandbox_task task = {.runner_path = runner, .request = &request};
    steep_sandbox_limits_default(&task.limits);
    task.limits.wall_seconds = 120;
    struct steep_sandbox_result result;
    memset(&result, 0, sizeof(result));
    int rc = steep_sandbox_run(&task, &result);
    rmdir(jail);
    for (size_t i = 0; i < t->input_count; i++)
        close(inputs[i].fd);
    for (size_t i = 0; i < t->output_count; i++)
        close(outputs[i].fd);
    if (rc < 0)
        fail_msg("cannot run the sandbox: %s", steep_error_get());
    for (size_t i = 0; i < result.n_log; i++)
        steep_buf_printf(&t->log, "%s\n", result.log[i]);
    steep_buf_terminate(&t->log);
    if (result.ok) {
        steep_buf_append(summary, result.summary.data, result.summary.len);
        rc = 0;
    } else {
        rc = steep_error_set("%s", result.reason);
    }
    steep_sandbox_result_free(&result);
    steep_buf_terminate(summary);
    return rc;
}
