/*
 * builtin-gbdt-predict: model_file is gbdt-rs's GBDT JSON (conf, trees,
 * bias); each line of data_file holds comma-separated f32 features (line
 * and fields trimmed). Per sample: bias (0 with initial_guess_enabled),
 * plus shrinkage * tree prediction for each of conf.iterations trees, in
 * f32 arithmetic like gbdt-rs; LogLikelyhood maps x to 1/(1+e^(-2x)),
 * binary:logistic and reg:logistic to 1/(1+e^(-x)). Writes "{:.10}\n" per
 * sample to result_file; returns "Predict result has {n} lines of data.".
 * Tree walk: leaf → pred; feature == f32::MIN (unknown) → by "missing"
 * (-1 left, 0 this node's pred, 1 right); feature < value → left, else
 * right. gbdt-rs panics on malformed models; we fail with a message.
 */
#include "functions/builtins.h"
#include "functions/line_reader.h"
#include "functions/model_file.h"
#include "functions/number.h"

#include "core/error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FEATURES 65536

struct tree_node {
    uint64_t feature_index;
    float feature_value;
    float pred;
    int64_t missing;
    bool is_leaf;
    uint64_t left;
    uint64_t right;
};

struct tree {
    struct tree_node *nodes;
    size_t count;
};

enum link { LINK_RAW, LINK_LOG_LIKELYHOOD, LINK_LOGISTIC };

struct model {
    struct tree *trees;
    size_t tree_count;
    float shrinkage;
    float bias;
    enum link link;
};

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->tree_count; i++)
        free(m->trees[i].nodes);
    free(m->trees);
}

static int get_float(const json_t *obj, const char *key, float *out)
{
    const json_t *v = json_object_get(obj, key);
    ENSURE(json_is_number(v), "invalid model: missing field `%s`", key);
    *out = (float)json_number_value(v); /* serde_json reads f64, then casts */
    return 0;
}

static int get_uint(const json_t *obj, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    ENSURE(json_is_integer(v) && json_integer_value(v) >= 0, "invalid model: missing field `%s`",
           key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_node(const json_t *j, struct tree_node *n)
{
    const json_t *value = json_object_get(j, "value");
    ENSURE(json_is_object(value), "invalid model: tree node without value");
    GUARD(get_uint(value, "feature_index", &n->feature_index));
    GUARD(get_float(value, "feature_value", &n->feature_value));
    GUARD(get_float(value, "pred", &n->pred));
    const json_t *missing = json_object_get(value, "missing");
    const json_t *leaf = json_object_get(value, "is_leaf");
    ENSURE(json_is_integer(missing) && json_is_boolean(leaf),
           "invalid model: missing field `missing` or `is_leaf`");
    n->missing = json_integer_value(missing);
    n->is_leaf = json_is_true(leaf);
    GUARD(get_uint(j, "left", &n->left));
    return get_uint(j, "right", &n->right);
}

static int parse_tree(const json_t *j, struct tree *t)
{
    const json_t *nodes = json_object_get(json_object_get(j, "tree"), "tree");
    ENSURE(json_is_array(nodes), "invalid model: tree without nodes");
    t->count = json_array_size(nodes);
    ENSURE(t->count > 0, "Decision tree should have root node");
    t->nodes = calloc(t->count, sizeof(*t->nodes));
    ENSURE(t->nodes, "out of memory");
    for (size_t i = 0; i < t->count; i++)
        GUARD(parse_node(json_array_get(nodes, i), &t->nodes[i]));
    return 0;
}

static int parse_model(const json_t *j, struct model *m)
{
    const json_t *conf = json_object_get(j, "conf");
    const json_t *trees = json_object_get(j, "trees");
    ENSURE(json_is_object(conf) && json_is_array(trees), "invalid model: missing conf or trees");
    uint64_t iterations;
    GUARD(get_uint(conf, "iterations", &iterations));
    GUARD(get_float(conf, "shrinkage", &m->shrinkage));
    GUARD(get_float(j, "bias", &m->bias));
    const json_t *loss = json_object_get(conf, "loss");
    const json_t *guess = json_object_get(conf, "initial_guess_enabled");
    ENSURE(json_is_string(loss) && json_is_boolean(guess),
           "invalid model: missing field `loss` or `initial_guess_enabled`");
    if (json_is_true(guess))
        m->bias = 0.0f; /* test samples carry initial_guess 0 */
    const char *name = json_string_value(loss);
    m->link = strcmp(name, "LogLikelyhood") == 0 ? LINK_LOG_LIKELYHOOD
              : strcmp(name, "binary:logistic") == 0 || strcmp(name, "reg:logistic") == 0
                  ? LINK_LOGISTIC
                  : LINK_RAW;
    ENSURE(iterations == json_array_size(trees), "invalid model: %llu iterations but %zu trees",
           (unsigned long long)iterations, json_array_size(trees));
    m->tree_count = json_array_size(trees);
    m->trees = calloc(m->tree_count ? m->tree_count : 1, sizeof(*m->trees));
    ENSURE(m->trees, "out of memory");
    for (size_t i = 0; i < m->tree_count; i++)
        GUARD(parse_tree(json_array_get(trees, i), &m->trees[i]));
    return 0;
}

static int tree_predict(const struct tree *t, const float *features, size_t count, float *out)
{
    size_t index = 0;
    for (size_t steps = 0; steps <= t->count; steps++) {
        const struct tree_node *n = &t->nodes[index];
        if (n->is_leaf) {
            *out = n->pred;
            return 0;
        }
        ENSURE(n->feature_index < count, "sample doesn't have the feature");
        float x = features[n->feature_index];
        int direction; /* -1 left, 0 here, 1 right */
        if (x == -FLT_MAX)
            direction = n->missing == -1 ? -1 : n->missing == 0 ? 0 : 1;
        else
            direction = x < n->feature_value ? -1 : 1;
        if (direction == 0) {
            *out = n->pred;
            return 0;
        }
        uint64_t next = direction < 0 ? n->left : n->right;
        ENSURE(next != 0 && next < t->count, "%s child should not be None",
               direction < 0 ? "Left" : "Right");
        index = (size_t)next;
    }
    return steep_error_set("invalid model: cycle in decision tree");
}

static int predict(const struct model *m, const float *features, size_t count, float *out)
{
    float predicted = m->bias;
    for (size_t i = 0; i < m->tree_count; i++) {
        float v = 0.0f;
        GUARD(tree_predict(&m->trees[i], features, count, &v));
        float step = m->shrinkage * v; /* separate statements: no FMA contraction */
        predicted = predicted + step;
    }
    if (m->link == LINK_LOG_LIKELYHOOD)
        predicted = 1.0f / (1.0f + expf(-2.0f * predicted));
    else if (m->link == LINK_LOGISTIC)
        predicted = 1.0f / (1.0f + expf(-predicted));
    *out = predicted;
    return 0;
}

static int parse_line(const char *line, size_t len, float *features, size_t *count)
{
    steep_trim(&line, &len);
    ENSURE(len > 0, "Empty line");
    const char *p = line, *end = line + len;
    *count = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *field = p;
        size_t field_len = (size_t)((comma ? comma : end) - p);
        steep_trim(&field, &field_len);
        ENSURE(field_len > 0, "Empty feature");
        ENSURE(*count < MAX_FEATURES, "more than %d features", MAX_FEATURES);
        GUARD(steep_parse_f32(field, field_len, &features[*count]));
        GUARD(steep_check_finite((double)features[*count], *count + 1));
        (*count)++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int run(struct steep_fn_io *io, const struct model *m, float *features, uint64_t *lines)
{
    struct steep_reader *r = steep_fn_open_input(io, "data_file");
    if (!r)
        return -1;
    struct steep_line_reader *lr = malloc(sizeof(*lr));
    struct steep_writer *w = lr ? steep_fn_create_output(io, "result_file") : NULL;
    struct steep_buf text = STEEP_BUF_INIT;
    bool reading = false;
    const char *line;
    size_t len;
    int rc = 0, got;
    ENSURE_GOTO(lr, out, "out of memory");
    GUARD_GOTO(w ? 0 : -1, out);
    steep_line_reader_init(lr, r);
    reading = true;
    while ((got = steep_line_next(lr, &line, &len)) == 1) {
        size_t count = 0;
        float value = 0.0f;
        steep_buf_reset(&text);
        (*lines)++;
        if (parse_line(line, len, features, &count) < 0 ||
            predict(m, features, count, &value) < 0) {
            rc = steep_line_error(lr, "data_file");
            goto out;
        }
        GUARD_GOTO(steep_buf_printf(&text, "%.10f\n", (double)value), out);
        GUARD_GOTO(steep_writer_write_all(w, text.data, text.len), out);
    }
    GUARD_GOTO(got, out);
out:
    steep_buf_free(&text);
    if (reading)
        steep_line_reader_free(lr);
    rc = steep_fn_close_output(w, rc);
    free(lr);
    steep_reader_close(r);
    return rc;
}

STEEP_FN(steep_fn_gbdt_predict)
{
    json_t *json;
    GUARD(steep_model_load(io, "model_file", &json));
    struct model m = {0};
    float *features = NULL;
    uint64_t lines = 0;
    int rc = 0;
    GUARD_GOTO(parse_model(json, &m), out);
    features = malloc(MAX_FEATURES * sizeof(float));
    ENSURE_GOTO(features, out, "out of memory");
    rc = run(io, &m, features, &lines);
out:
    json_decref(json);
    free(features);
    model_free(&m);
    GUARD(rc);
    return steep_buf_printf(summary, "Predict result has %llu lines of data.",
                            (unsigned long long)lines);
}
