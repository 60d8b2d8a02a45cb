/*
 * The staged-file function runtime; see runtime.h. Output writers are
 * wrapped so that close() records the file's cmac in the runtime.
 */
#include "functions/runtime.h"

#include "core/error.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct steep_fn_file *find(struct steep_fn_file *files, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(files[i].name, name) == 0)
            return &files[i];
    return NULL;
}

struct recording_writer {
    struct steep_writer base;
    struct steep_writer *inner;
    struct steep_fn_file *file;
};

static ssize_t recording_write(struct steep_writer *base, const void *buf, size_t n)
{
    struct recording_writer *w = (struct recording_writer *)base;
    return steep_writer_write(w->inner, buf, n);
}

static int recording_close(struct steep_writer *base, uint8_t cmac[16])
{
    struct recording_writer *w = (struct recording_writer *)base;
    uint8_t tag[16];
    int rc = steep_writer_close(w->inner, tag);
    if (rc == 0) {
        memcpy(w->file->cmac, tag, 16);
        w->file->has_cmac = true;
        if (cmac)
            memcpy(cmac, tag, 16);
    }
    free(w);
    return rc;
}

static struct steep_reader *runtime_open_input(void *ctx, const char *name)
{
    struct steep_fn_runtime *rt = ctx;
    struct steep_fn_file *f = find(rt->inputs, rt->input_count, name);
    if (!f) {
        steep_error_set("Invalid input file identifier.");
        return NULL;
    }
    return steep_file_reader_open(f->path, &f->crypto, f->has_cmac ? f->cmac : NULL, NULL);
}

static struct steep_writer *runtime_create_output(void *ctx, const char *name)
{
    struct steep_fn_runtime *rt = ctx;
    struct steep_fn_file *f = find(rt->outputs, rt->output_count, name);
    if (!f) {
        steep_error_set("Invalid output file identifier");
        return NULL;
    }
    struct recording_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        steep_error_set("out of memory");
        return NULL;
    }
    f->has_cmac = false;
    w->inner = steep_file_writer_create(f->path, &f->crypto, 0);
    if (!w->inner) {
        free(w);
        return NULL;
    }
    w->base.write = recording_write;
    w->base.close = recording_close;
    w->file = f;
    return &w->base;
}

static void runtime_log(void *ctx, const char *line)
{
    struct steep_fn_runtime *rt = ctx;
    steep_buf_printf(&rt->log, "%s\n", line);
    if (rt->on_log)
        rt->on_log(rt->on_log_arg, line);
}

void steep_fn_runtime_init(struct steep_fn_runtime *rt)
{
    memset(rt, 0, sizeof(*rt));
    rt->io.ctx = rt;
    rt->io.open_input = runtime_open_input;
    rt->io.create_output = runtime_create_output;
    rt->io.log = runtime_log;
}

static int add(struct steep_fn_file *files, size_t *count, const char *name, const char *path,
               const struct steep_file_crypto *crypto)
{
    ENSURE(*count < STEEP_FN_RUNTIME_MAX_FILES, "too many files (at most %d)",
           STEEP_FN_RUNTIME_MAX_FILES);
    ENSURE(!find(files, *count, name), "duplicate file name %s", name);
    struct steep_fn_file *f = &files[*count];
    memset(f, 0, sizeof(*f));
    ENSURE(snprintf(f->name, sizeof(f->name), "%s", name) < (int)sizeof(f->name) &&
               snprintf(f->path, sizeof(f->path), "%s", path) < (int)sizeof(f->path),
           "file name or path too long");
    f->crypto = *crypto;
    (*count)++;
    return 0;
}

int steep_fn_runtime_add_input(struct steep_fn_runtime *rt, const char *name, const char *path,
                               const struct steep_file_crypto *crypto, const uint8_t *expected_cmac)
{
    GUARD(add(rt->inputs, &rt->input_count, name, path, crypto));
    if (expected_cmac) {
        memcpy(rt->inputs[rt->input_count - 1].cmac, expected_cmac, 16);
        rt->inputs[rt->input_count - 1].has_cmac = true;
    }
    return 0;
}

int steep_fn_runtime_add_output(struct steep_fn_runtime *rt, const char *name, const char *path,
                                const struct steep_file_crypto *crypto)
{
    return add(rt->outputs, &rt->output_count, name, path, crypto);
}

const uint8_t *steep_fn_runtime_output_cmac(const struct steep_fn_runtime *rt, const char *name)
{
    for (size_t i = 0; i < rt->output_count; i++)
        if (strcmp(rt->outputs[i].name, name) == 0)
            return rt->outputs[i].has_cmac ? rt->outputs[i].cmac : NULL;
    return NULL;
}

void steep_fn_runtime_free(struct steep_fn_runtime *rt)
{
    steep_buf_free(&rt->log);
    OPENSSL_cleanse(rt->inputs, sizeof(rt->inputs));
    OPENSSL_cleanse(rt->outputs, sizeof(rt->outputs));
    rt->input_count = rt->output_count = 0;
}
