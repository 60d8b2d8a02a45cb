/*
 * The SeetaFace model file, read as rustface's ModelReader reads it: all
 * little-endian i32/f32. hierarchy count; per hierarchy its group count;
 * per group its stage count, then one classifier per stage (kind 0: LAB
 * boosted — count, bins, count (x, y) offsets, count thresholds, count rows
 * of bins+1 weights; kind 1: SURF-MLP — layer count, feature count, feature
 * ids, threshold, input dimension, then per layer its output dimension,
 * weights and biases), then the group's window sources.
 *
 * Every count is checked against the bytes left before anything is
 * allocated, so a corrupt file fails with its offset instead of asking for
 * gigabytes. Beyond the layout, the parser refuses what rustface's detector
 * would index out of bounds or silently misread (LAB offsets outside the
 * window, fewer than 256 bins, SURF ids outside the pool, an MLP input that
 * is not its features, window sources naming groups that do not exist,
 * first-hierarchy groups that are not single LAB stages), so the detector
 * itself needs no checks.
 */
#include "functions/face_detection.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct reader {
    struct steep_cursor cursor;
};

static int read_i32(struct reader *r, const char *what, int32_t *out)
{
    uint32_t v = 0;
    if (steep_cursor_read_u32le(&r->cursor, &v) < 0)
        return steep_error_set("face model: truncated at byte %zu (reading %s)", r->cursor.pos,
                               what);
    memcpy(out, &v, sizeof v);
    return 0;
}

/* A count in [min, max] whose items (item_size bytes each) fit in what is left. */
static int read_count(struct reader *r, const char *what, int32_t min, int32_t max,
                      size_t item_size, size_t *out)
{
    size_t at = r->cursor.pos;
    int32_t v = 0;
    GUARD(read_i32(r, what, &v));
    if (v < min || v > max)
        return steep_error_set("face model: %s %d at byte %zu is outside %d..%d", what, v, at, min,
                               max);
    if (item_size > 0 && (size_t)v > steep_cursor_remaining(&r->cursor) / item_size)
        return steep_error_set("face model: truncated at byte %zu (%s %d needs %zu bytes)", at,
                               what, v, (size_t)v * item_size);
    *out = (size_t)v;
    return 0;
}

/* An array of n little-endian 32-bit fields, allocated once the bytes
 * are known to be there. */
static void *alloc_words(struct reader *r, const char *what, size_t n, size_t size)
{
    if (n > steep_cursor_remaining(&r->cursor) / 4) {
        steep_error_set("face model: truncated at byte %zu (reading %zu %s)", r->cursor.pos, n,
                        what);
        return NULL;
    }
    void *words = malloc(n ? n * size : 1);
    if (!words)
        steep_error_set("out of memory");
    return words;
}

static int read_floats(struct reader *r, const char *what, size_t n, float **out)
{
    *out = alloc_words(r, what, n, sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        float value;
        GUARD(steep_cursor_read_u32le(&r->cursor, &bits));
        memcpy(&value, &bits, sizeof value);
        (*out)[i] = value;
    }
    return 0;
}

static int read_ints(struct reader *r, const char *what, size_t n, int32_t **out)
{
    *out = alloc_words(r, what, n, sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < n; i++)
        GUARD(read_i32(r, what, &(*out)[i]));
    return 0;
}

#define MAX_OFFSET (STEEP_FACE_WINDOW - STEEP_FACE_LAB_SPAN)

static int read_lab(struct reader *r, struct steep_face_lab *lab)
{
    size_t count, bins;
    size_t at = r->cursor.pos;
    GUARD(read_count(r, "LAB base classifier count", 0, INT32_MAX, 8 + 4 + 4 * 256, &count));
    ENSURE(count % 10 == 0,
           "face model: LAB base classifier count %zu at byte %zu is not a multiple of 10", count,
           at);
    at = r->cursor.pos;
    GUARD(read_count(r, "LAB bin count", STEEP_FACE_LAB_BINS - 1, INT32_MAX - 1, 0, &bins));
    lab->count = count;
    lab->x = malloc((count ? count : 1) * sizeof(int32_t));
    lab->y = malloc((count ? count : 1) * sizeof(int32_t));
    ENSURE(lab->x && lab->y, "out of memory");
    for (size_t i = 0; i < count; i++) {
        at = r->cursor.pos;
        GUARD(read_i32(r, "LAB feature x", &lab->x[i]));
        GUARD(read_i32(r, "LAB feature y", &lab->y[i]));
        if (lab->x[i] < 0 || lab->x[i] > MAX_OFFSET || lab->y[i] < 0 || lab->y[i] > MAX_OFFSET)
            return steep_error_set("face model: LAB feature (%d, %d) at byte %zu is outside the "
                                   "%d-pixel window",
                                   lab->x[i], lab->y[i], at, STEEP_FACE_WINDOW);
    }
    GUARD(read_floats(r, "LAB thresholds", count, &lab->thresh));
    size_t row = bins + 1;
    if (count > 0 && row > steep_cursor_remaining(&r->cursor) / 4 / count)
        return steep_error_set("face model: truncated at byte %zu (reading %zu LAB weight rows of "
                               "%zu)",
                               r->cursor.pos, count, row);
    lab->weights = malloc((count ? count : 1) * STEEP_FACE_LAB_BINS * sizeof(float));
    ENSURE(lab->weights, "out of memory");
    for (size_t i = 0; i < count; i++) {
        for (size_t b = 0; b < row; b++) {
            uint32_t v;
            GUARD(steep_cursor_read_u32le(&r->cursor, &v));
            /* rustface indexes only the first 256 (a LAB code is a byte). */
            float weight;
            memcpy(&weight, &v, sizeof weight);
            if (b < STEEP_FACE_LAB_BINS)
                lab->weights[i * STEEP_FACE_LAB_BINS + b] = weight;
        }
    }
    return 0;
}

static int read_mlp(struct reader *r, struct steep_face_mlp *mlp)
{
    size_t layers, features;
    size_t at = r->cursor.pos;
    GUARD(read_count(r, "SURF-MLP layer count", 3, 64, 0, &layers));
    GUARD(read_count(r, "SURF-MLP feature count", 1, INT32_MAX, 4, &features));
    mlp->feature_count = features;
    GUARD(read_ints(r, "SURF-MLP feature ids", features, &mlp->feature_ids));
    size_t pool = steep_face_surf_pool(NULL, 0);
    for (size_t i = 0; i < features; i++) {
        /* rustface reads dimension of id (not id - 1): the last id of the pool
         * would be out of bounds there. */
        if (mlp->feature_ids[i] < 1 || (size_t)mlp->feature_ids[i] >= pool)
            return steep_error_set("face model: SURF feature id %d at byte %zu is outside 1..%zu",
                                   mlp->feature_ids[i], at, pool - 1);
    }
    int32_t thresh = 0;
    GUARD(read_i32(r, "SURF-MLP threshold", &thresh));
    memcpy(&mlp->thresh, &thresh, sizeof thresh);
    size_t input;
    at = r->cursor.pos;
    GUARD(read_count(r, "SURF-MLP input dimension", 1, 1 << 20, 0, &input));
    ENSURE(input == features * STEEP_FACE_SURF_DIM,
           "face model: SURF-MLP input dimension %zu at byte %zu is not %zu features x %d", input,
           at, features, STEEP_FACE_SURF_DIM);
    mlp->layer_count = layers - 1;
    mlp->layers = calloc(layers - 1, sizeof *mlp->layers);
    ENSURE(mlp->layers, "out of memory");
    for (size_t i = 0; i + 1 < layers; i++) {
        struct steep_face_layer *layer = &mlp->layers[i];
        size_t output;
        GUARD(read_count(r, "SURF-MLP layer dimension", 1, 1 << 20, 0, &output));
        if (input > steep_cursor_remaining(&r->cursor) / 4 / output)
            return steep_error_set("face model: truncated at byte %zu (reading a %zux%zu layer)",
                                   r->cursor.pos, output, input);
        layer->input_dim = (uint32_t)input;
        layer->output_dim = (uint32_t)output;
        layer->sigmoid = i + 2 == layers;
        GUARD(read_floats(r, "SURF-MLP weights", input * output, &layer->weights));
        GUARD(read_floats(r, "SURF-MLP biases", output, &layer->biases));
        input = output;
    }
    /* The detector reads four outputs: score and the box regression. */
    ENSURE(input >= 4, "face model: SURF-MLP output dimension %zu (needs 4) before byte %zu", input,
           r->cursor.pos);
    return 0;
}

static int read_classifier(struct reader *r, struct steep_face_classifier *classifier)
{
    int32_t kind = -1;
    size_t at = r->cursor.pos;
    GUARD(read_i32(r, "classifier kind", &kind));
    if (kind == STEEP_FACE_LAB) {
        classifier->kind = STEEP_FACE_LAB;
        return read_lab(r, &classifier->lab);
    }
    if (kind == STEEP_FACE_SURF_MLP) {
        classifier->kind = STEEP_FACE_SURF_MLP;
        return read_mlp(r, &classifier->mlp);
    }
    return steep_error_set("face model: unknown classifier kind %d at byte %zu", kind, at);
}

static int grow(void **items, size_t *capacity, size_t needed, size_t size)
{
    if (needed <= *capacity)
        return 0;
    size_t next = *capacity ? *capacity * 2 : 8;
    while (next < needed)
        next *= 2;
    void *grown = realloc(*items, next * size);
    ENSURE(grown, "out of memory");
    memset((uint8_t *)grown + *capacity * size, 0, (next - *capacity) * size);
    *items = grown;
    *capacity = next;
    return 0;
}

/* What detect_impl indexes: see the comment at the top. */
static int check_cascade(const struct steep_face_model *model)
{
    size_t first = model->hierarchy_sizes[0];
    size_t group = 0, classifier = 0;
    for (size_t h = 0; h < model->hierarchy_count; h++) {
        ENSURE(model->hierarchy_sizes[h] <= first,
               "face model: hierarchy %zu has %u groups, more than the first hierarchy's %zu", h,
               model->hierarchy_sizes[h], first);
        for (size_t g = 0; g < model->hierarchy_sizes[h]; g++, group++) {
            const struct steep_face_group *grp = &model->groups[group];
            if (h == 0) {
                ENSURE(grp->stages == 1 && model->classifiers[classifier].kind == STEEP_FACE_LAB,
                       "face model: group %zu of the first hierarchy is not one LAB stage", g);
            } else {
                ENSURE(grp->source_count > 0,
                       "face model: group %zu of hierarchy %zu has no window source", g, h);
                for (size_t s = 0; s < grp->source_count; s++)
                    ENSURE(grp->sources[s] >= 0 && (size_t)grp->sources[s] < first,
                           "face model: group %zu of hierarchy %zu takes windows from group %d "
                           "(the first hierarchy has %zu)",
                           g, h, grp->sources[s], first);
                for (size_t k = 0; k < grp->stages; k++)
                    ENSURE(model->classifiers[classifier + k].kind == STEEP_FACE_SURF_MLP,
                           "face model: stage %zu of group %zu in hierarchy %zu is not SURF-MLP", k,
                           g, h);
            }
            classifier += grp->stages;
        }
    }
    return 0;
}

static int parse(struct reader *r, struct steep_face_model *model)
{
    size_t hierarchies, classifier_capacity = 0, group_capacity = 0;
    GUARD(read_count(r, "hierarchy count", 1, 1024, 4, &hierarchies));
    model->hierarchy_sizes = calloc(hierarchies, sizeof *model->hierarchy_sizes);
    ENSURE(model->hierarchy_sizes, "out of memory");
    model->hierarchy_count = hierarchies;
    for (size_t h = 0; h < hierarchies; h++) {
        size_t groups;
        GUARD(read_count(r, "hierarchy size", 1, 1024, 8, &groups));
        model->hierarchy_sizes[h] = (uint32_t)groups;
        for (size_t g = 0; g < groups; g++) {
            size_t stages;
            GUARD(grow((void **)&model->groups, &group_capacity, model->group_count + 1,
                       sizeof *model->groups));
            struct steep_face_group *group = &model->groups[model->group_count++];
            GUARD(read_count(r, "stage count", 1, 1024, 8, &stages));
            group->stages = (uint32_t)stages;
            for (size_t s = 0; s < stages; s++) {
                GUARD(grow((void **)&model->classifiers, &classifier_capacity,
                           model->classifier_count + 1, sizeof *model->classifiers));
                GUARD(read_classifier(r, &model->classifiers[model->classifier_count++]));
            }
            /* rustface reads a negative count as none. */
            int32_t sources = 0;
            GUARD(read_i32(r, "window source count", &sources));
            size_t n = sources > 0 ? (size_t)sources : 0;
            group->source_count = n;
            GUARD(read_ints(r, "window sources", n, &group->sources));
        }
    }
    ENSURE(steep_cursor_remaining(&r->cursor) == 0,
           "face model: %zu bytes after the last hierarchy (at byte %zu)",
           steep_cursor_remaining(&r->cursor), r->cursor.pos);
    return check_cascade(model);
}

int steep_face_model_parse(const uint8_t *data, size_t len, struct steep_face_model *model)
{
    struct reader r = {steep_cursor_make(data, len)};
    memset(model, 0, sizeof *model);
    if (parse(&r, model) < 0) {
        steep_face_model_free(model);
        return -1;
    }
    return 0;
}

static void free_classifier(struct steep_face_classifier *c)
{
    free(c->lab.x);
    free(c->lab.y);
    free(c->lab.thresh);
    free(c->lab.weights);
    free(c->mlp.feature_ids);
    for (size_t i = 0; c->mlp.layers && i < c->mlp.layer_count; i++) {
        free(c->mlp.layers[i].weights);
        free(c->mlp.layers[i].biases);
    }
    free(c->mlp.layers);
}

void steep_face_model_free(struct steep_face_model *model)
{
    for (size_t i = 0; model->classifiers && i < model->classifier_count; i++)
        free_classifier(&model->classifiers[i]);
    for (size_t i = 0; model->groups && i < model->group_count; i++)
        free(model->groups[i].sources);
    free(model->classifiers);
    free(model->groups);
    free(model->hierarchy_sizes);
    memset(model, 0, sizeof *model);
}

size_t steep_face_surf_pool(struct steep_face_patch *out, size_t max)
{
    /* FeaturePool::create with rustface's patch formats (width, height in
     * units; every format has 2x2 cells), sizes 16..40 in steps of 1 and
     * positions every 16 pixels. */
    static const uint32_t formats[5][2] = {{1, 1}, {1, 2}, {2, 1}, {2, 3}, {3, 2}};
    const uint32_t min_size = 16, step = 16, cells = 2;
    size_t n = 0;
    for (size_t f = 0; f < 5; f++) {
        for (uint32_t h = min_size; h <= STEEP_FACE_WINDOW; h++) {
            if (h % cells != 0 || h % formats[f][1] != 0)
                continue;
            uint32_t w = h / formats[f][1] * formats[f][0];
            if (w % cells != 0 || w < min_size || w > STEEP_FACE_WINDOW)
                continue;
            for (uint32_t y = 0; y <= STEEP_FACE_WINDOW - h; y += step) {
                for (uint32_t x = 0; x <= STEEP_FACE_WINDOW - w; x += step) {
                    if (out && n < max)
                        out[n] = (struct steep_face_patch){(int32_t)x, (int32_t)y, w, h};
                    n++;
                }
            }
        }
    }
    return n;
}
