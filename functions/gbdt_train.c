/*
 * builtin-gbdt-train: gbdt-rs 0.1 gradient boosting (Teaclave's fork) on
 * rows of feature_size + 1 f32 values (label last; the line is trimmed,
 * fields are not). Loss "LAD", "SquaredError" or "LogLikelyhood"; every
 * iteration computes targets from the current predictions, grows one
 * regression tree (depth-first node numbering, split on the feature and
 * midpoint value of least impurity, leaves predict the weighted residual
 * median / mean / logit step) and adds shrinkage * leaf to the predictions,
 * all in gbdt-rs's f32/f64 mix. The model is written as gbdt-rs's serde
 * JSON; returns "Trained {n} lines of data.".
 *
 * With LAD (the fixture), impurity sums are sums of ±1 and exact, so the
 * result does not depend on how gbdt-rs's unstable sort orders ties.
 * Sampling ratios below 1.0 draw random row and feature subsets like
 * gbdt-rs (so such models differ from run to run, as in Teaclave).
 * max_depth above 1000 is refused. The data is held in memory.
 */
#include "functions/args.h"
#include "functions/builtins.h"
#include "functions/float_format.h"
#include "functions/line_reader.h"
#include "functions/number.h"

#include "core/error.h"

#include <float.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FEATURES 4096
#define MAX_CELLS    (32u << 20)
#define UNKNOWN      (-FLT_MAX)

enum loss { LOSS_SQUARED, LOSS_LOG, LOSS_LAD };

struct config {
    uint64_t feature_size, max_depth, iterations, min_leaf_size, level;
    float shrinkage;
    double feature_ratio, data_ratio;
    enum loss loss;
    const char *loss_name;
};

struct node {
    uint64_t feature_index;
    float feature_value;
    float pred;
    bool is_leaf;
    size_t left, right;
};

struct tree {
    struct node *nodes;
    size_t count, cap;
};

struct pair {
    size_t index;
    float value;
};

struct trainer {
    const struct config *conf;
    size_t rows, features;
    float *x;      /* rows x features */
    float *label;  /* rows */
    float *target; /* rows */
    float *residual;
    double *cv_s, *cv_ss, *cv_c; /* gbdt-rs CacheValue */
    float *logit_c;
    float *preds;
    struct pair **by_feature; /* per feature, sorted by value */
    struct pair *by_residual;
    uint8_t *member;
    struct pair *scratch; /* rows entries per feature for split candidates */
    size_t *feature_order;
    uint64_t rng; /* xorshift64* state for the sampling ratios, seeded from RAND_bytes */
};

static uint64_t next_random(struct trainer *t)
{
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return t->rng * 0x2545F4914F6CDD1DULL;
}

static void shuffle(struct trainer *t, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(next_random(t) % i);
        size_t v = a[i - 1];
        a[i - 1] = a[j];
        a[j] = v;
    }
}

/* Rust's `(ratio * n as f64) as usize`: saturating, NaN → 0. */
static size_t scaled_count(double ratio, size_t n)
{
    double v = ratio * (double)n;
    if (!(v > 0.0))
        return 0;
    return v >= (double)SIZE_MAX ? SIZE_MAX : (size_t)v;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_pair(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->value < y->value)
        return -1;
    if (x->value > y->value)
        return 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static bool almost_equal(float a, float b)
{
    return (double)fabsf(a - b) < 1.0e-5;
}

/* The entries of sorted (all rows) that belong to members, in order. */
static size_t filter(struct trainer *t, const struct pair *sorted, const size_t *members,
                     size_t count, struct pair *out)
{
    for (size_t i = 0; i < count; i++)
        t->member[members[i]] = 1;
    size_t n = 0;
    for (size_t i = 0; i < t->rows; i++)
        if (t->member[sorted[i].index])
            out[n++] = sorted[i];
    for (size_t i = 0; i < count; i++)
        t->member[members[i]] = 0;
    return n;
}

static float leaf_value(struct trainer *t, const size_t *members, size_t count)
{
    if (t->conf->loss == LOSS_LAD) {
        size_t n = filter(t, t->by_residual, members, count, t->scratch);
        double all = 0.0, weight = 0.0;
        for (size_t i = 0; i < n; i++)
            all += t->cv_c[t->scratch[i].index];
        for (size_t i = 0; i < n; i++) {
            weight += t->cv_c[t->scratch[i].index];
            if (weight * 2.0 > all) {
                float v = i >= 1 ? (t->scratch[i].value + t->scratch[i - 1].value) / 2.0f
                                 : t->scratch[i].value;
                return (float)(double)v;
            }
        }
        return 0.0f;
    }
    double s = 0.0, c = 0.0;
    for (size_t i = 0; i < count; i++) {
        s += t->cv_s[members[i]];
        c += t->conf->loss == LOSS_LOG ? (double)t->logit_c[members[i]] : t->cv_c[members[i]];
    }
    return fabs(c) < 1e-10 ? 0.0f : (float)(s / c);
}

static bool same_target(struct trainer *t, const size_t *members, size_t count)
{
    if (count == 0)
        return false;
    for (size_t i = 1; i < count; i++)
        if (!almost_equal(t->target[members[0]], t->target[members[i]]))
            return false;
    return true;
}

/* gbdt-rs get_impurity over the members sorted by one feature. */
static void impurity(struct trainer *t, const struct pair *sorted, size_t n, double *best,
                     float *value)
{
    *best = DBL_MAX;
    *value = UNKNOWN;
    size_t unknown = 0;
    double s = 0.0, ss = 0.0, c = 0.0;
    for (; unknown < n && sorted[unknown].value == UNKNOWN; unknown++) {
        s += t->cv_s[sorted[unknown].index];
        ss += t->cv_ss[sorted[unknown].index];
        c += t->cv_c[sorted[unknown].index];
    }
    if (unknown == n)
        return;
    double fitness0 = c > 1.0 ? ss - s * s / c : 0.0;
    if (fitness0 < 0.0)
        fitness0 = 0.0;
    double sum_s = 0.0, sum_ss = 0.0, sum_c = 0.0;
    for (size_t i = 0; i < n; i++) {
        sum_s += t->cv_s[sorted[i].index];
        sum_ss += t->cv_ss[sorted[i].index];
        sum_c += t->cv_c[sorted[i].index];
    }
    double rs = sum_s - s, rss = sum_ss - ss, rc = sum_c - c;
    double ls = 0.0, lss = 0.0, lc = 0.0;
    for (size_t i = unknown; i + 1 < n; i++) {
        size_t index = sorted[i].index;
        ls += t->cv_s[index];
        lss += t->cv_ss[index];
        lc += t->cv_c[index];
        rs -= t->cv_s[index];
        rss -= t->cv_ss[index];
        rc -= t->cv_c[index];
        float f1 = sorted[i].value, f2 = sorted[i + 1].value;
        if (almost_equal(f1, f2))
            continue;
        double fitness1 = lc > 1.0 ? lss - ls * ls / lc : 0.0;
        if (fitness1 < 0.0)
            fitness1 = 0.0;
        double fitness2 = rc > 1.0 ? rss - rs * rs / rc : 0.0;
        if (fitness2 < 0.0)
            fitness2 = 0.0;
        double fitness = fitness0 + fitness1 + fitness2;
        if (*best > fitness) {
            *best = fitness;
            *value = (f1 + f2) / 2.0f;
        }
    }
}

static int add_node(struct tree *tree, size_t *index)
{
    if (tree->count == tree->cap) {
        size_t cap = tree->cap ? tree->cap * 2 : 16;
        struct node *fresh = realloc(tree->nodes, cap * sizeof(*fresh));
        ENSURE(fresh, "out of memory");
        tree->nodes = fresh;
        tree->cap = cap;
    }
    tree->nodes[tree->count] = (struct node){0};
    *index = tree->count++;
    return 0;
}

static int fit_node(struct trainer *t, struct tree *tree, size_t node, uint64_t depth,
                    const size_t *members, size_t count)
{
    float pred = leaf_value(t, members, count);
    tree->nodes[node].pred = pred;
    if (depth >= t->conf->max_depth || same_target(t, members, count) ||
        count <= t->conf->min_leaf_size) {
        tree->nodes[node].is_leaf = true;
        for (size_t i = 0; i < count; i++)
            t->preds[members[i]] = pred;
        return 0;
    }
    double best = DBL_MAX;
    float best_value = 0.0f;
    size_t best_feature = 0;
    bool found = false;
    struct pair *chosen = malloc(count * sizeof(*chosen));
    ENSURE(chosen, "out of memory");
    size_t chosen_n = 0;
    size_t sampled = t->features;
    for (size_t f = 0; f < t->features; f++)
        t->feature_order[f] = f;
    if (t->conf->feature_ratio < 1.0) {
        sampled = scaled_count(t->conf->feature_ratio, t->features);
        shuffle(t, t->feature_order, t->features);
    }
    for (size_t k = 0; k < sampled && k < t->features; k++) {
        size_t f = t->feature_order[k];
        size_t n = filter(t, t->by_feature[f], members, count, t->scratch);
        double fitness;
        float value;
        impurity(t, t->scratch, n, &fitness, &value);
        if (best > fitness) {
            found = true;
            best = fitness;
            best_feature = f;
            best_value = value;
            memcpy(chosen, t->scratch, n * sizeof(*chosen));
            chosen_n = n;
        }
    }
    size_t *left = malloc((count + 1) * sizeof(*left));
    size_t *right = malloc((count + 1) * sizeof(*right));
    size_t n_left = 0, n_right = 0, n_unknown = 0;
    if (found && left && right) {
        for (size_t i = 0; i < chosen_n; i++) {
            if (chosen[i].value == UNKNOWN)
                n_unknown++;
            else if (chosen[i].value < best_value)
                left[n_left++] = chosen[i].index;
            else
                right[n_right++] = chosen[i].index;
        }
        found = (n_left == 0) + (n_right == 0) + (n_unknown == 0) < 2;
    }
    free(chosen);
    int rc = 0;
    ENSURE_GOTO(left && right, out, "out of memory");
    if (!found) {
        tree->nodes[node].is_leaf = true;
        for (size_t i = 0; i < count; i++)
            t->preds[members[i]] = pred;
        goto out;
    }
    tree->nodes[node].feature_index = best_feature;
    tree->nodes[node].feature_value = best_value;
    size_t child;
    GUARD_GOTO(add_node(tree, &child), out);
    tree->nodes[node].left = child;
    GUARD_GOTO(fit_node(t, tree, child, depth + 1, left, n_left), out);
    GUARD_GOTO(add_node(tree, &child), out);
    tree->nodes[node].right = child;
    rc = fit_node(t, tree, child, depth + 1, right, n_right);
out:
    free(left);
    free(right);
    return rc;
}

static float initial_bias(const struct trainer *t)
{
    if (t->conf->loss == LOSS_LAD) {
        float *sorted = malloc(t->rows * sizeof(float));
        if (!sorted || t->rows == 0) {
            free(sorted);
            return 0.0f;
        }
        memcpy(sorted, t->label, t->rows * sizeof(float));
        for (size_t i = 1; i < t->rows; i++) /* stable insertion sort by label */
            for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                float v = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = v;
            }
        double all = (double)t->rows, weight = 0.0;
        float median = 0.0f;
        for (size_t i = 0; i < t->rows; i++) {
            weight += 1.0;
            if (weight * 2.0 > all) {
                median = i >= 2 ? (sorted[i] + sorted[i - 1]) / 2.0f : sorted[i];
                break;
            }
        }
        free(sorted);
        return median;
    }
    float s = 0.0f, c = 0.0f;
    for (size_t i = 0; i < t->rows; i++) {
        s += t->label[i] * 1.0f;
        c += 1.0f;
    }
    float v = s / c;
    return t->conf->loss == LOSS_LOG ? logf((1.0f + v) / (1.0f - v)) / 2.0f : v;
}

static void set_targets(struct trainer *t, const float *predicted)
{
    for (size_t i = 0; i < t->rows; i++) {
        float y = t->label[i], f = predicted[i];
        if (t->conf->loss == LOSS_LAD) {
            t->residual[i] = y - f;
            t->target[i] = t->residual[i] >= 0.0f ? 1.0f : -1.0f;
        } else if (t->conf->loss == LOSS_LOG) {
            t->target[i] = 2.0f * y / (1.0f + expf(2.0f * y * f));
        } else {
            t->target[i] = y - f;
        }
        double target = (double)t->target[i], weight = 1.0;
        t->cv_s[i] = target * weight;
        t->cv_ss[i] = target * t->cv_s[i];
        t->cv_c[i] = weight;
        if (t->conf->loss == LOSS_LOG) {
            double a = fabs(target);
            t->logit_c[i] = (float)(a * (2.0 - a) * weight);
        }
    }
    if (t->conf->loss == LOSS_LAD) {
        for (size_t i = 0; i < t->rows; i++)
            t->by_residual[i] = (struct pair){i, t->residual[i]};
        qsort(t->by_residual, t->rows, sizeof(struct pair), cmp_pair);
    }
}

static int append_tree(struct steep_buf *out, const struct tree *tree, const struct config *c)
{
    GUARD(steep_buf_printf(out, "{\"tree\":{\"tree\":["));
    for (size_t i = 0; i < tree->count; i++) {
        const struct node *n = &tree->nodes[i];
        GUARD(steep_buf_printf(out, "%s{\"value\":{\"feature_index\":%llu,\"feature_value\":",
                               i ? "," : "", (unsigned long long)n->feature_index));
        GUARD(steep_format_f32_json(out, n->feature_value));
        GUARD(steep_buf_printf(out, ",\"pred\":"));
        GUARD(steep_format_f32_json(out, n->pred));
        GUARD(steep_buf_printf(out,
                               ",\"missing\":0,\"is_leaf\":%s},\"index\":%zu,\"left\":%zu,"
                               "\"right\":%zu}",
                               n->is_leaf ? "true" : "false", i, n->left, n->right));
    }
    GUARD(steep_buf_printf(out,
                           "]},\"feature_size\":%llu,\"max_depth\":%llu,\"min_leaf_size\":%llu,"
                           "\"loss\":\"%s\",\"feature_sample_ratio\":",
                           (unsigned long long)c->feature_size, (unsigned long long)c->max_depth,
                           (unsigned long long)c->min_leaf_size, c->loss_name));
    GUARD(steep_format_f64_json(out, c->feature_ratio));
    return steep_buf_append_u8(out, '}');
}

static int serialize(struct steep_buf *out, const struct config *c, const struct tree *trees,
                     float bias)
{
    GUARD(
        steep_buf_printf(out,
                         "{\"conf\":{\"feature_size\":%llu,\"max_depth\":%llu,\"iterations\":%llu,"
                         "\"shrinkage\":",
                         (unsigned long long)c->feature_size, (unsigned long long)c->max_depth,
                         (unsigned long long)c->iterations));
    GUARD(steep_format_f32_json(out, c->shrinkage));
    GUARD(steep_buf_printf(out, ",\"feature_sample_ratio\":"));
    GUARD(steep_format_f64_json(out, c->feature_ratio));
    GUARD(steep_buf_printf(out, ",\"data_sample_ratio\":"));
    GUARD(steep_format_f64_json(out, c->data_ratio));
    GUARD(steep_buf_printf(out,
                           ",\"min_leaf_size\":%llu,\"loss\":\"%s\",\"debug\":false,"
                           "\"initial_guess_enabled\":false,\"training_optimization_level\":%llu},"
                           "\"trees\":[",
                           (unsigned long long)c->min_leaf_size, c->loss_name,
                           (unsigned long long)c->level));
    for (uint64_t i = 0; i < c->iterations; i++) {
        if (i)
            GUARD(steep_buf_append_u8(out, ','));
        GUARD(append_tree(out, &trees[i], c));
    }
    GUARD(steep_buf_printf(out, "],\"bias\":"));
    GUARD(steep_format_f32_json(out, bias));
    return steep_buf_append_u8(out, '}');
}

static int parse_config(const char *args_json, struct config *c)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    double shrinkage;
    const char *loss = NULL;
    int rc = 0;
    GUARD_GOTO(steep_args_uint(args, "feature_size", UINT64_MAX, &c->feature_size), out);
    GUARD_GOTO(steep_args_uint(args, "max_depth", UINT32_MAX, &c->max_depth), out);
    GUARD_GOTO(steep_args_uint(args, "iterations", UINT64_MAX, &c->iterations), out);
    GUARD_GOTO(steep_args_f64(args, "shrinkage", &shrinkage), out);
    GUARD_GOTO(steep_args_f64(args, "feature_sample_ratio", &c->feature_ratio), out);
    GUARD_GOTO(steep_args_f64(args, "data_sample_ratio", &c->data_ratio), out);
    GUARD_GOTO(steep_args_uint(args, "min_leaf_size", UINT64_MAX, &c->min_leaf_size), out);
    GUARD_GOTO(steep_args_string(args, "loss", &loss), out);
    GUARD_GOTO(steep_args_uint(args, "training_optimization_level", UINT8_MAX, &c->level), out);
    c->shrinkage = (float)shrinkage;
    if (strcmp(loss, "LAD") == 0)
        c->loss = LOSS_LAD, c->loss_name = "LAD";
    else if (strcmp(loss, "SquaredError") == 0)
        c->loss = LOSS_SQUARED, c->loss_name = "SquaredError";
    else if (strcmp(loss, "LogLikelyhood") == 0)
        c->loss = LOSS_LOG, c->loss_name = "LogLikelyhood";
    else
        rc = steep_error_set("unsupported loss %s (LAD, SquaredError, LogLikelyhood)", loss);
out:
    json_decref(args);
    GUARD(rc);
    ENSURE(c->feature_size >= 1 && c->feature_size <= MAX_FEATURES, "feature_size must be 1..%d",
           MAX_FEATURES);
    ENSURE(c->iterations <= 100000, "iterations larger than 100000");
    /* Trees are grown recursively: bound the depth (and so the stack). */
    ENSURE(c->max_depth <= 1000, "max_depth larger than 1000 is not supported");
    return 0;
}

static int read_rows(struct steep_fn_io *io, struct trainer *t, struct steep_buf *x,
                     struct steep_buf *labels)
{
    struct steep_reader *r = steep_fn_open_input(io, "training_data");
    if (!r)
        return -1;
    struct steep_line_reader *lr = malloc(sizeof(*lr));
    float *row = malloc((t->features + 1) * sizeof(float));
    bool reading = false;
    const char *line;
    size_t len;
    int rc = 0, got;
    ENSURE_GOTO(lr && row, out, "out of memory");
    steep_line_reader_init(lr, r);
    reading = true;
    while ((got = steep_line_next(lr, &line, &len)) == 1) {
        if (steep_parse_row_f32(line, len, row, t->features + 1) < 0) {
            rc = steep_line_error(lr, "training_data");
            goto out;
        }
        ENSURE_GOTO((t->rows + 1) * (t->features + 1) <= MAX_CELLS, out,
                    "training data larger than %u values", MAX_CELLS);
        GUARD_GOTO(steep_buf_append(x, row, t->features * sizeof(float)), out);
        GUARD_GOTO(steep_buf_append(labels, &row[t->features], sizeof(float)), out);
        t->rows++;
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

static int allocate(struct trainer *t)
{
    size_t n = t->rows ? t->rows : 1;
    t->target = calloc(n, sizeof(float));
    t->residual = calloc(n, sizeof(float));
    t->cv_s = calloc(n, sizeof(double));
    t->cv_ss = calloc(n, sizeof(double));
    t->cv_c = calloc(n, sizeof(double));
    t->logit_c = calloc(n, sizeof(float));
    t->preds = calloc(n, sizeof(float));
    t->by_residual = calloc(n, sizeof(struct pair));
    t->member = calloc(n, 1);
    t->scratch = calloc(n, sizeof(struct pair));
    t->by_feature = calloc(t->features, sizeof(struct pair *));
    t->feature_order = calloc(t->features, sizeof(size_t));
    ENSURE(t->target && t->residual && t->cv_s && t->cv_ss && t->cv_c && t->logit_c && t->preds &&
               t->by_residual && t->member && t->scratch && t->by_feature && t->feature_order,
           "out of memory");
    for (size_t f = 0; f < t->features; f++) {
        t->by_feature[f] = calloc(n, sizeof(struct pair));
        ENSURE(t->by_feature[f], "out of memory");
        for (size_t i = 0; i < t->rows; i++)
            t->by_feature[f][i] = (struct pair){i, t->x[i * t->features + f]};
        qsort(t->by_feature[f], t->rows, sizeof(struct pair), cmp_pair);
    }
    return 0;
}

static void release(struct trainer *t)
{
    if (t->by_feature)
        for (size_t f = 0; f < t->features; f++)
            free(t->by_feature[f]);
    free(t->by_feature);
    free(t->target);
    free(t->residual);
    free(t->cv_s);
    free(t->cv_ss);
    free(t->cv_c);
    free(t->logit_c);
    free(t->preds);
    free(t->by_residual);
    free(t->member);
    free(t->scratch);
    free(t->feature_order);
}

/* gbdt-rs predict_one for a training row (no missing values are produced). */
static float tree_predict(const struct tree *tree, const float *x)
{
    size_t index = 0;
    for (size_t steps = 0; steps <= tree->count; steps++) {
        const struct node *n = &tree->nodes[index];
        if (n->is_leaf || x[n->feature_index] == UNKNOWN)
            return n->pred;
        index = x[n->feature_index] < n->feature_value ? n->left : n->right;
    }
    return 0.0f;
}

static int boost(struct trainer *t, struct tree *trees, float *bias)
{
    GUARD(allocate(t));
    ENSURE(RAND_bytes((uint8_t *)&t->rng, sizeof(t->rng)) == 1, "random generator failed");
    t->rng |= 1;
    *bias = initial_bias(t);
    size_t n = t->rows ? t->rows : 1;
    float *predicted = malloc(n * sizeof(float));
    size_t *samples = malloc(n * sizeof(size_t));
    int rc = 0;
    ENSURE_GOTO(predicted && samples, out, "out of memory");
    size_t subset =
        t->conf->data_ratio < 1.0 ? scaled_count(t->conf->data_ratio, t->rows) : t->rows;
    if (subset > t->rows)
        subset = t->rows;
    for (size_t i = 0; i < t->rows; i++)
        predicted[i] = *bias;
    for (uint64_t it = 0; it < t->conf->iterations; it++) {
        for (size_t i = 0; i < t->rows; i++)
            samples[i] = i;
        if (subset < t->rows) {
            shuffle(t, samples, t->rows);
            qsort(samples, subset, sizeof(size_t), cmp_size);
            qsort(samples + subset, t->rows - subset, sizeof(size_t), cmp_size);
        }
        set_targets(t, predicted);
        size_t root;
        GUARD_GOTO(add_node(&trees[it], &root), out);
        GUARD_GOTO(fit_node(t, &trees[it], root, 0, samples, subset), out);
        for (size_t k = 0; k < t->rows; k++) {
            size_t i = samples[k];
            float value =
                k < subset ? t->preds[i] : tree_predict(&trees[it], t->x + i * t->features);
            float step = value * t->conf->shrinkage;
            predicted[i] = predicted[i] + step;
        }
    }
out:
    free(predicted);
    free(samples);
    return rc;
}

STEEP_FN(steep_fn_gbdt_train)
{
    struct config conf;
    GUARD(parse_config(args_json, &conf));
    struct trainer t = {.conf = &conf, .features = (size_t)conf.feature_size};
    struct steep_buf x = STEEP_BUF_INIT, labels = STEEP_BUF_INIT, model = STEEP_BUF_INIT;
    struct tree *trees = calloc(conf.iterations ? conf.iterations : 1, sizeof(*trees));
    float bias = 0.0f;
    int rc = 0;
    ENSURE_GOTO(trees, out, "out of memory");
    GUARD_GOTO(read_rows(io, &t, &x, &labels), out);
    ENSURE_GOTO(t.rows > 0, out, "training_data is empty: no rows to train on");
    t.x = (float *)x.data;
    t.label = (float *)labels.data;
    GUARD_GOTO(boost(&t, trees, &bias), out);
    GUARD_GOTO(serialize(&model, &conf, trees, bias), out);
    struct steep_writer *w = steep_fn_create_output(io, "trained_model");
    GUARD_GOTO(w ? steep_fn_close_output(w, steep_writer_write_all(w, model.data, model.len)) : -1,
               out);
    rc = steep_buf_printf(summary, "Trained %zu lines of data.", t.rows);
out:
    release(&t);
    for (uint64_t i = 0; trees && i < conf.iterations; i++)
        free(trees[i].nodes);
    free(trees);
    steep_buf_free(&x);
    steep_buf_free(&labels);
    steep_buf_free(&model);
    return rc;
}
