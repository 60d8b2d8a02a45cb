/*
 * Images for the face detector.
 *
 * Decoding: Teaclave reads the bytes with image-rs 0.23 (JPEG only) and
 * rustface converts to gray with to_luma8: l = 0.2126 R + 0.7152 G +
 * 0.0722 B in f32, truncated. We decode with Debian's libjpeg-turbo (the
 * accurate integer IDCT and fancy upsampling, the defaults) to RGB (gray
 * JPEGs decode straight to gray, as image-rs keeps L8 images) and apply the
 * same luma formula. libjpeg-turbo's error exits longjmp back here with its
 * message; its warnings (a truncated file, corrupt data it can skip) are
 * errors too, since image-rs refuses such files. The pixel count is checked
 * from the header, before any buffer is allocated.
 *
 * Resizing is rustface's resize_image: bilinear with f64 weights from the
 * top-left-aligned source position, clamped to the last 2x2 block.
 */
#include "functions/face_detection.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "core/error.h"

struct decode_error {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void on_error(j_common_ptr cinfo)
{
    struct decode_error *err = (struct decode_error *)cinfo->err;
    cinfo->err->format_message(cinfo, err->message);
    longjmp(err->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level)
{
    /* level -1: a warning (corrupt or truncated data); treat as fatal. */
    if (level < 0)
        on_error(cinfo);
}

struct decode_state {
    struct jpeg_decompress_struct cinfo;
    struct decode_error err;
    uint8_t *row;
};

static uint8_t luma(const uint8_t *rgb)
{
    float l = 0.2126f * (float)rgb[0] + 0.7152f * (float)rgb[1] + 0.0722f * (float)rgb[2];
    return (uint8_t)l;
}

/* Separate from the setjmp frame so its locals need no volatile. */
static int read_pixels(struct decode_state *s, struct steep_face_image *out)
{
    struct jpeg_decompress_struct *cinfo = &s->cinfo;
    int gray = cinfo->out_color_space == JCS_GRAYSCALE;
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *dest = out->data + (size_t)cinfo->output_scanline * out->width;
        JSAMPROW row = gray ? dest : s->row;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            return steep_error_set("face detection: JPEG data ends early");
        if (!gray)
            for (uint32_t x = 0; x < out->width; x++)
                dest[x] = luma(s->row + (size_t)x * 3);
    }
    return 0;
}

static int start(struct decode_state *s, const uint8_t *jpeg, size_t len, uint64_t max_pixels,
                 struct steep_face_image *out)
{
    struct jpeg_decompress_struct *cinfo = &s->cinfo;
    jpeg_mem_src(cinfo, jpeg, (unsigned long)len);
    jpeg_read_header(cinfo, TRUE);
    uint64_t pixels = (uint64_t)cinfo->image_width * cinfo->image_height;
    ENSURE(pixels <= max_pixels,
           "face detection: image of %ux%u pixels exceeds the memory limit (at most %llu pixels)",
           cinfo->image_width, cinfo->image_height, (unsigned long long)max_pixels);
    cinfo->out_color_space = cinfo->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(cinfo);
    out->width = cinfo->output_width;
    out->height = cinfo->output_height;
    out->data = malloc(pixels ? pixels : 1);
    s->row = malloc((size_t)out->width * 3 + 1);
    ENSURE(out->data && s->row, "face detection: out of memory for a %ux%u image", out->width,
           out->height);
    GUARD(read_pixels(s, out));
    jpeg_finish_decompress(cinfo);
    return 0;
}

int steep_face_decode_jpeg(const uint8_t *jpeg, size_t len, uint64_t max_pixels,
                           struct steep_face_image *out)
{
    memset(out, 0, sizeof *out);
    ENSURE(len > 0, "face detection: the image is empty");
    struct decode_state *s = calloc(1, sizeof *s);
    ENSURE(s, "out of memory");
    s->cinfo.err = jpeg_std_error(&s->err.base);
    s->err.base.error_exit = on_error;
    s->err.base.emit_message = on_message;
    int rc;
    if (setjmp(s->err.jump) == 0) {
        jpeg_create_decompress(&s->cinfo);
        rc = start(s, jpeg, len, max_pixels, out);
    } else {
        rc = steep_error_set("face detection: invalid JPEG image: %s", s->err.message);
    }
    jpeg_destroy_decompress(&s->cinfo);
    free(s->row);
    free(s);
    if (rc < 0)
        steep_face_image_free(out);
    return rc;
}

void steep_face_image_free(struct steep_face_image *image)
{
    free(image->data);
    memset(image, 0, sizeof *image);
}

void steep_face_resize(const uint8_t *src, uint32_t src_width, uint32_t src_height, uint8_t *dest,
                       uint32_t width, uint32_t height)
{
    if (src_width == width && src_height == height) {
        memcpy(dest, src, (size_t)width * height);
        return;
    }
    double x_scale = (double)src_width / (double)width;
    double y_scale = (double)src_height / (double)height;
    /* rustface's src.width() - 2 is u32 arithmetic; windows of 1 pixel
     * never reach here (the detector's windows are at least 20 wide). */
    uint32_t max_x = src_width >= 2 ? src_width - 2 : 0;
    uint32_t max_y = src_height >= 2 ? src_height - 2 : 0;
    for (uint32_t y = 0; y < height; y++) {
        for (uint32_t x = 0; x < width; x++) {
            double sx = x_scale * (double)x;
            double sy = y_scale * (double)y;
            uint32_t nx = (uint32_t)sx < max_x ? (uint32_t)sx : max_x;
            uint32_t ny = (uint32_t)sy < max_y ? (uint32_t)sy : max_y;
            double wx = sx - (double)nx;
            double wy = sy - (double)ny;
            size_t at = (size_t)ny * src_width + nx;
            double d1 = src[at], d2 = src[at + 1];
            double d3 = src[at + src_width], d4 = src[at + src_width + 1];
            double v = (1.0 - wy) * ((1.0 - wx) * d1 + wx * d2) + wy * ((1.0 - wx) * d3 + wx * d4);
            dest[(size_t)y * width + x] = v <= 0.0 ? 0 : v >= 255.0 ? 255 : (uint8_t)v;
        }
    }
}
