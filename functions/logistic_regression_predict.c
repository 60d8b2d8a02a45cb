/*
 * builtin-logistic-regression-predict: model_file is rusty-machine's
 * LogisticRegressor JSON {"alpha","iters","parameters":[intercept, w...]};
 * each line of data_file (trimmed) is feature_size = len(parameters) - 1
 * comma-separated f64 values. Writes sigmoid(intercept + w·x) per line as
 * "{:.4}\n" to result_file; returns "Predicted {n} lines of data.".
 * Lines stream through; the dot product uses rulinalg's 8-way unrolled
 * summation order.
 */
#include "functions/builtins.h"
#include "linalg.h"
#include "functions/line_reader.h"
#include "functions/model_file.h"
#include "functions/number.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int load_parameters(struct steep_fn_io *io, double **params, size_t *count)
{
    json_t *model;
    GUARD(steep_model_load(io, "model_file", &model));
    json_t *p = json_object_get(model, "parameters");
    int rc = 0;
    size_t n = 0;
    *params = NULL;
    ENSURE_GOTO(!(json_is_null(p) && json_object_get(model, "alpha")), out,
                "Model parameter is None");
    ENSURE_GOTO(json_is_array(p) && json_is_number(json_object_get(model, "alpha")) &&
                    json_is_integer(json_object_get(model, "iters")) && json_array_size(p) > 0,
                out, "invalid model: expected {\"alpha\", \"iters\", \"parameters\"}");
    n = json_array_size(p);
    *params = calloc(n, sizeof(double));
    ENSURE_GOTO(*params, out, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(p, i);
        ENSURE_GOTO(json_is_number(v), out, "invalid model: parameter %zu is not a number", i);
        (*params)[i] = json_number_value(v);
    }
out:
    if (rc < 0) {
        free(*params); /* the caller only frees what it gets on success */
        *params = NULL;
    }
    *count = n;
    json_decref(model);
    return rc;
}

static int predict_line(const char *line, size_t len, const double *params, size_t features,
                        double *row, struct steep_buf *out)
{
    steep_trim(&line, &len);
    ENSURE(len > 0, "Empty line");
    size_t column = 0;
    const char *p = line, *end = line + len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *field_end = comma ? comma : end;
        double value;
        GUARD(steep_parse_f64(p, (size_t)(field_end - p), &value));
        GUARD(steep_check_finite(value, column + 1));
        if (column < features)
            row[column] = value;
        column++;
        if (!comma)
            break;
        p = comma + 1;
    }
    ENSURE(column == features, "Data format error: column len = %zu, expected = %zu", column,
           features);
    /* rusty-machine prepends a column of ones: [1, x] · parameters. */
    double *full = row - 1;
    full[0] = 1.0;
    double z = steep_fn_dot(full, params, features + 1);
    double probability = 1.0 / (1.0 + exp(-z));
    return steep_buf_printf(out, "%.4f\n", probability);
}

STEEP_FN(steep_fn_logistic_regression_predict)
{
    double *params = NULL;
    size_t count = 0;
    GUARD(load_parameters(io, &params, &count));
    size_t features = count - 1;
    double *buffer = calloc(features + 2, sizeof(double));
    struct steep_reader *r = buffer ? steep_fn_open_input(io, "data_file") : NULL;
    struct steep_line_reader *lr = r ? malloc(sizeof(*lr)) : NULL;
    struct steep_writer *w = lr ? steep_fn_create_output(io, "result_file") : NULL;
    struct steep_buf text = STEEP_BUF_INIT;
    uint64_t lines = 0;
    bool reading = false;
    const char *line;
    size_t len;
    int rc = 0, got;
    ENSURE_GOTO(buffer && !(r && !lr), out, "out of memory");
    GUARD_GOTO(w ? 0 : -1, out);
    steep_line_reader_init(lr, r);
    reading = true;
    while ((got = steep_line_next(lr, &line, &len)) == 1) {
        steep_buf_reset(&text);
        lines++;
        if (predict_line(line, len, params, features, buffer + 1, &text) < 0) {
            rc = steep_line_error(lr, "data_file");
            goto out;
        }
        GUARD_GOTO(steep_writer_write_all(w, text.data, text.len), out);
    }
    GUARD_GOTO(got, out);
out:
    if (reading)
        steep_line_reader_free(lr);
    rc = steep_fn_close_output(w, rc);
    steep_reader_close(r);
    free(lr);
    free(buffer);
    free(params);
    steep_buf_free(&text);
    GUARD(rc);
    return steep_buf_printf(summary, "Predicted %llu lines of data.", (unsigned long long)lines);
}
