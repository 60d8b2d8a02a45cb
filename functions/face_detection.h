/*
 * builtin-face-detection: the SeetaFace frontal detector (funnel-structured
 * cascade) as Teaclave's fork of rustface 0.1.7 runs it, split in stages:
 *
 *   face_detection_model.c     the model file (seeta_fd_frontal_v1.0.bin):
 *                              hierarchies of LAB-boosted and SURF-MLP
 *                              classifiers, read through struct steep_cursor
 *                              and checked against what the detector indexes
 *   face_detection_image.c     JPEG -> gray (libjpeg-turbo, image-rs' luma),
 *                              bilinear resize, the image pyramid
 *   face_detection_features.c  LAB feature map, SURF gradient integral images
 *   face_detection_classify.c  LAB boosted score, SURF-MLP forward pass
 *   face_detection_detect.c    sliding windows, the funnel, NMS
 *   face_detection.c           the built-in: arguments, model, JSON result
 *
 * Every floating-point expression keeps rustface's types (f32 or f64) and
 * evaluation order, so scores and boxes come out as Teaclave computes them.
 */
#ifndef STEEP_FUNCTIONS_FACE_DETECTION_H
#define STEEP_FUNCTIONS_FACE_DETECTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The detection window of the SeetaFace model (its classifiers' input). */
#define STEEP_FACE_WINDOW 40
/* LAB features: 3x3 cells of 3x3 pixels each. */
#define STEEP_FACE_LAB_SPAN 9
#define STEEP_FACE_LAB_BINS 256
/* SURF features: 8 integral channels, 2x2 cells per patch. */
#define STEEP_FACE_SURF_CHANNELS 8
#define STEEP_FACE_SURF_DIM      32

enum steep_face_kind {
    STEEP_FACE_LAB = 0,
    STEEP_FACE_SURF_MLP = 1,
};

struct steep_face_lab {
    size_t count; /* base classifiers, a multiple of 10 */
    int32_t *x, *y;
    float *thresh;
    float *weights; /* count rows of STEEP_FACE_LAB_BINS */
};

struct steep_face_layer {
    uint32_t input_dim, output_dim;
    float *weights; /* output_dim rows of input_dim */
    float *biases;
    int sigmoid; /* the output layer; hidden layers use ReLU */
};

struct steep_face_mlp {
    size_t feature_count;
    int32_t *feature_ids; /* 1-based ids into the SURF feature pool */
    float thresh;
    size_t layer_count;
    struct steep_face_layer *layers;
};

struct steep_face_classifier {
    enum steep_face_kind kind;
    struct steep_face_lab lab;
    struct steep_face_mlp mlp;
};

/* A group of stages within a hierarchy and the groups of the previous
 * hierarchy whose windows it takes (wnd_src). */
struct steep_face_group {
    uint32_t stages;
    size_t source_count;
    int32_t *sources;
};

struct steep_face_model {
    size_t hierarchy_count;
    uint32_t *hierarchy_sizes; /* groups per hierarchy */
    size_t group_count;
    struct steep_face_group *groups;
    size_t classifier_count;
    struct steep_face_classifier *classifiers;
};

/* Parses the model; -1 with "face model: <what> at byte <offset>" when the
 * file is truncated, corrupt, or describes a cascade the detector cannot run. */
int steep_face_model_parse(const uint8_t *data, size_t len, struct steep_face_model *model);
void steep_face_model_free(struct steep_face_model *model);

/* The SURF feature pool rustface builds: patches of 2x2 cells inside the
 * window, in its order. Writes at most max patches (out may be NULL) and
 * returns the pool size. */
struct steep_face_patch {
    int32_t x, y;
    uint32_t width, height;
};
#define STEEP_FACE_SURF_POOL_MAX 256
size_t steep_face_surf_pool(struct steep_face_patch *out, size_t max);

struct steep_face_image {
    uint8_t *data;
    uint32_t width, height;
};

/* Decodes JPEG bytes to 8-bit gray as image-rs 0.23's to_luma8 does. The
 * pixel count is bounded by max_pixels (the function's memory budget). */
int steep_face_decode_jpeg(const uint8_t *jpeg, size_t len, uint64_t max_pixels,
                           struct steep_face_image *out);
void steep_face_image_free(struct steep_face_image *image);
/* rustface's bilinear resize_image (f64 weights); dest holds width*height. */
void steep_face_resize(const uint8_t *src, uint32_t src_width, uint32_t src_height, uint8_t *dest,
                       uint32_t width, uint32_t height);

struct steep_face_params {
    uint32_t step_x, step_y;
    int32_t max_face_size; /* rustface keeps it as i32; <= 0 means unlimited */
    float pyramid_scale_factor;
    double score_thresh;
};

/* rustface's defaults: steps 4, no maximum, factor 0.8, threshold 3.85. */
void steep_face_params_default(struct steep_face_params *params);

struct steep_face {
    int32_t x, y;
    uint32_t width, height;
    double score;
};

struct steep_face_list {
    struct steep_face *items;
    size_t count, capacity;
};

/* Runs the detector on a gray image; faces are in rustface's output order. */
int steep_face_detect(const struct steep_face_model *model, const struct steep_face_params *params,
                      const struct steep_face_image *image, struct steep_face_list *faces);
void steep_face_list_free(struct steep_face_list *faces);

/* Feature maps (face_detection_features.c) and classifiers
 * (face_detection_classify.c), used by the detector. */
struct steep_face_lab_map {
    uint32_t width, height;
    uint8_t *features;  /* LAB code per pixel */
    int32_t *rect_sum;  /* 3x3 box sums */
    uint32_t *integral; /* wrapping, like rustface's i32 in release */
    uint32_t *integral_sq;
    size_t capacity;
};

struct steep_face_surf_map {
    int32_t gray[STEEP_FACE_WINDOW * STEEP_FACE_WINDOW];
    int32_t grad_x[STEEP_FACE_WINDOW * STEEP_FACE_WINDOW];
    int32_t grad_y[STEEP_FACE_WINDOW * STEEP_FACE_WINDOW];
    int32_t integral[STEEP_FACE_WINDOW * STEEP_FACE_WINDOW * STEEP_FACE_SURF_CHANNELS];
};

int steep_face_lab_map_compute(struct steep_face_lab_map *map, const uint8_t *image, uint32_t width,
                               uint32_t height);
void steep_face_lab_map_free(struct steep_face_lab_map *map);
/* The 40x40 window only. */
void steep_face_surf_map_compute(struct steep_face_surf_map *map, const uint8_t *window);

struct steep_face_score {
    int positive;
    float score;
};

struct steep_face_score steep_face_lab_classify(const struct steep_face_lab *lab,
                                                const struct steep_face_lab_map *map, int32_t x,
                                                int32_t y);
/* scratch holds at least the widest layer twice plus the input; output
 * receives the whole output layer (at least 4 values). */
struct steep_face_score steep_face_mlp_classify(const struct steep_face_mlp *mlp,
                                                const struct steep_face_surf_map *map,
                                                float *scratch, float *output);
/* Floats the forward pass of any classifier of the model needs. */
size_t steep_face_mlp_scratch_size(const struct steep_face_model *model);

#endif
