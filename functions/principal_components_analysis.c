/*
 * builtin_principal_components_analysis: rows of feature_size + 1 f64
 * values (the last, a label, is dropped); rusty-machine's PCA::new(n,
 * center) is trained on them and transforms them; each value is written
 * with Rust's {:?} (shortest round trip), comma-separated, one row per
 * line. Returns "transform {rows} rows * {n} cols lines of data.".
 *
 * The SVD follows rulinalg's Golub-Reinsch implementation in the same
 * operation order (Householder bidiagonalisation, Golub-Kahan steps with
 * Givens rotations, sign correction of V, sort by singular value). On
 * Teaclave's fixture the output is byte-identical to expected_result.txt.
 * U is never needed for PCA and
 * is not computed. Matrix products sum from 0.0 in index order, like
 * matrixmultiply's kernel; utils::dot uses its 8-way unrolled order.
 * Unlike rulinalg we need rows >= feature_size >= 2 (Teaclave panics or
 * takes the transposed path otherwise); the data is held in memory.
 */
#include "functions/args.h"
#include "linalg.h"
#include "functions/builtins.h"
#include "functions/float_format.h"
#include "functions/line_reader.h"
#include "functions/number.h"

#include "core/error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS     (1u << 22)
#define MAX_FEATURES 1024
#define MAX_SWEEPS   100000

struct matrix {
    size_t rows, cols;
    double *d;
};

#define AT(m, i, j) ((m)->d[(i) * (m)->cols + (j)])

static int matrix_new(struct matrix *m, size_t rows, size_t cols)
{
    m->rows = rows;
    m->cols = cols;
    m->d = calloc(rows && cols ? rows * cols : 1, sizeof(double));
    ENSURE(m->d, "out of memory");
    return 0;
}

static double signum(double x)
{
    return signbit(x) ? -1.0 : 1.0;
}

/* I - (v v^T) * (2 / v·v), v = column / denom with v[0] = 1. */
static int make_householder(const double *column, size_t size, struct matrix *h)
{
    ENSURE(size > 0, "Could not compute SVD.");
    double denom = column[0] + signum(column[0]) * sqrt(steep_fn_dot(column, column, size));
    ENSURE(denom != 0.0, "Could not compute SVD.");
    double *v = malloc(size * sizeof(double));
    ENSURE(v, "out of memory");
    for (size_t i = 0; i < size; i++)
        v[i] = column[i] / denom;
    v[0] = 1.0;
    double factor = (1.0 + 1.0) / steep_fn_dot(v, v, size);
    int rc = matrix_new(h, size, size);
    for (size_t i = 0; rc == 0 && i < size; i++)
        for (size_t j = 0; j < size; j++)
            AT(h, i, j) = (i == j ? 1.0 : 0.0) - (0.0 + v[i] * v[j]) * factor;
    free(v);
    return rc;
}

/* dst block (r0, c0, rows x cols of m) = a (rows x k) * b (k x cols), via a temporary. */
static int block_product(struct matrix *m, size_t r0, size_t c0, size_t rows, size_t cols,
                         const double *a, size_t a_stride, const double *b, size_t b_stride,
                         size_t k)
{
    double *t = malloc((rows && cols ? rows * cols : 1) * sizeof(double));
    ENSURE(t, "out of memory");
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double s = 0.0;
            for (size_t l = 0; l < k; l++)
                s = s + a[i * a_stride + l] * b[l * b_stride + j];
            t[i * cols + j] = s;
        }
    for (size_t i = 0; i < rows; i++)
        memcpy(&AT(m, r0 + i, c0), t + i * cols, cols * sizeof(double));
    free(t);
    return 0;
}

/* Copies a block of m into a dense buffer. */
static double *copy_block(const struct matrix *m, size_t r0, size_t c0, size_t rows, size_t cols)
{
    double *t = malloc((rows && cols ? rows * cols : 1) * sizeof(double));
    if (!t)
        return NULL;
    for (size_t i = 0; i < rows; i++)
        memcpy(t + i * cols, &AT(m, r0 + i, c0), cols * sizeof(double));
    return t;
}

/* a (m x n, m >= n) → B (n x n upper bidiagonal) and V (n x n). */
static int bidiagonal(struct matrix *a, struct matrix *b, struct matrix *v)
{
    size_t m = a->rows, n = a->cols;
    GUARD(matrix_new(v, n, n));
    for (size_t i = 0; i < n; i++)
        AT(v, i, i) = 1.0;
    int rc = 0;
    struct matrix h = {0}, g = {0};
    double *block = NULL, *right = NULL, *vblock = NULL;
    double *column = malloc(m * sizeof(double));
    ENSURE_GOTO(column, out, "out of memory");
    for (size_t k = 0; k < n; k++) {
        for (size_t i = k; i < m; i++)
            column[i - k] = AT(a, i, k);
        GUARD_GOTO(make_householder(column, m - k, &h), out);
        block = copy_block(a, k, k, m - k, n - k);
        ENSURE_GOTO(block, out, "out of memory");
        GUARD_GOTO(block_product(a, k, k, m - k, n - k, h.d, m - k, block, n - k, m - k), out);
        free(block);
        free(h.d);
        block = NULL, h.d = NULL;
        if (k + 2 >= n)
            continue;
        GUARD_GOTO(make_householder(&AT(a, k, k + 1), n - k - 1, &g), out);
        right = copy_block(a, k, k + 1, m - k, n - k - 1);
        vblock = copy_block(v, 0, k + 1, n, n - k - 1);
        ENSURE_GOTO(right && vblock, out, "out of memory");
        GUARD_GOTO(block_product(a, k, k + 1, m - k, n - k - 1, right, n - k - 1, g.d, n - k - 1,
                                 n - k - 1),
                   out);
        GUARD_GOTO(
            block_product(v, 0, k + 1, n, n - k - 1, vblock, n - k - 1, g.d, n - k - 1, n - k - 1),
            out);
        free(right);
        free(vblock);
        free(g.d);
        right = vblock = NULL, g.d = NULL;
    }
    GUARD_GOTO(matrix_new(b, n, n), out);
    memcpy(b->d, a->d, n * n * sizeof(double));
out:
    free(column);
    free(block);
    free(right);
    free(vblock);
    free(h.d);
    free(g.d);
    return rc;
}

static void givens(double a, double b, double *c, double *s)
{
    double r = hypot(a, b);
    *c = a / r;
    *s = -b / r;
}

/* rows x 2 block of m at (r0, c0) times the 2x2 g (row-major), in place. */
static void times_2x2(struct matrix *m, size_t r0, size_t c0, size_t rows, const double g[4])
{
    for (size_t i = r0; i < r0 + rows; i++) {
        double x0 = AT(m, i, c0), x1 = AT(m, i, c0 + 1);
        AT(m, i, c0) = (0.0 + x0 * g[0]) + x1 * g[2];
        AT(m, i, c0 + 1) = (0.0 + x0 * g[1]) + x1 * g[3];
    }
}

/* The 2x2 g times the 2 x cols block of m at (r0, c0), in place. */
static void left_2x2(struct matrix *m, size_t r0, size_t c0, size_t cols, const double g[4])
{
    for (size_t j = c0; j < c0 + cols; j++) {
        double y0 = AT(m, r0, j), y1 = AT(m, r0 + 1, j);
        AT(m, r0, j) = (0.0 + g[0] * y0) + g[1] * y1;
        AT(m, r0 + 1, j) = (0.0 + g[2] * y0) + g[3] * y1;
    }
}

static int golub_kahan_step(struct matrix *b, struct matrix *v, size_t p, size_t q)
{
    size_t n = b->rows;
    size_t y0 = n - q - 2;
    double c[4] = {0};
    /* c = x^T x + y^T y (x: rows p..n-q-2 of columns n-q-2, n-q-1). */
    double xtx[4] = {0, 0, 0, 0}, yty[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double s = 0.0;
            for (size_t r = p; r < y0; r++)
                s = s + AT(b, r, y0 + i) * AT(b, r, y0 + j);
            xtx[i * 2 + j] = s;
            yty[i * 2 + j] = (0.0 + AT(b, y0, y0 + i) * AT(b, y0, y0 + j)) +
                             AT(b, y0 + 1, y0 + i) * AT(b, y0 + 1, y0 + j);
        }
    for (int i = 0; i < 4; i++)
        c[i] = n - q - p - 2 > 0 ? xtx[i] + yty[i] : yty[i];
    double tr = c[0] + c[3];
    double det = c[0] * c[3] - c[1] * c[2];
    double discr = tr * tr - 4.0 * det;
    ENSURE(!(discr < 0.0), "Could not compute SVD.");
    double root = sqrt(discr);
    double eig0 = (tr - root) / 2.0, eig1 = (tr + root) / 2.0;
    double lambda = fabs(eig0 - c[3]) < fabs(eig1 - c[3]) ? eig0 : eig1;

    double b_pp = AT(b, p, p);
    double alpha = (b_pp * b_pp) - lambda;
    double beta = b_pp * AT(b, p, p + 1);
    for (size_t k = p; k < n - q - 1; k++) {
        double cs, sn;
        givens(alpha, beta, &cs, &sn);
        double g[4] = {cs, sn, -sn, cs};
        size_t top = k ? k - 1 : 0;
        size_t rows = n - top < 3 ? n - top : 3;
        times_2x2(b, top, k, rows, g);
        times_2x2(v, 0, k, n, g);

        alpha = AT(b, k, k);
        beta = AT(b, k + 1, k);
        givens(alpha, beta, &cs, &sn);
        double g2[4] = {cs, -sn, sn, cs};
        left_2x2(b, k, k, n - k < 3 ? n - k : 3, g2);
        if (k + 2 < n - q) {
            alpha = AT(b, k, k + 1);
            beta = AT(b, k, k + 2);
        }
    }
    return 0;
}

static int golub_reinsch(struct matrix *b, struct matrix *v)
{
    const double eps = 3.0 * DBL_EPSILON;
    size_t n = b->cols;
    for (unsigned sweep = 0;; sweep++) {
        ENSURE(sweep < MAX_SWEEPS, "Could not compute SVD: no convergence");
        size_t q = 0, p = 0;
        bool on_lower = true, on_middle = false;
        for (size_t i = n - 1; i-- > 0;) {
            double b_ii = AT(b, i, i);
            double sup = fabs(AT(b, i, i + 1));
            double bound = eps * (fabs(b_ii) + fabs(AT(b, i + 1, i + 1)));
            if (sup <= bound) {
                if (on_lower) {
                    q++;
                } else if (on_middle) {
                    on_middle = false;
                    p = i + 1;
                }
                AT(b, i, i + 1) = 0.0;
            } else if (on_lower) {
                on_middle = true;
                on_lower = false;
            }
        }
        if (q == n - 1)
            return 0;
        for (size_t i = p; i < n - q - 1; i++) {
            double b_ii = AT(b, i, i), b_sup = AT(b, i, i + 1);
            if (fabs(b_ii) < eps) {
                double cs, sn;
                givens(b_ii, b_sup, &cs, &sn);
                double g[4] = {cs, sn, -sn, cs};
                times_2x2(b, i, i, 1, g);
            }
        }
        GUARD(golub_kahan_step(b, v, p, q));
    }
}

struct indexed {
    size_t index;
    double value;
};

/* Stable sort by value, descending (Rust's sort_by with reversed partial_cmp). */
static void sort_descending(struct indexed *x, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct indexed key = x[i];
        size_t j = i;
        while (j > 0 && x[j - 1].value < key.value) {
            x[j] = x[j - 1];
            j--;
        }
        x[j] = key;
    }
}

/* Sign correction (V is the shorter matrix) and sorting, as rulinalg. */
static int finish_svd(struct matrix *b, struct matrix *v)
{
    size_t n = b->cols;
    for (size_t i = 0; i < n; i++) {
        ENSURE(isfinite(AT(b, i, i)), "All singular values should be finite, and thus sortable.");
        if (AT(b, i, i) < 0.0) {
            AT(b, i, i) = fabs(AT(b, i, i));
            for (size_t r = 0; r < v->rows; r++)
                AT(v, r, i) = AT(v, r, i) * -1.0;
        }
    }
    struct indexed *sorted = malloc(n * sizeof(*sorted));
    ENSURE(sorted, "out of memory");
    for (size_t i = 0; i < n; i++)
        sorted[i] = (struct indexed){i, AT(b, i, i)};
    sort_descending(sorted, n);
    for (size_t new_index = 0; new_index < n; new_index++) {
        size_t old_index = sorted[new_index].index;
        if (old_index < new_index)
            for (size_t r = 0; r < v->rows; r++) {
                double t = AT(v, r, old_index);
                AT(v, r, old_index) = AT(v, r, new_index);
                AT(v, r, new_index) = t;
            }
    }
    free(sorted);
    return 0;
}

struct pca_args {
    uint64_t n;
    bool center;
    uint64_t features;
};

static int read_rows(struct steep_fn_io *io, size_t features, struct matrix *x)
{
    struct steep_reader *r = steep_fn_open_input(io, "input_data");
    if (!r)
        return -1;
    struct steep_line_reader *lr = malloc(sizeof(*lr));
    struct steep_buf data = STEEP_BUF_INIT;
    double *row = malloc((features + 1) * sizeof(double));
    size_t rows = 0;
    bool reading = false;
    const char *line;
    size_t len;
    int rc = 0, got;
    ENSURE_GOTO(lr && row, out, "out of memory");
    steep_line_reader_init(lr, r);
    reading = true;
    while ((got = steep_line_next(lr, &line, &len)) == 1) {
        if (steep_parse_row_f64(line, len, row, features + 1) < 0) {
            rc = steep_line_error(lr, "input_data");
            goto out;
        }
        ENSURE_GOTO(++rows <= MAX_ROWS, out, "more than %u rows", MAX_ROWS);
        GUARD_GOTO(steep_buf_append(&data, row, features * sizeof(double)), out);
    }
    GUARD_GOTO(got, out);
    x->rows = rows;
    x->cols = features;
    x->d = (double *)steep_buf_detach(&data, &(size_t){0});
    if (!x->d)
        rc = matrix_new(x, rows, features);
out:
    if (reading)
        steep_line_reader_free(lr);
    free(lr);
    free(row);
    steep_reader_close(r);
    steep_buf_free(&data);
    return rc;
}

static int transform(const struct pca_args *a, struct matrix *x, struct steep_buf *out)
{
    size_t m = x->rows, f = x->cols;
    ENSURE(a->n <= f, "Input data must have equal or larger number of columns than n");
    ENSURE(f >= 2 && m >= f,
           "PCA needs at least 2 features and at least as many rows as features (got %zu rows, "
           "%zu features)",
           m, f);
    double *centers = calloc(f, sizeof(double));
    ENSURE(centers, "out of memory");
    struct matrix data = {0}, b = {0}, v = {0};
    int rc = 0;
    GUARD_GOTO(matrix_new(&data, m, f), out);
    if (a->center) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < f; j++)
                centers[j] = centers[j] + AT(x, i, j);
        for (size_t j = 0; j < f; j++)
            centers[j] = centers[j] / (double)m;
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < f; j++)
            AT(&data, i, j) = a->center ? AT(x, i, j) - centers[j] : AT(x, i, j);
    GUARD_GOTO(bidiagonal(&data, &b, &v), out);
    GUARD_GOTO(golub_reinsch(&b, &v), out);
    GUARD_GOTO(finish_svd(&b, &v), out);
    /* predict: centred inputs times the first n columns of V. */
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < a->n; j++) {
            double s = 0.0;
            for (size_t k = 0; k < f; k++)
                s = s + (a->center ? AT(x, i, k) - centers[k] : AT(x, i, k)) * AT(&v, k, j);
            GUARD_GOTO(steep_format_f64_debug(out, s), out);
            if (j + 1 < a->n)
                GUARD_GOTO(steep_buf_append_u8(out, ','), out);
        }
        GUARD_GOTO(steep_buf_append_u8(out, '\n'), out);
    }
out:
    free(centers);
    free(data.d);
    free(b.d);
    free(v.d);
    return rc;
}

STEEP_FN(steep_fn_principal_components_analysis)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    struct pca_args a;
    int rc = 0;
    GUARD_GOTO(steep_args_uint(args, "n", UINT64_MAX, &a.n), parsed);
    GUARD_GOTO(steep_args_bool(args, "center", &a.center), parsed);
    GUARD_GOTO(steep_args_uint(args, "feature_size", UINT64_MAX, &a.features), parsed);
parsed:
    json_decref(args);
    GUARD(rc);
    ENSURE(a.features <= MAX_FEATURES, "feature_size larger than %d", MAX_FEATURES);
    struct matrix x = {0};
    GUARD(read_rows(io, (size_t)a.features, &x));
    if (x.rows == 0) {
        free(x.d);
        return steep_error_set("input_data is empty: no rows to transform");
    }
    struct steep_buf output = STEEP_BUF_INIT;
    GUARD_GOTO(transform(&a, &x, &output), out);
    struct steep_writer *w = steep_fn_create_output(io, "output_data");
    GUARD_GOTO(
        w ? steep_fn_close_output(w, steep_writer_write_all(w, output.data, output.len)) : -1, out);
    rc = steep_buf_printf(summary, "transform %zu rows * %llu cols lines of data.", x.rows,
                          (unsigned long long)a.n);
out:
    free(x.d);
    steep_buf_free(&output);
    return rc;
}
