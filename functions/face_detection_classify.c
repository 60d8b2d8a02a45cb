/*
 * The two classifiers, with rustface's arithmetic.
 *
 * LAB boosted: base classifiers in groups of ten add the weight of their
 * pixel's LAB code to an f32 score; after each group the score must reach
 * the group's last threshold. A window also needs a standard deviation of
 * its pixels above 10 (f64 from the integral images).
 *
 * SURF-MLP: for each of the classifier's features, the 2x2 cells x 8
 * channels of sums over its patch, L2-normalised (the squares are i32
 * products, which wrap in rustface's release build and are kept so; the
 * norm is an f64 sum cast to f32), form the input of a perceptron whose
 * layers compute f32 dot products in index order plus the bias, ReLU for
 * hidden layers and 1 / (1 + expf(-x)) for the output. Output 0 is the
 * score; it must exceed the classifier's threshold.
 */
#include "functions/face_detection.h"

#include <math.h>
#include <string.h>

#define GROUP         10
#define STDDEV_THRESH 10.0

static double std_dev(const struct steep_face_lab_map *map, int32_t x, int32_t y)
{
    const uint32_t w = STEEP_FACE_WINDOW, width = map->width;
    size_t x0 = (size_t)x, y0 = (size_t)y, x1 = x0 + w - 1, y1 = y0 + w - 1;
    uint32_t sum = map->integral[y1 * width + x1], sq = map->integral_sq[y1 * width + x1];
    if (x0 > 0) {
        sum -= map->integral[y1 * width + x0 - 1];
        sq -= map->integral_sq[y1 * width + x0 - 1];
    }
    if (y0 > 0) {
        sum -= map->integral[(y0 - 1) * width + x1];
        sq -= map->integral_sq[(y0 - 1) * width + x1];
    }
    if (x0 > 0 && y0 > 0) {
        sum += map->integral[(y0 - 1) * width + x0 - 1];
        sq += map->integral_sq[(y0 - 1) * width + x0 - 1];
    }
    double area = (double)(w * w);
    double mean = (double)(int32_t)sum / area;
    double m2 = (double)sq / area;
    return sqrt(m2 - mean * mean);
}

struct steep_face_score steep_face_lab_classify(const struct steep_face_lab *lab,
                                                const struct steep_face_lab_map *map, int32_t x,
                                                int32_t y)
{
    int positive = 1;
    float score = 0.0f;
    size_t i = 0;
    while (positive && i < lab->count) {
        for (int k = 0; k < GROUP; k++, i++) {
            size_t at = (size_t)(y + lab->y[i]) * map->width + (size_t)(x + lab->x[i]);
            score += lab->weights[i * STEEP_FACE_LAB_BINS + map->features[at]];
        }
        positive = score >= lab->thresh[i - 1];
    }
    positive = positive && std_dev(map, x, y) > STDDEV_THRESH;
    return (struct steep_face_score){positive, score};
}

/* Sum of channel c over the pixels [x0, x1) x [y0, y1) of the window. */
static int32_t cell_sum(const int32_t *ii, int c, int x0, int y0, int x1, int y1)
{
    const int W = STEEP_FACE_WINDOW, C = STEEP_FACE_SURF_CHANNELS;
    int32_t v = ii[((y1 - 1) * W + x1 - 1) * C + c];
    if (x0 > 0)
        v -= ii[((y1 - 1) * W + x0 - 1) * C + c];
    if (y0 > 0)
        v -= ii[((y0 - 1) * W + x1 - 1) * C + c];
    if (x0 > 0 && y0 > 0)
        v += ii[((y0 - 1) * W + x0 - 1) * C + c];
    return v;
}

static void feature_vector(const struct steep_face_surf_map *map,
                           const struct steep_face_patch *patch, float *out)
{
    int32_t values[STEEP_FACE_SURF_DIM];
    int cw = (int)patch->width / 2, ch = (int)patch->height / 2, n = 0;
    for (int row = 0; row < 2; row++) {
        for (int col = 0; col < 2; col++) {
            int x0 = patch->x + col * cw, y0 = patch->y + row * ch;
            for (int c = 0; c < STEEP_FACE_SURF_CHANNELS; c++)
                values[n++] = cell_sum(map->integral, c, x0, y0, x0 + cw, y0 + ch);
        }
    }
    double prod = 0.0;
    for (int i = 0; i < STEEP_FACE_SURF_DIM; i++)
        prod += (double)(int32_t)((uint32_t)values[i] * (uint32_t)values[i]);
    if (prod != 0.0) {
        float norm = (float)sqrt(prod);
        for (int i = 0; i < STEEP_FACE_SURF_DIM; i++)
            out[i] = (float)values[i] / norm;
    } else {
        memset(out, 0, STEEP_FACE_SURF_DIM * sizeof *out);
    }
}

static void layer_forward(const struct steep_face_layer *layer, const float *input, float *output)
{
    for (uint32_t o = 0; o < layer->output_dim; o++) {
        const float *w = layer->weights + (size_t)o * layer->input_dim;
        float dot = 0.0f;
        for (uint32_t i = 0; i < layer->input_dim; i++)
            dot += input[i] * w[i];
        float x = dot + layer->biases[o];
        if (layer->sigmoid)
            output[o] = 1.0f / (1.0f + expf(-x));
        else
            output[o] = x > 0.0f ? x : 0.0f;
    }
}

struct steep_face_score steep_face_mlp_classify(const struct steep_face_mlp *mlp,
                                                const struct steep_face_surf_map *map,
                                                float *scratch, float *output)
{
    struct steep_face_patch pool[STEEP_FACE_SURF_POOL_MAX];
    steep_face_surf_pool(pool, STEEP_FACE_SURF_POOL_MAX);
    size_t input_dim = mlp->feature_count * STEEP_FACE_SURF_DIM, widest = input_dim;
    for (size_t l = 0; l < mlp->layer_count; l++)
        if (mlp->layers[l].output_dim > widest)
            widest = mlp->layers[l].output_dim;
    float *a = scratch, *b = scratch + widest;
    for (size_t f = 0; f < mlp->feature_count; f++)
        feature_vector(map, &pool[mlp->feature_ids[f] - 1], a + f * STEEP_FACE_SURF_DIM);
    for (size_t l = 0; l + 1 < mlp->layer_count; l++) {
        layer_forward(&mlp->layers[l], a, b);
        float *t = a;
        a = b;
        b = t;
    }
    const struct steep_face_layer *last = &mlp->layers[mlp->layer_count - 1];
    layer_forward(last, a, output);
    return (struct steep_face_score){output[0] > mlp->thresh, output[0]};
}

size_t steep_face_mlp_scratch_size(const struct steep_face_model *model)
{
    size_t widest = 4;
    for (size_t c = 0; c < model->classifier_count; c++) {
        const struct steep_face_mlp *mlp = &model->classifiers[c].mlp;
        if (model->classifiers[c].kind != STEEP_FACE_SURF_MLP)
            continue;
        if (mlp->feature_count * STEEP_FACE_SURF_DIM > widest)
            widest = mlp->feature_count * STEEP_FACE_SURF_DIM;
        for (size_t l = 0; l < mlp->layer_count; l++)
            if (mlp->layers[l].output_dim > widest)
                widest = mlp->layers[l].output_dim;
    }
    return 2 * widest;
}
