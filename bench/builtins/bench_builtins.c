/*
 * bench_builtins RUNS FUNCTION ARGS [in:NAME=PATH ...] [out:NAME=PATH ...]:
 * runs one built-in function RUNS times in this process on plaintext files
 * and prints "FUNCTION median_ms min_ms" (run.sh adds the process's peak
 * RSS). The function code is the one the task runner executes; the sandbox
 * start is left out so the figure is the function's own cost. FUNCTION
 * "reference" times a fixed workload instead (summing 4 Mi doubles), the
 * same-run yardstick run.sh divides by.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "crypto/file_crypto.h"
#include "functions/function.h"

#define MAX_FILES 16

struct file {
    const char *name;
    const char *path;
};

struct bench_io {
    struct steep_fn_io io;
    struct file inputs[MAX_FILES], outputs[MAX_FILES];
    size_t n_inputs, n_outputs;
    struct steep_file_crypto raw;
};

static const struct file *find(const struct file *files, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(files[i].name, name) == 0)
            return &files[i];
    return NULL;
}

static struct steep_reader *open_input(void *ctx, const char *name)
{
    struct bench_io *b = ctx;
    const struct file *f = find(b->inputs, b->n_inputs, name);
    if (!f) {
        steep_error_set("Invalid input file identifier.");
        return NULL;
    }
    return steep_file_reader_open(f->path, &b->raw, NULL, NULL);
}

static struct steep_writer *create_output(void *ctx, const char *name)
{
    struct bench_io *b = ctx;
    const struct file *f = find(b->outputs, b->n_outputs, name);
    if (!f) {
        steep_error_set("Invalid output file identifier");
        return NULL;
    }
    return steep_file_writer_create(f->path, &b->raw, 1);
}

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

static int add_file(struct file *files, size_t *n, char *spec)
{
    char *eq = strchr(spec, '=');
    if (!eq || *n >= MAX_FILES)
        return -1;
    *eq = 0;
    files[(*n)++] = (struct file){spec, eq + 1};
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The yardstick: a dependent floating-point sum over 32 MiB. */
static double reference_work(void)
{
    static double data[4u << 20];
    double sum = 0.0;
    for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++)
        data[i] = (double)i * 0.5;
    for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++)
        sum = sum + data[i];
    return sum;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_builtins RUNS FUNCTION ARGS [in:N=PATH] [out:N=PATH]\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    struct bench_io b = {
        .io = {
            .ctx = &b, .open_input = open_input, .create_output = create_output, .log = log_line}};
    if (runs < 1 || runs > 10000 || steep_file_crypto_init(&b.raw, "raw", NULL, 0, NULL, 0) < 0)
        return 2;
    for (int i = 4; i < argc; i++) {
        int rc = strncmp(argv[i], "in:", 3) == 0    ? add_file(b.inputs, &b.n_inputs, argv[i] + 3)
                 : strncmp(argv[i], "out:", 4) == 0 ? add_file(b.outputs, &b.n_outputs, argv[i] + 4)
                                                    : -1;
        if (rc < 0) {
            fprintf(stderr, "bad file argument %s\n", argv[i]);
            return 2;
        }
    }
    bool reference = strcmp(argv[2], "reference") == 0;
    const struct steep_builtin *function = reference ? NULL : steep_builtin_find(argv[2]);
    if (!function && !reference) {
        fprintf(stderr, "%s: %s\n", argv[2], steep_error_get());
        return 1;
    }
    double *times = calloc((size_t)runs, sizeof(double));
    if (!times)
        return 1;
    for (int i = 0; i < runs; i++) {
        struct steep_buf summary = STEEP_BUF_INIT;
        double start = now_ms();
        volatile double sink = 0.0;
        int rc = reference ? (sink = reference_work(), 0)
                           : steep_builtin_run(function, argv[3], &b.io, &summary);
        (void)sink;
        times[i] = now_ms() - start;
        steep_buf_free(&summary);
        if (rc < 0) {
            fprintf(stderr, "%s: %s\n", argv[2], steep_error_get());
            return 1;
        }
    }
    qsort(times, (size_t)runs, sizeof(double), compare);
    printf("%s %.3f %.3f\n", argv[2], times[runs / 2], times[0]);
    free(times);
    return 0;
}
