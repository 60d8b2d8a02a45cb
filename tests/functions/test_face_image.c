/*
 * The face detector's JPEG decoding (functions/face_detection_image.c):
 * jpeg-decoder's IDCT, upsamplers and colour conversion rebuilt on
 * libjpeg-turbo's coefficients. They are not libjpeg-turbo's own
 * reconstruction, but both approximate the same transform, so on every
 * layout (Teaclave's 4:2:0 fixture, 4:4:4, 4:2:2, 4:4:0, gray, progressive)
 * the gray image must agree with libjpeg-turbo's decoding almost
 * everywhere and by at most a few levels; a wrong IDCT or upsampler is off
 * by far more. Then the failures: empty input, garbage, a cut file, a
 * header announcing more pixels than the budget (refused before decoding).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jpeglib.h>

#include "core/error.h"
#include "functions/face_detection.h"

static uint8_t *read_fixture(const char *rel, size_t *len)
{
    const char *shared = getenv("STEEP_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/teaclave/functions/%s", shared ? shared : "../shared",
             rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *data = malloc(*len);
    assert_int_equal(fread(data, 1, *len, f), *len);
    fclose(f);
    return data;
}

/* libjpeg-turbo's own decoding (islow IDCT, fancy upsampling), to gray
 * with image-rs' luma. */
static uint8_t *reference_gray(const uint8_t *jpeg, size_t len, uint32_t *w, uint32_t *h)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr e;
    d.err = jpeg_std_error(&e);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, jpeg, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    int gray = d.num_components == 1;
    d.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&d);
    *w = d.output_width;
    *h = d.output_height;
    uint8_t *out = malloc((size_t)*w * *h), *row = malloc((size_t)*w * 3);
    while (d.output_scanline < d.output_height) {
        uint8_t *dest = out + (size_t)d.output_scanline * *w;
        JSAMPROW r = gray ? dest : row;
        jpeg_read_scanlines(&d, &r, 1);
        for (uint32_t x = 0; !gray && x < *w; x++)
            dest[x] = (uint8_t)(0.2126f * row[3 * x] + 0.7152f * row[3 * x + 1] +
                                0.0722f * row[3 * x + 2]);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(row);
    return out;
}

static void compare_with_reference(const uint8_t *jpeg, size_t len, const char *what)
{
    struct steep_face_image image;
    uint32_t w, h;
    assert_int_equal(steep_face_decode_jpeg(jpeg, len, 1u << 26, &image), 0);
    uint8_t *ref = reference_gray(jpeg, len, &w, &h);
    assert_int_equal(image.width, w);
    assert_int_equal(image.height, h);
    size_t differ = 0;
    int worst = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        int d = abs((int)image.data[i] - (int)ref[i]);
        differ += d != 0;
        worst = d > worst ? d : worst;
    }
    fprintf(stderr, "%s %ux%u: %.2f%% of pixels differ, by at most %d\n", what, w, h,
            100.0 * (double)differ / ((double)w * h), worst);
    assert_true(worst <= 3);
    assert_true(differ * 10 < (size_t)w * h);
    free(ref);
    steep_face_image_free(&image);
}

static void test_fixture(void **state)
{
    size_t len;
    uint8_t *jpeg = read_fixture("face_detection/input.jpg", &len);
    compare_with_reference(jpeg, len, "input.jpg (4:2:0)");
    free(jpeg);
}

/* Re-encodes a colour crop of the fixture with the given sampling of the
 * first component (chroma 1x1), or gray, or progressive. */
static uint8_t *encode(int h, int v, int gray, int progressive, unsigned long *len)
{
    size_t in_len;
    uint8_t *jpeg = read_fixture("face_detection/input.jpg", &in_len);
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr e;
    d.err = jpeg_std_error(&e);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, jpeg, (unsigned long)in_len);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    const uint32_t W = 333, H = 251, X = 700, Y = 150; /* odd sizes: partial blocks */
    uint8_t *rgb = malloc((size_t)W * H * 3), *row = malloc((size_t)d.output_width * 3);
    while (d.output_scanline < d.output_height) {
        uint32_t y = d.output_scanline;
        jpeg_read_scanlines(&d, &row, 1);
        /* The photograph is gray: tint it with smooth colour ramps so the
         * chroma planes (and their upsampling) carry something. */
        for (uint32_t x = 0; y >= Y && y < Y + H && x < W; x++) {
            uint8_t *px = rgb + ((size_t)(y - Y) * W + x) * 3, p = row[(X + x) * 3];
            px[0] = p;
            px[1] = (uint8_t)((p * 3 + x * 255 / W) / 4);
            px[2] = (uint8_t)((p + (y - Y) * 255 / H) / 2);
        }
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(row);
    free(jpeg);

    struct jpeg_compress_struct c;
    unsigned char *out = NULL;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, len);
    c.image_width = W;
    c.image_height = H;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    if (gray)
        jpeg_set_colorspace(&c, JCS_GRAYSCALE);
    else {
        c.comp_info[0].h_samp_factor = h;
        c.comp_info[0].v_samp_factor = v;
        c.comp_info[1].h_samp_factor = c.comp_info[1].v_samp_factor = 1;
        c.comp_info[2].h_samp_factor = c.comp_info[2].v_samp_factor = 1;
    }
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_set_quality(&c, 85, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < H) {
        JSAMPROW r = rgb + (size_t)c.next_scanline * W * 3;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(rgb);
    return out;
}

static void test_layouts(void **state)
{
    struct {
        int h, v, gray, progressive;
        const char *what;
    } layouts[] = {
        {1, 1, 0, 0, "4:4:4"},       {2, 1, 0, 0, "4:2:2"}, {1, 2, 0, 0, "4:4:0"},
        {2, 2, 0, 0, "4:2:0"},       {4, 1, 0, 0, "4:1:1"}, {1, 1, 1, 0, "gray"},
        {2, 2, 0, 1, "progressive"},
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        unsigned long len = 0;
        uint8_t *jpeg =
            encode(layouts[i].h, layouts[i].v, layouts[i].gray, layouts[i].progressive, &len);
        compare_with_reference(jpeg, len, layouts[i].what);
        free(jpeg);
    }
}

static void expect_error(const uint8_t *data, size_t len, uint64_t budget, const char *text)
{
    struct steep_face_image image;
    assert_int_equal(steep_face_decode_jpeg(data, len, budget, &image), -1);
    if (!strstr(steep_error_get(), text)) {
        fprintf(stderr, "got \"%s\", wanted \"%s\"\n", steep_error_get(), text);
        fail();
    }
    assert_null(image.data);
}

static void test_bad_images(void **state)
{
    size_t len;
    uint8_t *jpeg = read_fixture("face_detection/input.jpg", &len);
    expect_error(jpeg, 0, 1u << 26, "the image is empty");
    expect_error((const uint8_t *)"GIF89a", 6, 1u << 26, "invalid JPEG image: Not a JPEG file");
    expect_error(jpeg, len / 3, 1u << 26, "invalid JPEG image: Premature end of JPEG file");
    expect_error(jpeg, len, 1000000, "image of 1666x1136 pixels exceeds the memory limit");
    uint8_t *corrupt = malloc(len);
    memcpy(corrupt, jpeg, len);
    memset(corrupt + len / 2, 0xff, 64); /* markers in the middle of the entropy data */
    expect_error(corrupt, len, 1u << 26, "invalid JPEG image: ");
    free(corrupt);
    free(jpeg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_bad_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
