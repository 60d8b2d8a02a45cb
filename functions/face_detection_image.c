/*
 * Images for the face detector.
 *
 * Teaclave decodes with image-rs 0.23, whose JPEG decoder is jpeg-decoder
 * 0.1.22, and rustface converts to gray with to_luma8 (l = 0.2126 R +
 * 0.7152 G + 0.0722 B in f32, truncated). The detector's boxes depend on
 * the exact pixels (libjpeg-turbo's own IDCT moves four of the 29 boxes of
 * Teaclave's example), so libjpeg-turbo does the parsing and the entropy
 * decoding (jpeg_read_coefficients: baseline, progressive, arithmetic) and
 * the pixels are rebuilt the way jpeg-decoder builds them:
 *   - stb_image's integer IDCT (12-bit constants, dequantised inside, with
 *     jpeg-decoder's wrapping arithmetic),
 *   - its upsamplers per sampling ratio (triangle filters for 2x, nearest
 *     for others) over each component's ceil(size * h / h_max) samples,
 *   - its f32 BT.601 colour conversion, rounded by +0.5 and truncation,
 *     none for Adobe-marked RGB,
 * then image-rs' luma. Gray JPEGs give their samples directly.
 * libjpeg-turbo's error exits longjmp back here with its message; its
 * warnings (truncated or corrupt data) are errors too. The pixel count is
 * checked from the header before anything is allocated.
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

#define FACE_COMPONENTS 3

struct plane {
    uint8_t *data;
    size_t stride;          /* width_in_blocks * 8 */
    uint32_t width, height; /* ceil(image size * sampling / max sampling) */
    int h, v;               /* sampling factors */
};

struct decode_state {
    struct jpeg_decompress_struct cinfo;
    struct decode_error err;
    struct plane planes[FACE_COMPONENTS];
    uint8_t *lines[FACE_COMPONENTS];
};

/* ---- stb_image's IDCT as jpeg-decoder runs it ---------------------------- */

/* i32 arithmetic that wraps like Rust's wrapping_* (malicious coefficients
 * overflow), through uint32_t so C has no undefined behaviour. */
static int32_t add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

static int32_t mul(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a * (uint32_t)b);
}

static int32_t shl(int32_t a, int n)
{
    return (int32_t)((uint32_t)a << n);
}

/* Arithmetic shift right, as Rust's on i32. */
static int32_t shr(int32_t a, int n)
{
    return a >= 0 ? a >> n : -(int32_t)((-(int64_t)a - 1) >> n) - 1;
}

static int32_t f2f(float x)
{
    return (int32_t)(x * 4096.0f + 0.5f);
}

static uint8_t clamp_u8(int32_t x)
{
    return x < 0 ? 0 : x > 255 ? 255 : (uint8_t)x;
}

/* The 1-D kernel shared by both passes: s[0..7] in, the even part
 * (x0..x3) and odd part (t0..t3) out. */
struct idct_parts {
    int32_t x0, x1, x2, x3, t0, t1, t2, t3;
};

static struct idct_parts kernel(const int32_t s[8])
{
    struct idct_parts r;
    int32_t p2 = s[2], p3 = s[6];
    int32_t p1 = mul(add(p2, p3), f2f(0.5411961f));
    int32_t t2 = add(p1, mul(p3, f2f(-1.847759065f)));
    int32_t t3 = add(p1, mul(p2, f2f(0.765366865f)));
    p2 = s[0];
    p3 = s[4];
    int32_t t0 = shl(add(p2, p3), 12), t1 = shl(sub(p2, p3), 12);
    r.x0 = add(t0, t3);
    r.x3 = sub(t0, t3);
    r.x1 = add(t1, t2);
    r.x2 = sub(t1, t2);
    t0 = s[7];
    t1 = s[5];
    t2 = s[3];
    t3 = s[1];
    p3 = add(t0, t2);
    int32_t p4 = add(t1, t3);
    p1 = add(t0, t3);
    p2 = add(t1, t2);
    int32_t p5 = mul(add(p3, p4), f2f(1.175875602f));
    t0 = mul(t0, f2f(0.298631336f));
    t1 = mul(t1, f2f(2.053119869f));
    t2 = mul(t2, f2f(3.072711026f));
    t3 = mul(t3, f2f(1.501321110f));
    p1 = add(p5, mul(p1, f2f(-0.899976223f)));
    p2 = add(p5, mul(p2, f2f(-2.562915447f)));
    p3 = mul(p3, f2f(-1.961570560f));
    p4 = mul(p4, f2f(-0.390180644f));
    r.t3 = add(t3, add(p1, p4));
    r.t2 = add(t2, add(p2, p3));
    r.t1 = add(t1, add(p2, p4));
    r.t0 = add(t0, add(p1, p3));
    return r;
}

static void idct_block(const JCOEF *coef, const UINT16 *quant, uint8_t *out, size_t stride)
{
    int32_t temp[64];
    for (int i = 0; i < 8; i++) {
        int ac_zero = 1;
        for (int k = 1; k < 8; k++)
            ac_zero = ac_zero && coef[i + 8 * k] == 0;
        if (ac_zero) {
            int32_t dc = shl(mul(coef[i], quant[i]), 2);
            for (int k = 0; k < 8; k++)
                temp[i + 8 * k] = dc;
            continue;
        }
        int32_t s[8];
        for (int k = 0; k < 8; k++)
            s[k] = mul(coef[i + 8 * k], quant[i + 8 * k]);
        struct idct_parts r = kernel(s);
        int32_t x0 = add(r.x0, 512), x1 = add(r.x1, 512), x2 = add(r.x2, 512), x3 = add(r.x3, 512);
        temp[i] = shr(add(x0, r.t3), 10);
        temp[i + 56] = shr(sub(x0, r.t3), 10);
        temp[i + 8] = shr(add(x1, r.t2), 10);
        temp[i + 48] = shr(sub(x1, r.t2), 10);
        temp[i + 16] = shr(add(x2, r.t1), 10);
        temp[i + 40] = shr(sub(x2, r.t1), 10);
        temp[i + 24] = shr(add(x3, r.t0), 10);
        temp[i + 32] = shr(sub(x3, r.t0), 10);
    }
    for (int i = 0; i < 8; i++) {
        struct idct_parts r = kernel(temp + 8 * i);
        const int32_t bias = 65536 + (128 << 17);
        int32_t x0 = add(r.x0, bias), x1 = add(r.x1, bias), x2 = add(r.x2, bias),
                x3 = add(r.x3, bias);
        uint8_t *o = out + (size_t)i * stride;
        o[0] = clamp_u8(shr(add(x0, r.t3), 17));
        o[7] = clamp_u8(shr(sub(x0, r.t3), 17));
        o[1] = clamp_u8(shr(add(x1, r.t2), 17));
        o[6] = clamp_u8(shr(sub(x1, r.t2), 17));
        o[2] = clamp_u8(shr(add(x2, r.t1), 17));
        o[5] = clamp_u8(shr(sub(x2, r.t1), 17));
        o[3] = clamp_u8(shr(add(x3, r.t0), 17));
        o[4] = clamp_u8(shr(sub(x3, r.t0), 17));
    }
}

/* ---- jpeg-decoder's upsamplers ------------------------------------------- */

static void upsample_row(const struct plane *p, int h_max, int v_max, uint32_t out_width,
                         uint32_t out_height, uint32_t row, uint8_t *out)
{
    int h1 = p->h == h_max || out_width == 1, v1 = p->v == v_max || out_height == 1;
    int h2 = p->h * 2 == h_max, v2 = p->v * 2 == v_max;
    uint32_t w = p->width;
    if (h1 && v1) {
        memcpy(out, p->data + (size_t)row * p->stride, out_width);
        return;
    }
    if ((h1 || h2) && (v1 || v2)) {
        const uint8_t *near, *far;
        if (v2) {
            float row_near = (float)row / 2.0f;
            float fract = row_near - (float)(uint32_t)row_near;
            float row_far = row_near + fract * 3.0f - 0.25f;
            if (row_far > (float)(p->height - 1))
                row_far = (float)(p->height - 1);
            near = p->data + (size_t)(uint32_t)row_near * p->stride;
            far = p->data + (size_t)(row_far > 0.0f ? (uint32_t)row_far : 0) * p->stride;
        } else {
            near = far = p->data + (size_t)row * p->stride;
        }
        if (h1 && v2) {
            for (uint32_t i = 0; i < out_width; i++)
                out[i] = (uint8_t)((3u * near[i] + far[i] + 2) >> 2);
        } else if (h2 && v1) {
            if (w == 1) {
                out[0] = out[1] = near[0];
                return;
            }
            out[0] = near[0];
            out[1] = (uint8_t)((near[0] * 3u + near[1] + 2) >> 2);
            for (uint32_t i = 1; i + 1 < w; i++) {
                uint32_t sample = 3u * near[i] + 2;
                out[i * 2] = (uint8_t)((sample + near[i - 1]) >> 2);
                out[i * 2 + 1] = (uint8_t)((sample + near[i + 1]) >> 2);
            }
            out[(w - 1) * 2] = (uint8_t)((near[w - 1] * 3u + near[w - 2] + 2) >> 2);
            out[(w - 1) * 2 + 1] = near[w - 1];
        } else { /* h2 && v2 */
            if (w == 1) {
                out[0] = out[1] = (uint8_t)((3u * near[0] + far[0] + 2) >> 2);
                return;
            }
            uint32_t t1 = 3u * near[0] + far[0];
            out[0] = (uint8_t)((t1 + 2) >> 2);
            for (uint32_t i = 1; i < w; i++) {
                uint32_t t0 = t1;
                t1 = 3u * near[i] + far[i];
                out[i * 2 - 1] = (uint8_t)((3 * t0 + t1 + 8) >> 4);
                out[i * 2] = (uint8_t)((3 * t1 + t0 + 8) >> 4);
            }
            out[w * 2 - 1] = (uint8_t)((t1 + 2) >> 2);
        }
        return;
    }
    /* Other integer ratios: nearest neighbour. */
    int hs = h_max / p->h, vs = v_max / p->v;
    const uint8_t *in = p->data + (size_t)(row / (uint32_t)vs) * p->stride;
    for (uint32_t i = 0, k = 0; i < w; i++)
        for (int r = 0; r < hs; r++)
            out[k++] = in[i];
}

/* ---- decoding ------------------------------------------------------------ */

static uint8_t luma(uint8_t r, uint8_t g, uint8_t b)
{
    float l = 0.2126f * (float)r + 0.7152f * (float)g + 0.0722f * (float)b;
    return (uint8_t)l;
}

static uint8_t rgb_channel(float v)
{
    float rounded = v + 0.5f;
    if (!(rounded > -1.0f)) /* (v + 0.5) as i32, clamped to 0..255 */
        return 0;
    return rounded >= 255.0f ? 255 : (uint8_t)(int32_t)rounded;
}

static void ycbcr_luma(uint8_t y, uint8_t cb, uint8_t cr, uint8_t *out)
{
    float fy = (float)y, fcb = (float)cb - 128.0f, fcr = (float)cr - 128.0f;
    float r = fy + 1.40200f * fcr;
    float g = fy - 0.34414f * fcb - 0.71414f * fcr;
    float b = fy + 1.77200f * fcb;
    *out = luma(rgb_channel(r), rgb_channel(g), rgb_channel(b));
}

/* Every component's samples through the IDCT, block row by block row. */
static int reconstruct(struct decode_state *s, jvirt_barray_ptr *coefficients)
{
    struct jpeg_decompress_struct *cinfo = &s->cinfo;
    int h_max = cinfo->max_h_samp_factor, v_max = cinfo->max_v_samp_factor;
    for (int c = 0; c < cinfo->num_components; c++) {
        jpeg_component_info *info = &cinfo->comp_info[c];
        struct plane *p = &s->planes[c];
        ENSURE(info->quant_table, "face detection: invalid JPEG image: no quantization table");
        ENSURE(h_max % info->h_samp_factor == 0 && v_max % info->v_samp_factor == 0,
               "face detection: unsupported JPEG image: non-integer subsampling ratio");
        p->h = info->h_samp_factor;
        p->v = info->v_samp_factor;
        p->width = (uint32_t)(((uint64_t)cinfo->image_width * p->h + h_max - 1) / h_max);
        p->height = (uint32_t)(((uint64_t)cinfo->image_height * p->v + v_max - 1) / v_max);
        p->stride = (size_t)info->width_in_blocks * 8;
        size_t rows = (size_t)info->height_in_blocks * 8;
        p->data = malloc(p->stride * rows + 1);
        s->lines[c] = malloc((size_t)cinfo->image_width + 16);
        ENSURE(p->data && s->lines[c], "face detection: out of memory for a %ux%u image",
               cinfo->image_width, cinfo->image_height);
        for (JDIMENSION by = 0; by < info->height_in_blocks; by++) {
            JBLOCKARRAY row =
                cinfo->mem->access_virt_barray((j_common_ptr)cinfo, coefficients[c], by, 1, FALSE);
            for (JDIMENSION bx = 0; bx < info->width_in_blocks; bx++)
                idct_block(row[0][bx], info->quant_table->quantval,
                           p->data + (size_t)by * 8 * p->stride + (size_t)bx * 8, p->stride);
        }
    }
    return 0;
}

static void to_gray(struct decode_state *s, struct steep_face_image *out)
{
    struct jpeg_decompress_struct *cinfo = &s->cinfo;
    int h_max = cinfo->max_h_samp_factor, v_max = cinfo->max_v_samp_factor;
    int rgb = cinfo->jpeg_color_space == JCS_RGB; /* Adobe transform 0: no conversion */
    for (uint32_t y = 0; y < out->height; y++) {
        uint8_t *dest = out->data + (size_t)y * out->width;
        for (int c = 0; c < cinfo->num_components; c++)
            upsample_row(&s->planes[c], h_max, v_max, out->width, out->height, y, s->lines[c]);
        if (cinfo->num_components == 1) {
            memcpy(dest, s->lines[0], out->width);
            continue;
        }
        const uint8_t *a = s->lines[0], *b = s->lines[1], *c = s->lines[2];
        for (uint32_t x = 0; x < out->width; x++) {
            if (rgb)
                dest[x] = luma(a[x], b[x], c[x]);
            else
                ycbcr_luma(a[x], b[x], c[x], &dest[x]);
        }
    }
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
    ENSURE(cinfo->num_components == 1 || cinfo->num_components == 3,
           "face detection: unsupported JPEG image with %d colour components (CMYK/YCCK)",
           cinfo->num_components);
    jvirt_barray_ptr *coefficients = jpeg_read_coefficients(cinfo);
    out->width = cinfo->image_width;
    out->height = cinfo->image_height;
    out->data = malloc(pixels ? pixels : 1);
    ENSURE(out->data, "face detection: out of memory for a %ux%u image", out->width, out->height);
    GUARD(reconstruct(s, coefficients));
    to_gray(s, out);
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
    for (int c = 0; c < FACE_COMPONENTS; c++) {
        free(s->planes[c].data);
        free(s->lines[c]);
    }
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
