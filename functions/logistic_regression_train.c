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
    int rc = lr && row ? 0 : steep_error_set("out of memory");
    *rows = 0;
    if (rc == 0) {
        steep_line_reader_init(lr, r);
        const char *line;
        size_t len;
        int got;
        while (rc == 0 && (got = steep_line_next(lr, &line, &len)) == 1) {
            row[0] = 1.0; /* the intercept's column */
            rc = steep_parse_row_f64(line, len, row + 1, features + 1);
            if (rc < 0)
                rc = steep_line_error(lr, "training_data");
            if (rc == 0 && (*rows + 1) * (features + 1) > MAX_CELLS)
                rc = steep_error_set("training data larger than %u values", MAX_CELLS);
            if (rc == 0)
                rc = steep_buf_append(full, row, (features + 1) * sizeof(double));
            if (rc == 0)
                rc = steep_buf_append(targets, &row[1 + features], sizeof(double));
            if (rc == 0)
                (*rows)++;
        }
        if (rc == 0 && got < 0)
            rc = -1;
        steep_line_reader_free(lr);
    }
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
    int rc = outputs && column && transposed ? 0 : steep_error_set("out of memory");
    for (size_t j = 0; rc == 0 && j < cols; j++)
        for (size_t i = 0; i < rows; i++)
            transposed[j * rows + i] = full[i * cols + j];
    for (size_t j = 0; j < cols; j++)
        params[j] = 0.5;
    double start_cost = 0.0;
    for (uint64_t it = 0; rc == 0 && it < iters; it++) {
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
    int rc = steep_args_f64(args, "alg_alpha", &alpha);
    if (rc == 0)
        rc = steep_args_uint(args, "alg_iters", UINT64_MAX, &iters);
    if (rc == 0)
        rc = steep_args_uint(args, "feature_size", UINT64_MAX, &features);
    json_decref(args);
    GUARD(rc);
    ENSURE(alpha > 0.0, "The step size (alpha) must be greater than 0.");
    ENSURE(features <= MAX_FEATURES, "feature_size larger than %d", MAX_FEATURES);
    struct steep_buf full = STEEP_BUF_INIT, targets = STEEP_BUF_INIT, out = STEEP_BUF_INIT;
    size_t rows = 0, cols = (size_t)features + 1;
    double *params = malloc(cols * sizeof(double));
    rc = params ? read_rows(io, (size_t)features, &full, &targets, &rows)
                : steep_error_set("out of memory");
    if (rc == 0 && rows == 0)
        rc = steep_error_set("training_data is empty: no rows to train on");
    if (rc == 0)
        rc = train((const double *)full.data, (const double *)targets.data, rows, cols, alpha,
                   iters, params);
    if (rc == 0)
        rc = steep_buf_printf(&out, "{\"alpha\":");
    if (rc == 0)
        rc = steep_format_f64_json(&out, alpha);
    if (rc == 0)
        rc = steep_buf_printf(&out, ",\"iters\":%llu,\"parameters\":[", (unsigned long long)iters);
    for (size_t j = 0; rc == 0 && j < cols; j++) {
        if (j)
            rc = steep_buf_append_u8(&out, ',');
        if (rc == 0)
            rc = steep_format_f64_json(&out, params[j]);
    }
    if (rc == 0)
        rc = steep_buf_printf(&out, "]}");
    if (rc == 0) {
        struct steep_writer *w = steep_fn_create_output(io, "model_file");
        rc = w ? steep_fn_close_output(w, steep_writer_write_all(w, out.data, out.len)) : -1;
    }
    if (rc == 0)
        rc = steep_buf_printf(summary, "Trained %zu lines of data.", rows);
    free(params);
    steep_buf_free(&full);
    steep_buf_free(&targets);
    steep_buf_free(&out);
    return rc;
}
