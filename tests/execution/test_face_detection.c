/*
 * builtin-face-detection the way the platform runs it: a staged task on the
 * node (executors/task.h), the function inside the real sandboxed
 * steep-task-runner, the model handed over from [execution] face_model.
 *
 * Teaclave's example (input.jpg as a JSON byte array, min_face_size 20,
 * score_thresh 2.0, pyramid_scale_factor 0.8, steps 4/4) must give its 29
 * faces in Teaclave's JSON field order. The reference picture output.jpg is
 * NOT input.jpg with boxes: it is another print of the same photograph
 * (1400x1013, other crop and perspective) on which Teaclave's example drew
 * 28 red boxes (x, y, x+height, y+width: §10.11; rustface's boxes are
 * square, so the swap does not show). The test traces those rectangles from
 * the decoded JPEG and compares the two sets as far as two different
 * pictures allow: after normalising each axis (mean and spread), every
 * traced rectangle is the nearest of a distinct detected face, a linear map
 * per axis explains the matched centres within 20 pixels, the box sizes
 * follow the same scale (all within 0.65..1.5 of it, all but three within
 * 0.8..1.25), and the one face left over is the one Teaclave's picture has
 * no box for.
 *
 * Then the failures a user can cause or meet: no model configured, a model
 * that cannot be opened, bytes that are not a JPEG, out-of-range settings,
 * and a memory limit too small for the image.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <jpeglib.h>

#include "executors/staged_task.h"
#include "executors/task.h"
#include "helpers.h"
#include "staged_json.h"

#define FACES 29

struct fixture {
    char dir[400], work[512], runner[1024], model[1024];
    uint8_t *jpeg;
    size_t jpeg_len;
    struct steep_task_environment environment;
    struct steep_task_outcome outcome;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char path[1024];
    test_temp_dir(f->dir, sizeof f->dir, "face");
    snprintf(f->work, sizeof f->work, "%s/work", f->dir);
    const char *build = getenv("STEEP_BUILD_DIR");
    const char *shared = getenv("STEEP_SHARED_DIR");
    snprintf(f->runner, sizeof f->runner, "%s/bin/steep-task-runner", build ? build : "build");
    snprintf(f->model, sizeof f->model, "%s/fixtures/seetaface/seeta_fd_frontal_v1.0.bin",
             shared ? shared : "../shared");
    test_fixture_path(path, sizeof path, "functions/face_detection/input.jpg");
    f->jpeg = (uint8_t *)test_read_file(path, &f->jpeg_len);
    assert_non_null(f->jpeg);
    f->environment.runner_path = f->runner;
    f->environment.work_dir = f->work;
    f->environment.fusion_base = f->dir;
    f->environment.face_model = f->model;
    steep_sandbox_limits_default(&f->environment.limits);
    f->environment.limits.wall_seconds = 120;
    f->environment.limits.memory_bytes = 512u << 20;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    steep_task_outcome_free(&f->outcome);
    test_remove_tree(f->dir);
    free(f->jpeg);
    free(f);
    return 0;
}

/* Teaclave's example arguments with the image as a JSON array of bytes. */
static json_t *example_args(const uint8_t *jpeg, size_t len)
{
    json_t *args = json_object(), *image = json_array();
    for (size_t i = 0; i < len; i++)
        json_array_append_new(image, json_integer(jpeg[i]));
    json_object_set_new(args, "image", image);
    json_object_set_new(args, "min_face_size", json_integer(20));
    json_object_set_new(args, "score_thresh", json_real(2.0));
    json_object_set_new(args, "pyramid_scale_factor", json_real(0.8));
    json_object_set_new(args, "slide_window_step_x", json_integer(4));
    json_object_set_new(args, "slide_window_step_y", json_integer(4));
    return args;
}

static void run(struct fixture *f, json_t *args)
{
    json_t *json = test_staged_task("00000000-0000-4000-8000-0000000000fd", "Builtin", "Builtin",
                                    "builtin-face-detection", args);
    char *text = test_dump(json);
    struct steep_staged_task task;
    assert_int_equal(steep_staged_task_parse((const uint8_t *)text, strlen(text), &task), 0);
    steep_task_outcome_free(&f->outcome);
    steep_task_run(&f->environment, &task, NULL, &f->outcome);
    steep_staged_task_free(&task);
    json_decref(json);
    free(text);
}

static void expect_failure(struct fixture *f, json_t *args, const char *reason)
{
    run(f, args);
    if (f->outcome.ok || strstr(f->outcome.reason, reason) == NULL) {
        fprintf(stderr, "wanted a failure with \"%s\", got %s: %s\n", reason,
                f->outcome.ok ? "success" : "failure", f->outcome.reason);
        fail();
    }
}

struct box {
    double x, y, width, height;
};

/* ---- the red rectangles of output.jpg ----------------------------------- */

struct rgb_image {
    int width, height;
    uint8_t *data;
};

static void decode_rgb(const char *path, struct rgb_image *img)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, file);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    img->width = (int)cinfo.output_width;
    img->height = (int)cinfo.output_height;
    img->data = malloc((size_t)img->width * img->height * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = img->data + (size_t)cinfo.output_scanline * img->width * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(file);
}

/* An edge: a run of red along one axis, merged over the adjacent lines a
 * JPEG-blurred stroke covers. along = line index (first..last), from..to. */
struct edge {
    int first, last, from, to;
};

#define MAX_EDGES 512
#define MIN_EDGE  20

static int is_red(const struct rgb_image *img, int x, int y)
{
    const uint8_t *p = img->data + ((size_t)y * img->width + x) * 3;
    return p[0] > 150 && p[1] < 100 && p[2] < 100;
}

/* Runs of red along rows (vertical = 0) or columns (1), gaps of 2 bridged. */
static size_t trace_edges(const struct rgb_image *img, int vertical, struct edge *edges)
{
    int lines = vertical ? img->width : img->height, length = vertical ? img->height : img->width;
    size_t n = 0;
    for (int line = 0; line < lines; line++) {
        for (int i = 0; i < length;) {
            if (!(vertical ? is_red(img, line, i) : is_red(img, i, line))) {
                i++;
                continue;
            }
            int start = i, last = i;
            while (i < length && i - last <= 2) {
                if (vertical ? is_red(img, line, i) : is_red(img, i, line))
                    last = i;
                i++;
            }
            if (last - start + 1 < MIN_EDGE)
                continue;
            size_t k = 0;
            for (; k < n; k++)
                if (line - edges[k].last <= 2 && abs(start - edges[k].from) <= 3 &&
                    abs(last - edges[k].to) <= 3)
                    break;
            if (k < n) {
                edges[k].last = line;
            } else {
                assert_true(n < MAX_EDGES);
                edges[n++] = (struct edge){line, line, start, last};
            }
        }
    }
    return n;
}

static int has_side(const struct edge *v, size_t nv, int x, int top, int bottom)
{
    for (size_t i = 0; i < nv; i++)
        if (abs(v[i].first - x) <= 4 && v[i].from <= top + 4 && v[i].to >= bottom - 4)
            return 1;
    return 0;
}

/* A rectangle: a top edge, the nearest bottom edge below it with the same
 * span, and left and right sides joining them. */
static size_t trace_rectangles(const struct rgb_image *img, struct box *boxes, size_t max)
{
    struct edge *h = calloc(MAX_EDGES, sizeof *h), *v = calloc(MAX_EDGES, sizeof *v);
    size_t nh = trace_edges(img, 0, h), nv = trace_edges(img, 1, v), n = 0;
    for (size_t t = 0; t < nh; t++) {
        const struct edge *bottom = NULL;
        for (size_t b = 0; b < nh; b++) {
            if (h[b].first - h[t].last < MIN_EDGE || abs(h[b].from - h[t].from) > 4 ||
                abs(h[b].to - h[t].to) > 4)
                continue;
            if (!has_side(v, nv, h[t].from, h[t].first, h[b].last) ||
                !has_side(v, nv, h[t].to, h[t].first, h[b].last))
                continue;
            if (!bottom || h[b].first < bottom->first)
                bottom = &h[b];
        }
        if (bottom && n < max)
            boxes[n++] = (struct box){h[t].from, h[t].first, bottom->to - h[t].from,
                                      bottom->last - h[t].first};
    }
    free(h);
    free(v);
    return n;
}

/* ---- comparing two pictures of the same people -------------------------- */

static void centres(const struct box *b, size_t n, double (*c)[2])
{
    for (size_t i = 0; i < n; i++) {
        c[i][0] = b[i].x + b[i].width / 2;
        c[i][1] = b[i].y + b[i].height / 2;
    }
}

static void normalise(double (*c)[2], size_t n, double (*out)[2])
{
    for (int axis = 0; axis < 2; axis++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++)
            mean += c[i][axis] / (double)n;
        for (size_t i = 0; i < n; i++)
            var += (c[i][axis] - mean) * (c[i][axis] - mean) / (double)n;
        for (size_t i = 0; i < n; i++)
            out[i][axis] = (c[i][axis] - mean) / sqrt(var);
    }
}

/* Least-squares y = s x + t on one axis of the pairs; returns the largest
 * residual and sets the scale. */
static double fit_axis(double (*a)[2], double (*b)[2], const int *match, size_t n, int axis,
                       double *scale)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (match[i] < 0)
            continue;
        double x = a[i][axis], y = b[match[i]][axis];
        sx += x, sy += y, sxx += x * x, sxy += x * y, m++;
    }
    double s = (m * sxy - sx * sy) / (m * sxx - sx * sx), t = (sy - s * sx) / m, worst = 0;
    for (size_t i = 0; i < n; i++)
        if (match[i] >= 0)
            worst = fmax(worst, fabs(b[match[i]][axis] - (s * a[i][axis] + t)));
    *scale = s;
    return worst;
}

static void compare_with_reference(const struct box *faces, size_t n)
{
    char path[1024];
    struct rgb_image img;
    struct box drawn[64];
    test_fixture_path(path, sizeof path, "functions/face_detection/output.jpg");
    decode_rgb(path, &img);
    size_t m = trace_rectangles(&img, drawn, 64);
    free(img.data);
    assert_int_equal(m, FACES - 1);
    for (size_t j = 0; j < m; j++) /* drawn as (x, y, x+height, y+width) */
        assert_true(fabs(drawn[j].width - drawn[j].height) <= 3);

    double ca[FACES][2], cb[64][2], na[FACES][2], nb[64][2];
    centres(faces, n, ca);
    centres(drawn, m, cb);
    normalise(ca, n, na);
    normalise(cb, m, nb);
    /* Greedy one-to-one matching, closest pairs first. */
    int match[FACES], taken[64] = {0};
    for (size_t i = 0; i < n; i++)
        match[i] = -1;
    for (size_t round = 0; round < m; round++) {
        double best = INFINITY;
        size_t bi = 0, bj = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++)
                if (match[i] < 0 && !taken[j] &&
                    hypot(na[i][0] - nb[j][0], na[i][1] - nb[j][1]) < best) {
                    best = hypot(na[i][0] - nb[j][0], na[i][1] - nb[j][1]);
                    bi = i, bj = j;
                }
        assert_true(best < 0.25); /* a quarter of the spread of the faces */
        match[bi] = (int)bj;
        taken[bj] = 1;
    }
    double sx, sy;
    double worst_x = fit_axis(ca, cb, match, n, 0, &sx),
           worst_y = fit_axis(ca, cb, match, n, 1, &sy);
    fprintf(stderr,
            "output.jpg: %zu rectangles; per-axis scale %.3f %.3f, worst residual %.1f %.1f px\n",
            m, sx, sy, worst_x, worst_y);
    assert_true(worst_x < 25 && worst_y < 15);
    size_t close_sizes = 0;
    for (size_t i = 0; i < n; i++) {
        if (match[i] < 0) {
            /* The bald man at the centre of the back row, boxed in input.jpg
             * only (the weakest of the 29 faces). */
            assert_true(faces[i].x > 700 && faces[i].x < 820 && faces[i].y < 150);
            continue;
        }
        /* Sizes: two pictures and two decoders, so the regression of a box
         * may differ, but never wildly and rarely at all. */
        double ratio = drawn[match[i]].width / (faces[i].width * (sx + sy) / 2);
        assert_true(ratio > 0.65 && ratio < 1.5);
        close_sizes += ratio > 0.8 && ratio < 1.25;
    }
    assert_true(close_sizes >= m - 3);
}

/* ---- the tests ----------------------------------------------------------- */

static void test_teaclave_example(void **state)
{
    struct fixture *f = *state;
    run(f, example_args(f->jpeg, f->jpeg_len));
    if (!f->outcome.ok)
        fprintf(stderr, "task failed: %s\n", f->outcome.reason);
    assert_true(f->outcome.ok);
    /* The summary is bytes, not a C string. */
    char *text = strndup((const char *)f->outcome.summary.data, f->outcome.summary.len);
    /* serde's field order, compact, the angles rustface leaves at 0. */
    assert_int_equal(strncmp(text, "[{\"bbox\":{\"x\":", 14), 0);
    size_t shaped = 0;
    for (const char *p = text;
         (p = strstr(p, "},\"roll\":0.0,\"pitch\":0.0,\"yaw\":0.0,\"score\":")); p++)
        shaped++;
    assert_int_equal(shaped, FACES);
    json_error_t err;
    json_t *list = json_loadb(text, f->outcome.summary.len, 0, &err);
    assert_non_null(list);
    assert_int_equal(json_array_size(list), FACES);
    struct box faces[FACES];
    for (size_t i = 0; i < FACES; i++) {
        json_t *face = json_array_get(list, i), *bbox = json_object_get(face, "bbox");
        faces[i] = (struct box){(double)json_integer_value(json_object_get(bbox, "x")),
                                (double)json_integer_value(json_object_get(bbox, "y")),
                                (double)json_integer_value(json_object_get(bbox, "width")),
                                (double)json_integer_value(json_object_get(bbox, "height"))};
        double score = json_real_value(json_object_get(face, "score"));
        assert_true(score >= 2.0);
        assert_true(faces[i].width >= 20 && faces[i].width == faces[i].height);
        assert_true(faces[i].x >= 0 && faces[i].x + faces[i].width <= 1666);
    }
    json_decref(list);
    free(text);
    compare_with_reference(faces, FACES);
}

static void test_model_setting(void **state)
{
    struct fixture *f = *state;
    f->environment.face_model = NULL;
    expect_failure(f, example_args(f->jpeg, 8), "[execution] face_model is not set");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-model.bin", f->dir);
    f->environment.face_model = missing;
    expect_failure(f, example_args(f->jpeg, 8),
                   "([execution] face_model) cannot be opened: No such file or directory");
    /* The node's path stays out of the user's reason. */
    assert_null(strstr(f->outcome.reason, f->dir));
    /* A file that is not a model: the parser's reason. */
    f->environment.face_model = f->runner;
    expect_failure(f, example_args(f->jpeg, f->jpeg_len), "face model: ");
}

static void test_malformed_images(void **state)
{
    struct fixture *f = *state;
    expect_failure(f, example_args((const uint8_t *)"\x01\x02\x03", 3), "invalid JPEG image");
    expect_failure(f, example_args(f->jpeg, 0), "the image is empty");
    /* Half a JPEG: libjpeg-turbo's warning is an error, as in image-rs. */
    expect_failure(f, example_args(f->jpeg, f->jpeg_len / 2), "invalid JPEG image");
    json_t *args = example_args(f->jpeg, 4);
    json_array_set_new(json_object_get(args, "image"), 1, json_integer(300));
    expect_failure(f, args, "Cannot deserialize arguments: image[1] is not a byte");
    args = example_args(f->jpeg, 4);
    json_object_set_new(args, "image", json_string("not bytes"));
    expect_failure(f, args, "Cannot deserialize arguments: image must be an array of bytes");
}

static void test_settings(void **state)
{
    struct fixture *f = *state;
    json_t *args = example_args(f->jpeg, 4);
    json_object_set_new(args, "pyramid_scale_factor", json_real(1.5));
    expect_failure(f, args, "pyramid_scale_factor 1.5 is outside 0.01..0.99");
    args = example_args(f->jpeg, 4);
    json_object_set_new(args, "slide_window_step_x", json_integer(0));
    expect_failure(f, args, "slide_window_step_x must be positive");
    args = example_args(f->jpeg, 4);
    json_object_set_new(args, "min_face_size", json_integer(19));
    expect_failure(f, args, "min_face_size 19 is below 20");
    args = example_args(f->jpeg, 4);
    json_object_set_new(args, "score_thresh", json_real(-1));
    expect_failure(f, args, "score_thresh -1 must be positive");
    args = example_args(f->jpeg, 4);
    json_object_set_new(args, "window_size", json_string("40"));
    expect_failure(f, args, "Cannot deserialize arguments: window_size must be an integer");
}

static void test_memory_limit(void **state)
{
    struct fixture *f = *state;
    f->environment.limits.memory_bytes = 24u << 20;
    expect_failure(f, example_args(f->jpeg, f->jpeg_len), "function exceeded its memory limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_teaclave_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_setting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
