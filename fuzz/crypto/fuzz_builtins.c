/*
 * libFuzzer target for the built-in functions' parsers of untrusted input
 * files (hex lines, CSV, "identity : amount" lines, JSON models, float
 * rows, base64 arguments). Input: [function byte][split u16][bytes]; the
 * bytes are cut at split into the function's two inputs (for one-input
 * functions the second part is ignored). Outputs are discarded. Functions
 * must fail cleanly, never crash or hang.
 */
#include "functions/function.h"

#include "core/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_io {
    const uint8_t *parts[2];
    size_t lens[2];
    const char *names[2];
};

struct null_writer {
    struct steep_writer base;
};

static ssize_t null_write(struct steep_writer *w, const void *buf, size_t n)
{
    return (ssize_t)n;
}

static int null_close(struct steep_writer *w, uint8_t cmac[16])
{
    free(w);
    return 0;
}

static struct steep_reader *open_input(void *ctx, const char *name)
{
    struct fuzz_io *f = ctx;
    for (int i = 0; i < 2; i++)
        if (f->names[i] && strcmp(f->names[i], name) == 0)
            return steep_memory_reader_new(f->parts[i], f->lens[i]);
    steep_error_set("Invalid input file identifier.");
    return NULL;
}

static struct steep_writer *create_output(void *ctx, const char *name)
{
    struct null_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->base.write = null_write;
    w->base.close = null_close;
    return &w->base;
}

struct target {
    const char *function;
    const char *args;
    const char *inputs[2];
};

static const struct target targets[] = {
    {"builtin-ordered-set-intersect", "{\"order\":\"ascending\"}", {"input_data1", "input_data2"}},
    {"builtin-ordered-set-intersect", "{\"order\":\"desending\"}", {"input_data1", "input_data2"}},
    {"builtin-ordered-set-join",
     "{\"left_column\":1,\"right_column\":0,\"ascending\":true,\"drop\":false}",
     {"input_data1", "input_data2"}},
    {"builtin-private-join-and-compute", "{\"num_user\":2}", {"input_data0", "input_data1"}},
    {"builtin-password-check", "{}", {"password", "exposed_passwords"}},
    {"builtin-gbdt-predict", "{}", {"model_file", "data_file"}},
    {"builtin-logistic-regression-predict", "{}", {"model_file", "data_file"}},
    {"builtin_principal_components_analysis",
     "{\"n\":2,\"center\":true,\"feature_size\":3}",
     {"input_data", NULL}},
    {"builtin-rsa-sign", "{\"data\":\"x\"}", {"rsa_key", NULL}},
    {"builtin-gbdt-train",
     "{\"feature_size\":2,\"max_depth\":3,\"iterations\":3,\"shrinkage\":0.1,"
     "\"feature_sample_ratio\":1.0,\"data_sample_ratio\":1.0,\"min_leaf_size\":1,"
     "\"loss\":\"LAD\",\"training_optimization_level\":2}",
     {"training_data", NULL}},
    {"builtin-logistic-regression-train",
     "{\"alg_alpha\":0.3,\"alg_iters\":3,\"feature_size\":2}",
     {"training_data", NULL}},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const struct target *t = &targets[data[0] % (sizeof(targets) / sizeof(targets[0]))];
    size_t split = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (split > size)
        split = size;
    struct fuzz_io f = {{data, data + split}, {split, size - split}, {t->inputs[0], t->inputs[1]}};
    struct steep_fn_io io = {&f, open_input, create_output, NULL, NULL};
    struct steep_buf summary = STEEP_BUF_INIT;
    const struct steep_builtin *fn = steep_builtin_find(t->function);
    if (!fn)
        abort();
    steep_builtin_run(fn, t->args, &io, &summary);
    steep_buf_free(&summary);
    return 0;
}
