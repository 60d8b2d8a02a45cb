/*
 * builtin-face-detection benchmark: the built-in itself (arguments JSON
 * parse, JPEG decode, the detector, the JSON result) on Teaclave's fixture
 * (1666x1136) and on a 1920x1080 JPEG made from it (the fixture's gray
 * image resized with the detector's own bilinear resize, encoded at
 * quality 90), Teaclave's example settings. Each run is a child process,
 * so its peak RSS (wait4) is the function's alone.
 *   bench_face MODEL INPUT_JPEG [RUNS]
 * Prints "RESULT <name> <width> <height> <faces> <best wall s> <best CPU s of
 * the child, user+sys> <peak RSS KiB>".
 */
#include "functions/face_detection.h"
#include "functions/function.h"

#include "core/error.h"
#include "crypto/stream.h"

#include <stdio.h>

#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct steep_buf model_bytes = STEEP_BUF_INIT;

static struct steep_reader *open_resource(void *ctx, const char *name)
{
    return steep_memory_reader_new(model_bytes.data, model_bytes.len);
}

static char *example_args(const uint8_t *jpeg, size_t len)
{
    struct steep_buf b = STEEP_BUF_INIT;
    steep_buf_append(&b, "{\"image\":[", 10);
    for (size_t i = 0; i < len; i++)
        steep_buf_printf(&b, "%s%u", i ? "," : "", jpeg[i]);
    steep_buf_printf(&b, "],\"min_face_size\":20,\"score_thresh\":2.0,\"pyramid_scale_factor\":0.8,"
                         "\"slide_window_step_x\":4,\"slide_window_step_y\":4}");
    steep_buf_terminate(&b);
    return (char *)b.data;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One run in a child: writes faces and seconds to the pipe. */
static int run_once(const char *args, size_t *faces, double *seconds, double *cpu, long *rss_kib)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        struct steep_fn_io io = {.open_resource = open_resource};
        struct steep_buf summary = STEEP_BUF_INIT;
        const struct steep_builtin *fn = steep_builtin_find("builtin-face-detection");
        double start = now();
        int rc = steep_builtin_run(fn, args, &io, &summary);
        double took = now() - start;
        size_t count = 0;
        for (size_t i = 0; rc == 0 && i + 7 < summary.len; i++)
            count += memcmp(summary.data + i, "{\"bbox\"", 7) == 0;
        if (rc < 0)
            fprintf(stderr, "face detection failed: %s\n", steep_error_get());
        dprintf(fds[1], "%zu %.6f\n", rc == 0 ? count : (size_t)-1, took);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    char line[128] = {0};
    ssize_t n = read(fds[0], line, sizeof line - 1);
    close(fds[0]);
    int status;
    struct rusage usage;
    if (pid < 0 || wait4(pid, &status, 0, &usage) < 0 || n <= 0 || status != 0)
        return -1;
    sscanf(line, "%zu %lf", faces, seconds);
    *rss_kib = usage.ru_maxrss;
    *cpu = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
    return 0;
}

static void bench(const char *name, const uint8_t *jpeg, size_t len, uint32_t w, uint32_t h,
                  int runs)
{
    char *args = example_args(jpeg, len);
    double best = 1e30, best_cpu = 1e30;
    long rss = 0;
    size_t faces = 0;
    for (int i = 0; i < runs; i++) {
        double s, cpu;
        long r;
        if (run_once(args, &faces, &s, &cpu, &r) < 0) {
            fprintf(stderr, "%s: run failed\n", name);
            exit(1);
        }
        best = s < best ? s : best;
        best_cpu = cpu < best_cpu ? cpu : best_cpu;
        rss = r > rss ? r : rss;
    }
    printf("RESULT %s %u %u %zu %.3f %.3f %ld\n", name, w, h, faces, best, best_cpu, rss);
    free(args);
}

/* The fixture's gray image resized to width x height, as a JPEG. */
static uint8_t *make_jpeg(const struct steep_face_image *src, uint32_t width, uint32_t height,
                          size_t *len)
{
    uint8_t *gray = malloc((size_t)width * height);
    steep_face_resize(src->data, src->width, src->height, gray, width, height);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &out_len);
    c.image_width = width;
    c.image_height = height;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < height) {
        JSAMPROW row = gray + (size_t)c.next_scanline * width;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(gray);
    *len = out_len;
    return out;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_face MODEL INPUT_JPEG [RUNS]\n");
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 3;
    struct steep_buf input = STEEP_BUF_INIT;
    struct steep_face_image image;
    if (steep_read_file(argv[1], 64u << 20, &model_bytes) < 0 ||
        steep_read_file(argv[2], 64u << 20, &input) < 0 ||
        steep_face_decode_jpeg(input.data, input.len, 1u << 28, &image) < 0) {
        fprintf(stderr, "%s\n", steep_error_get());
        return 1;
    }
    bench("fixture", input.data, input.len, image.width, image.height, runs);
    size_t len;
    uint8_t *hd = make_jpeg(&image, 1920, 1080, &len);
    bench("1920x1080", hd, len, 1920, 1080, runs);
    free(hd);
    steep_face_image_free(&image);
    steep_buf_free(&input);
    steep_buf_free(&model_bytes);
    return 0;
}
