/*
 * builtin-logistic-regression-train: rows of feature_size + 1 f64 values
 * (label last) train rusty-machine's LogisticRegressor with batch gradient
 * descent (alg_alpha, alg_iters): parameters start at 0.5 (intercept
 * first), each iteration computes sigmoid([1, x]·p) per row, stops early
 * when the cross-entropy cost changes by less than 1e-20, and steps
 * p -= alpha * X^T (h - y) / rows, with rulinalg's dot product order.
 * Writes {"alpha":..,"iters":..,"parameters":[..]} (serde_json number
 * format) to model_file; returns "Trained {n} lines of data.". The data is
 * held in memory. On Teaclave's fixture the model is byte-identical to
 * expected_model.txt (the dot product's summation order is what matters).
 */
#include "functions/args.h"
#include "linalg.h"
#include "functions/builtins.h"
#include "functions/float_format.h"
#include "functions/line_reader.h"
#include "functions/number.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FEATURES 65536
#define MAX_CELLS    (64u << 20)

/* Rows of [1, features...] into full, labels into targets. */
static int read_rows(struct steep_fn_io *io, size_t features, struct steep_buf *full,
                     struct steep_buf *targets, size_t *rows)
{
    struct steep_reader *r = steep_fn_open_input(io, "training_data");
    if (!r)
        return -1;
    struct steep_line_reader *lr = malloc(sizeof(*lr));
    double *row = malloc((features + 2) * sizeof(double));
    bool reading = false;
    const char *line;
    size_t len;
    int rc = 0, got;
    *rows = 0;
    ENSURE_GOTO(lr && row, out, "out of memory");
    steep_line_reader_init(lr, r);
    reading = true;
    while ((got = steep_line_next(lr, &line, &len)) == 1) {
        row[0] = 1.0; /* the intercept's column */
        if (steep_parse_row_f64(line, len, row + 1, features + 1) < 0) {
            rc = steep_line_error(lr, "training_data");
            goto out;
        }
        ENSURE_GOTO((*rows + 1) * (features + 1) <= MAX_CELLS, out,
                    "training data larger than %u values", MAX_CELLS);
        GUARD_GOTO(steep_buf_append(full, row, (features + 1) * sizeof(double)), out);
        GUARD_GOTO(steep_buf_append(targets, &row[1 + features], sizeof(double)), out);
        (*rows)++;
    }
    GUARD_GOTO(got, out);
out:
    if (reading)
        steep_line_reader_free(lr);
    free(lr);
    free(row);
    steep_reader_close(r);
    return rc;
}

static double cross_entropy(const double *outputs, const double *targets, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum = sum + (targets[i] * log(outputs[i]) + (-targets[i] + 1.0) * log(-outputs[i] + 1.0));
    return -sum / (double)n;
}

static int train(const double *full, const double *targets, size_t rows, size_t cols, double alpha,
                 uint64_t iters, double *params)
{
    double *outputs = malloc((rows ? rows : 1) * sizeof(double));
    double *column = malloc((rows ? rows : 1) * sizeof(double));
    double *transposed = malloc((rows && cols ? rows * cols : 1) * sizeof(double));
    int rc = 0;
    ENSURE_GOTO(outputs && column && transposed, out, "out of memory");
    for (size_t j = 0; j < cols; j++)
        for (size_t i = 0; i < rows; i++)
            transposed[j * rows + i] = full[i * cols + j];
    for (size_t j = 0; j < cols; j++)
        params[j] = 0.5;
    double start_cost = 0.0;
    for (uint64_t it = 0; it < iters; it++) {
        for (size_t i = 0; i < rows; i++)
            outputs[i] = 1.0 / (1.0 + exp(-steep_fn_dot(full + i * cols, params, cols)));
        double cost = cross_entropy(outputs, targets, rows);
        if (fabs(start_cost - cost) < 1e-20)
            break;
        for (size_t i = 0; i < rows; i++)
            column[i] = outputs[i] - targets[i];
        for (size_t j = 0; j < cols; j++) {
            double grad = steep_fn_dot(transposed + j * rows, column, rows) / (double)rows;
            params[j] = params[j] - grad * alpha;
        }
        start_cost = cost;
    }
out:
    free(outputs);
    free(column);
    free(transposed);
    return rc;
}

STEEP_FN(steep_fn_logistic_regression_train)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    double alpha;
    uint64_t iters, features;
    int rc = 0;
    GUARD_GOTO(steep_args_f64(args, "alg_alpha", &alpha), parsed);
    GUARD_GOTO(steep_args_uint(args, "alg_iters", UINT64_MAX, &iters), parsed);
    GUARD_GOTO(steep_args_uint(args, "feature_size", UINT64_MAX, &features), parsed);
parsed:
    json_decref(args);
    GUARD(rc);
    ENSURE(alpha > 0.0, "The step size (alpha) must be greater than 0.");
    ENSURE(features <= MAX_FEATURES, "feature_size larger than %d", MAX_FEATURES);
    struct steep_buf full = STEEP_BUF_INIT, targets = STEEP_BUF_INIT, model = STEEP_BUF_INIT;
    size_t rows = 0, cols = (size_t)features + 1;
    double *params = malloc(cols * sizeof(double));
    ENSURE_GOTO(params, out, "out of memory");
    GUARD_GOTO(read_rows(io, (size_t)features, &full, &targets, &rows), out);
    ENSURE_GOTO(rows > 0, out, "training_data is empty: no rows to train on");
    GUARD_GOTO(train((const double *)full.data, (const double *)targets.data, rows, cols, alpha,
                     iters, params),
               out);
    GUARD_GOTO(steep_buf_printf(&model, "{\"alpha\":"), out);
    GUARD_GOTO(steep_format_f64_json(&model, alpha), out);
    GUARD_GOTO(
        steep_buf_printf(&model, ",\"iters\":%llu,\"parameters\":[", (unsigned long long)iters),
        out);
    for (size_t j = 0; j < cols; j++) {
        if (j)
            GUARD_GOTO(steep_buf_append_u8(&model, ','), out);
        GUARD_GOTO(steep_format_f64_json(&model, params[j]), out);
    }
    GUARD_GOTO(steep_buf_printf(&model, "]}"), out);
    struct steep_writer *w = steep_fn_create_output(io, "model_file");
    GUARD_GOTO(w ? steep_fn_close_output(w, steep_writer_write_all(w, model.data, model.len)) : -1,
               out);
    rc = steep_buf_printf(summary, "Trained %zu lines of data.", rows);
out:
    free(params);
    steep_buf_free(&full);
    steep_buf_free(&targets);
    steep_buf_free(&model);
    return rc;
}
