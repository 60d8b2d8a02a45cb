/*
 * The funnel (rustface's FuStDetector::detect_impl).
 *
 * 1. Image pyramid from scale 1 down by the scale factor while the scale is
 *    at least 40 / min(width, height, max_face_size): each level is the
 *    resized image, its LAB feature map, and a 40x40 window slid by the
 *    steps; every first-hierarchy LAB classifier that accepts a window adds
 *    it (mapped back to full scale, +0.5 and truncated in f32) to its own
 *    proposals. Each list then goes through NMS at IoU 0.8.
 * 2. Each later hierarchy: every group gathers the windows of its sources,
 *    and for each of its SURF-MLP stages cuts every window out of the full
 *    image (zero padding outside), resizes it to 40x40, and keeps it if the
 *    MLP accepts it, moved and resized by the MLP's box regression; NMS at
 *    0.8 between stages and at 0.3 after the last stage of the last
 *    hierarchy.
 * 3. The faces are the first group's windows whose score reaches the
 *    threshold.
 *
 * NMS sorts by score, descending, with a stable merge sort (Rust's sort_by
 * keeps ties in order; qsort does not), keeps each unmerged window and adds
 * the scores of the windows it absorbs (f64) to it. A window narrower than
 * 2 pixels after regression is dropped (rustface would index outside its
 * buffer there).
 */
#include "functions/face_detection.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define W STEEP_FACE_WINDOW

void steep_face_params_default(struct steep_face_params *params)
{
    params->step_x = 4;
    params->step_y = 4;
    params->max_face_size = -1;
    params->pyramid_scale_factor = 0.8f;
    params->score_thresh = 3.85;
}

static int push(struct steep_face_list *list, const struct steep_face *face)
{
    if (list->count == list->capacity) {
        size_t next = list->capacity ? list->capacity * 2 : 64;
        struct steep_face *grown = realloc(list->items, next * sizeof *grown);
        ENSURE(grown, "face detection: out of memory for %zu windows", next);
        list->items = grown;
        list->capacity = next;
    }
    list->items[list->count++] = *face;
    return 0;
}

static int copy_list(struct steep_face_list *to, const struct steep_face_list *from)
{
    to->count = 0;
    for (size_t i = 0; i < from->count; i++)
        GUARD(push(to, &from->items[i]));
    return 0;
}

void steep_face_list_free(struct steep_face_list *faces)
{
    free(faces->items);
    memset(faces, 0, sizeof *faces);
}

/* Stable merge sort by score, highest first. */
static void sort_by_score(struct steep_face *items, struct steep_face *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t half = n / 2;
    sort_by_score(items, tmp, half);
    sort_by_score(items + half, tmp, n - half);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < n)
        tmp[k++] = items[j].score > items[i].score ? items[j++] : items[i++];
    while (i < half)
        tmp[k++] = items[i++];
    while (j < n)
        tmp[k++] = items[j++];
    memcpy(items, tmp, n * sizeof *items);
}

static int nms(struct steep_face_list *boxes, struct steep_face_list *out, float iou_thresh)
{
    out->count = 0;
    size_t n = boxes->count;
    struct steep_face *tmp = malloc((n ? n : 1) * sizeof *tmp);
    uint8_t *merged = calloc(n ? n : 1, 1);
    if (!tmp || !merged) {
        free(tmp);
        free(merged);
        return steep_error_set("face detection: out of memory for %zu windows", n);
    }
    sort_by_score(boxes->items, tmp, n);
    free(tmp);
    struct steep_face *b = boxes->items;
    int rc = 0;
    for (size_t select = 0;;) {
        while (select < n && merged[select])
            select++;
        if (select == n)
            break;
        GUARD_GOTO(push(out, &b[select]), done);
        merged[select] = 1;
        double score = b[select].score;
        float area1 = (float)(b[select].width * b[select].height);
        int32_t x1 = b[select].x, y1 = b[select].y;
        int32_t x2 = x1 + (int32_t)b[select].width - 1, y2 = y1 + (int32_t)b[select].height - 1;
        select++;
        for (size_t i = select; i < n; i++) {
            if (merged[i])
                continue;
            int32_t x = x1 > b[i].x ? x1 : b[i].x;
            int32_t y = y1 > b[i].y ? y1 : b[i].y;
            int32_t right = b[i].x + (int32_t)b[i].width - 1;
            int32_t bottom = b[i].y + (int32_t)b[i].height - 1;
            int32_t w = (x2 < right ? x2 : right) - x + 1;
            int32_t h = (y2 < bottom ? y2 : bottom) - y + 1;
            if (w <= 0 || h <= 0)
                continue;
            float area2 = (float)(b[i].width * b[i].height);
            float inter = (float)(w * h);
            float uni = area1 + area2 - inter;
            if (inter / uni > iou_thresh) {
                merged[i] = 1;
                score += b[i].score;
            }
        }
        out->items[out->count - 1].score = score;
    }
done:
    free(merged);
    return rc;
}

struct detector {
    const struct steep_face_model *model;
    const struct steep_face_params *params;
    const struct steep_face_image *image;
    struct steep_face_lab_map lab;
    struct steep_face_surf_map surf;
    uint8_t *level;
    uint8_t *padded;
    size_t padded_capacity;
    uint8_t window[W * W];
    float *scratch, *output;
    struct steep_face_list *proposals, *proposals_nms; /* one per first-hierarchy group */
};

/* f32 -> u32/i32 as Rust's `as` (saturating; NaN is 0). */
static uint32_t f32_to_u32(float v)
{
    if (!(v > 0.0f))
        return 0;
    return v >= 4294967296.0f ? UINT32_MAX : (uint32_t)v;
}

static int32_t f32_to_i32(float v)
{
    if (v != v)
        return 0;
    if (v <= -2147483648.0f)
        return INT32_MIN;
    return v >= 2147483648.0f ? INT32_MAX : (int32_t)v;
}

static int scan_level(struct detector *d, uint32_t width, uint32_t height, float scale)
{
    const struct steep_face_model *model = d->model;
    size_t first = model->hierarchy_sizes[0];
    GUARD(steep_face_lab_map_compute(&d->lab, d->level, width, height));
    if (width < W || height < W)
        return 0; /* rustface's u32 max_x would wrap; no window fits */
    uint32_t max_x = width - W, max_y = height - W;
    uint32_t size = f32_to_u32((float)W / scale + 0.5f);
    for (uint64_t y = 0; y <= max_y; y += d->params->step_y) {
        for (uint64_t x = 0; x <= max_x; x += d->params->step_x) {
            for (size_t g = 0; g < first; g++) {
                struct steep_face_score s = steep_face_lab_classify(
                    &model->classifiers[g].lab, &d->lab, (int32_t)x, (int32_t)y);
                if (!s.positive)
                    continue;
                struct steep_face face = {
                    .x = f32_to_i32((float)x / scale + 0.5f),
                    .y = f32_to_i32((float)y / scale + 0.5f),
                    .width = size,
                    .height = size,
                    .score = (double)s.score,
                };
                GUARD(push(&d->proposals[g], &face));
            }
        }
    }
    return 0;
}

static int scan_pyramid(struct detector *d)
{
    const struct steep_face_image *image = d->image;
    uint32_t min_size = image->height < image->width ? image->height : image->width;
    if (d->params->max_face_size > 0 && (uint32_t)d->params->max_face_size < min_size)
        min_size = (uint32_t)d->params->max_face_size;
    float min_scale = (float)W / (float)min_size;
    float step = d->params->pyramid_scale_factor;
    if (!(step > 0.0f && step <= 1.0f))
        step = 0.8f; /* ImagePyramid::set_scale_step ignores other values */
    d->level = malloc((size_t)image->width * image->height);
    ENSURE(d->level, "face detection: out of memory for a %ux%u image", image->width,
           image->height);
    for (float scale = 1.0f; !(scale < min_scale); scale *= step) {
        uint32_t width = f32_to_u32((float)image->width * scale);
        uint32_t height = f32_to_u32((float)image->height * scale);
        if (width < STEEP_FACE_LAB_SPAN || height < STEEP_FACE_LAB_SPAN)
            break;
        steep_face_resize(image->data, image->width, image->height, d->level, width, height);
        GUARD(scan_level(d, width, height, scale));
        if (step == 1.0f)
            break; /* rustface would loop for ever at factor 1 */
    }
    return 0;
}

/* get_window_data: the box out of the full image, zero outside, resized to
 * 40x40. Clips a negative x or y of the box to 0 as rustface does (the box
 * keeps its size). */
static int window_data(struct detector *d, struct steep_face *box)
{
    const struct steep_face_image *img = d->image;
    int64_t bw = box->width, bh = box->height, iw = img->width, ih = img->height;
    int64_t pad_left = box->x < 0 ? -(int64_t)box->x : 0;
    int64_t pad_top = box->y < 0 ? -(int64_t)box->y : 0;
    if (box->x < 0)
        box->x = 0;
    if (box->y < 0)
        box->y = 0;
    size_t length = (size_t)bw * (size_t)bh;
    if (length > d->padded_capacity) {
        uint8_t *grown = realloc(d->padded, length);
        ENSURE(grown, "face detection: out of memory for a %ux%u window", box->width, box->height);
        d->padded = grown;
        d->padded_capacity = length;
    }
    memset(d->padded, 0, length);
    for (int64_t row = pad_top; row < bh; row++) {
        int64_t sy = box->y + row - pad_top;
        if (sy >= ih)
            break;
        for (int64_t col = pad_left; col < bw; col++) {
            int64_t sx = box->x + col - pad_left;
            if (sx >= iw)
                break;
            d->padded[row * bw + col] = img->data[sy * iw + sx];
        }
    }
    steep_face_resize(d->padded, box->width, box->height, d->window, W, W);
    return 0;
}

/* One SURF-MLP stage over a group's windows, in place. */
static int run_stage(struct detector *d, const struct steep_face_mlp *mlp,
                     struct steep_face_list *boxes)
{
    size_t kept = 0;
    for (size_t m = 0; m < boxes->count; m++) {
        struct steep_face *box = &boxes->items[m];
        if (box->x + (int64_t)box->width <= 0 || box->y + (int64_t)box->height <= 0)
            continue;
        if (box->width < 2 || box->height < 2)
            continue;
        GUARD(window_data(d, box));
        steep_face_surf_map_compute(&d->surf, d->window);
        struct steep_face_score s = steep_face_mlp_classify(mlp, &d->surf, d->scratch, d->output);
        if (!s.positive)
            continue;
        const float *p = d->output;
        float x = (float)box->x, y = (float)box->y;
        float w = (float)box->width, h = (float)box->height;
        float bw = floorf((p[3] * 2.0f - 1.0f) * w + w + 0.5f);
        struct steep_face *out = &boxes->items[kept++];
        out->width = f32_to_u32(bw);
        out->height = f32_to_u32(bw);
        out->x = f32_to_i32(floorf((p[1] * 2.0f - 1.0f) * w + x + (w - bw) * 0.5f + 0.5f));
        out->y = f32_to_i32(floorf((p[2] * 2.0f - 1.0f) * h + y + (h - bw) * 0.5f + 0.5f));
        out->score = (double)s.score;
    }
    boxes->count = kept;
    return 0;
}

static int run_funnel(struct detector *d)
{
    const struct steep_face_model *model = d->model;
    size_t first = model->hierarchy_sizes[0];
    size_t group = first, classifier = first;
    size_t *sources = calloc(first, sizeof *sources);
    ENSURE(sources, "out of memory");
    int rc = 0;
    for (size_t h = 1; h < model->hierarchy_count; h++) {
        size_t size = model->hierarchy_sizes[h];
        for (size_t g = 0; g < size; g++, group++) {
            const struct steep_face_group *grp = &model->groups[group];
            size_t r = (size_t)grp->sources[0];
            sources[g] = r;
            struct steep_face_list *boxes = &d->proposals[r];
            boxes->count = 0;
            for (size_t s = 0; s < grp->source_count; s++) {
                const struct steep_face_list *from = &d->proposals_nms[grp->sources[s]];
                for (size_t i = 0; i < from->count; i++)
                    GUARD_GOTO(push(boxes, &from->items[i]), out);
            }
            for (uint32_t k = 0; k < grp->stages; k++, classifier++) {
                GUARD_GOTO(run_stage(d, &model->classifiers[classifier].mlp, boxes), out);
                if (k + 1 < grp->stages)
                    GUARD_GOTO(nms(boxes, &d->proposals_nms[r], 0.8f), out);
                else if (h + 1 == model->hierarchy_count)
                    GUARD_GOTO(nms(boxes, &d->proposals_nms[r], 0.3f), out);
                else
                    continue;
                GUARD_GOTO(copy_list(boxes, &d->proposals_nms[r]), out);
            }
        }
        for (size_t j = 0; j < size; j++)
            GUARD_GOTO(copy_list(&d->proposals_nms[j], &d->proposals[sources[j]]), out);
    }
out:
    free(sources);
    return rc;
}

static int detect(struct detector *d, struct steep_face_list *faces)
{
    size_t first = d->model->hierarchy_sizes[0];
    d->proposals = calloc(first, sizeof *d->proposals);
    d->proposals_nms = calloc(first, sizeof *d->proposals_nms);
    size_t scratch = steep_face_mlp_scratch_size(d->model);
    d->scratch = malloc(scratch * sizeof(float));
    d->output = malloc(scratch * sizeof(float));
    ENSURE(d->proposals && d->proposals_nms && d->scratch && d->output, "out of memory");
    GUARD(scan_pyramid(d));
    for (size_t g = 0; g < first; g++) {
        GUARD(nms(&d->proposals[g], &d->proposals_nms[g], 0.8f));
        d->proposals[g].count = 0;
    }
    GUARD(run_funnel(d));
    const struct steep_face_list *result = &d->proposals_nms[0];
    for (size_t i = 0; i < result->count; i++)
        if (result->items[i].score >= d->params->score_thresh)
            GUARD(push(faces, &result->items[i]));
    return 0;
}

int steep_face_detect(const struct steep_face_model *model, const struct steep_face_params *params,
                      const struct steep_face_image *image, struct steep_face_list *faces)
{
    ENSURE(image->width > 0 && image->height > 0, "face detection: the image is empty");
    struct detector d;
    memset(&d, 0, sizeof d);
    d.model = model;
    d.params = params;
    d.image = image;
    memset(faces, 0, sizeof *faces);
    int rc = detect(&d, faces);
    size_t first = model->hierarchy_sizes[0];
    for (size_t g = 0; g < first; g++) {
        if (d.proposals)
            steep_face_list_free(&d.proposals[g]);
        if (d.proposals_nms)
            steep_face_list_free(&d.proposals_nms[g]);
    }
    free(d.proposals);
    free(d.proposals_nms);
    free(d.scratch);
    free(d.output);
    free(d.level);
    free(d.padded);
    steep_face_lab_map_free(&d.lab);
    if (rc < 0)
        steep_face_list_free(faces);
    return rc;
}
