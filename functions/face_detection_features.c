/*
 * rustface's two feature maps.
 *
 * LAB (locally assembled binary) over a whole pyramid level: integral
 * images of the pixels and of their squares, the sum of every 3x3 box, and
 * per pixel an 8-bit code comparing the centre box of a 9x9 block with its
 * eight neighbours. The integral images wrap modulo 2^32 as rustface's
 * i32/u32 do in a release build; every difference taken from them covers at
 * most a 40x40 window, so it is exact.
 *
 * SURF over one 40x40 window: x and y gradients (central differences,
 * doubled one-sided ones at the borders), split by the sign of the other
 * gradient into 8 channels (dx, |dx| where dy >= 0; dx, |dx| where dy < 0;
 * dy, |dy| where dx >= 0; dy, |dy| where dx < 0), and their integral images.
 * All integer arithmetic, so any order gives rustface's values.
 */
#include "functions/face_detection.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static int reserve(struct steep_face_lab_map *map, size_t length)
{
    if (length <= map->capacity)
        return 0;
    uint8_t *features = realloc(map->features, length);
    if (features)
        map->features = features;
    int32_t *rect_sum = realloc(map->rect_sum, length * sizeof *rect_sum);
    if (rect_sum)
        map->rect_sum = rect_sum;
    uint32_t *integral = realloc(map->integral, length * sizeof *integral);
    if (integral)
        map->integral = integral;
    uint32_t *integral_sq = realloc(map->integral_sq, length * sizeof *integral_sq);
    if (integral_sq)
        map->integral_sq = integral_sq;
    ENSURE(features && rect_sum && integral && integral_sq,
           "face detection: out of memory for a %zu-pixel feature map", length);
    map->capacity = length;
    return 0;
}

static void integrate(const uint8_t *image, uint32_t width, uint32_t height, uint32_t *sum,
                      uint32_t *sum_sq)
{
    for (uint32_t y = 0; y < height; y++) {
        uint32_t row = 0, row_sq = 0;
        for (uint32_t x = 0; x < width; x++) {
            size_t i = (size_t)y * width + x;
            uint32_t v = image[i];
            row += v;
            row_sq += v * v;
            sum[i] = row + (y > 0 ? sum[i - width] : 0);
            sum_sq[i] = row_sq + (y > 0 ? sum_sq[i - width] : 0);
        }
    }
}

/* Sum of the 3x3 box whose top-left pixel is (x, y). */
static int32_t box_sum(const uint32_t *sum, uint32_t width, uint32_t x, uint32_t y)
{
    uint32_t x1 = x + 2, y1 = y + 2;
    uint32_t v = sum[(size_t)y1 * width + x1];
    if (x > 0)
        v -= sum[(size_t)y1 * width + x - 1];
    if (y > 0)
        v -= sum[(size_t)(y - 1) * width + x1];
    if (x > 0 && y > 0)
        v += sum[(size_t)(y - 1) * width + x - 1];
    return (int32_t)v;
}

int steep_face_lab_map_compute(struct steep_face_lab_map *map, const uint8_t *image, uint32_t width,
                               uint32_t height)
{
    ENSURE(width >= STEEP_FACE_LAB_SPAN && height >= STEEP_FACE_LAB_SPAN,
           "face detection: image level %ux%u is smaller than a LAB feature", width, height);
    size_t length = (size_t)width * height;
    GUARD(reserve(map, length));
    map->width = width;
    map->height = height;
    integrate(image, width, height, map->integral, map->integral_sq);
    for (uint32_t y = 0; y + 3 <= height; y++)
        for (uint32_t x = 0; x + 3 <= width; x++)
            map->rect_sum[(size_t)y * width + x] = box_sum(map->integral, width, x, y);
    const int32_t *rs = map->rect_sum;
    for (uint32_t r = 0; r + STEEP_FACE_LAB_SPAN <= height; r++) {
        for (uint32_t c = 0; c + STEEP_FACE_LAB_SPAN <= width; c++) {
            size_t at = (size_t)r * width + c, down = (size_t)3 * width;
            int32_t white = rs[at + down + 3];
            uint8_t code = 0;
            code |= white >= rs[at] ? 0x80 : 0;
            code |= white >= rs[at + 3] ? 0x40 : 0;
            code |= white >= rs[at + 6] ? 0x20 : 0;
            code |= white >= rs[at + down + 6] ? 0x08 : 0;
            code |= white >= rs[at + 2 * down + 6] ? 0x01 : 0;
            code |= white >= rs[at + 2 * down + 3] ? 0x02 : 0;
            code |= white >= rs[at + 2 * down] ? 0x04 : 0;
            code |= white >= rs[at + down] ? 0x10 : 0;
            map->features[at] = code;
        }
    }
    return 0;
}

void steep_face_lab_map_free(struct steep_face_lab_map *map)
{
    free(map->features);
    free(map->rect_sum);
    free(map->integral);
    free(map->integral_sq);
    memset(map, 0, sizeof *map);
}

#define W STEEP_FACE_WINDOW

static void gradients(struct steep_face_surf_map *map)
{
    const int32_t *p = map->gray;
    for (int y = 0; y < W; y++) {
        const int32_t *row = p + y * W;
        int32_t *dx = map->grad_x + y * W;
        dx[0] = (row[1] - row[0]) * 2;
        for (int x = 1; x < W - 1; x++)
            dx[x] = row[x + 1] - row[x - 1];
        dx[W - 1] = (row[W - 1] - row[W - 2]) * 2;
    }
    for (int x = 0; x < W; x++) {
        map->grad_y[x] = (p[W + x] - p[x]) * 2;
        for (int y = 1; y < W - 1; y++)
            map->grad_y[y * W + x] = p[(y + 1) * W + x] - p[(y - 1) * W + x];
        map->grad_y[(W - 1) * W + x] = (p[(W - 1) * W + x] - p[(W - 2) * W + x]) * 2;
    }
}

void steep_face_surf_map_compute(struct steep_face_surf_map *map, const uint8_t *window)
{
    const int C = STEEP_FACE_SURF_CHANNELS;
    for (int i = 0; i < W * W; i++)
        map->gray[i] = window[i];
    gradients(map);
    int32_t *ii = map->integral;
    for (int i = 0; i < W * W; i++) {
        int32_t dx = map->grad_x[i], dy = map->grad_y[i];
        int32_t adx = dx < 0 ? -dx : dx, ady = dy < 0 ? -dy : dy;
        int32_t *ch = ii + i * C;
        ch[0] = dy >= 0 ? dx : 0;
        ch[1] = dy >= 0 ? adx : 0;
        ch[2] = dy < 0 ? dx : 0;
        ch[3] = dy < 0 ? adx : 0;
        ch[4] = dx >= 0 ? dy : 0;
        ch[5] = dx >= 0 ? ady : 0;
        ch[6] = dx < 0 ? dy : 0;
        ch[7] = dx < 0 ? ady : 0;
    }
    /* Down the columns, then along each row, per channel. */
    for (int i = W * C; i < W * W * C; i++)
        ii[i] += ii[i - W * C];
    for (int y = 0; y < W; y++)
        for (int x = 1; x < W; x++)
            for (int c = 0; c < C; c++)
                ii[(y * W + x) * C + c] += ii[(y * W + x - 1) * C + c];
}
