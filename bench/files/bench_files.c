/*
 * File crypto and built-in function throughput (not a ctest test).
 *   bench_files convert DIR SIZE_MB   plaintext of SIZE_MB in DIR, then for
 *       aes-gcm-256 and teaclave-file-128: encrypt, and decrypt+re-encrypt
 *       (steep_file_convert into the same scheme with a fresh key); prints
 *       MB/s of plaintext for each.
 *   bench_files intersect DIR LINES   two sorted inputs of LINES hex lines,
 *       builtin-ordered-set-intersect over plain files in a child process;
 *       prints seconds and the child's peak RSS (getrusage).
 * Files are deleted afterwards.
 */
#include "crypto/file_crypto.h"
#include "functions/function.h"

#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of this process (user only when user_only). */
static double cpu_time(int user_only)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    return user_only ? user : user + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_files: %s: %s\n", what, steep_error_get());
    exit(1);
}

static void make_plaintext(const char *path, uint64_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        exit(1);
    static uint64_t block[8192];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (uint64_t done = 0; done < bytes; done += sizeof(block)) {
        for (size_t i = 0; i < 8192; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            block[i] = x;
        }
        size_t n = bytes - done < sizeof(block) ? (size_t)(bytes - done) : sizeof(block);
        if (fwrite(block, 1, n, f) != n)
            exit(1);
    }
    fclose(f);
}

static void bench_scheme(const char *dir, const char *plain, uint64_t bytes, const char *schema)
{
    struct steep_file_crypto a, b;
    uint8_t key[32], iv[12];
    size_t key_len = strcmp(schema, "aes-gcm-256") == 0 ? 32 : 16;
    size_t iv_len = key_len == 32 ? 12 : 0;
    memset(key, 0x11, sizeof(key));
    memset(iv, 0x22, sizeof(iv));
    if (steep_file_crypto_init(&a, schema, key, key_len, iv, iv_len) < 0)
        die("crypto");
    key[0] = 0x33;
    if (steep_file_crypto_init(&b, schema, key, key_len, iv, iv_len) < 0)
        die("crypto");
    char enc[4096], re[4096];
    snprintf(enc, sizeof(enc), "%s/bench.enc", dir);
    snprintf(re, sizeof(re), "%s/bench2.enc", dir);
    uint8_t cmac[16];
    double t0 = now(), c0 = cpu_time(0), u0 = cpu_time(1);
    if (steep_file_encrypt(plain, enc, &a, NULL, NULL, cmac) < 0)
        die("encrypt");
    double t1 = now(), c1 = cpu_time(0), u1 = cpu_time(1);
    if (steep_file_convert(enc, &a, cmac, re, &b, cmac) < 0)
        die("convert");
    double t2 = now(), c2 = cpu_time(0), u2 = cpu_time(1);
    double mb = (double)bytes / 1e6;
    printf("%-18s encrypt: %7.1f MB/s wall, %7.1f MB/s per CPU s, %7.1f MB/s per user CPU s\n",
           schema, mb / (t1 - t0), mb / (c1 - c0), mb / (u1 - u0));
    printf("%-18s decrypt+re-encrypt: %7.1f MB/s wall, %7.1f MB/s per CPU s, %7.1f MB/s per user "
           "CPU s\n",
           schema, mb / (t2 - t1), mb / (c2 - c1), mb / (u2 - u1));
    /* Parsed by run.sh. */
    printf("RESULT %s %.1f %.1f %.1f\n", schema, mb / (t2 - t1), mb / (c2 - c1), mb / (u2 - u1));
    unlink(enc);
    unlink(re);
}

static void make_sorted(const char *path, uint64_t lines, uint64_t step)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        exit(1);
    for (uint64_t i = 0; i < lines; i++)
        fprintf(f, "%016llx\n", (unsigned long long)(i * step));
    fclose(f);
}

struct bench_io {
    char in1[4096], in2[4096], out1[4096], out2[4096];
};

static struct steep_reader *open_input(void *ctx, const char *name)
{
    struct bench_io *b = ctx;
    struct steep_file_crypto raw = {.scheme = STEEP_SCHEME_RAW};
    return steep_file_reader_open(strcmp(name, "input_data1") ? b->in2 : b->in1, &raw, NULL, NULL);
}

static struct steep_writer *create_output(void *ctx, const char *name)
{
    struct bench_io *b = ctx;
    struct steep_file_crypto raw = {.scheme = STEEP_SCHEME_RAW};
    return steep_file_writer_create(strcmp(name, "output_result1") ? b->out2 : b->out1, &raw, 1);
}

static void bench_intersect(const char *dir, uint64_t lines)
{
    struct bench_io b;
    snprintf(b.in1, sizeof(b.in1), "%s/in1", dir);
    snprintf(b.in2, sizeof(b.in2), "%s/in2", dir);
    snprintf(b.out1, sizeof(b.out1), "%s/out1", dir);
    snprintf(b.out2, sizeof(b.out2), "%s/out2", dir);
    make_sorted(b.in1, lines, 3);
    make_sorted(b.in2, lines, 5);
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        struct steep_fn_io io = {&b, open_input, create_output, NULL, NULL};
        struct steep_buf summary = STEEP_BUF_INIT;
        const struct steep_builtin *fn = steep_builtin_find("builtin-ordered-set-intersect");
        if (!fn || steep_builtin_run(fn, "{\"order\":\"ascending\"}", &io, &summary) < 0)
            die("intersect");
        steep_buf_terminate(&summary);
        printf("builtin-ordered-set-intersect: %s\n", (char *)summary.data);
        fflush(stdout);
        _exit(0);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        exit(1);
    double t1 = now();
    double child_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("builtin-ordered-set-intersect on 2 x %llu lines: %.2f s wall, %.2f s cpu, peak RSS "
           "%ld KiB (inputs %.0f MB each)\n",
           (unsigned long long)lines, t1 - t0, child_cpu, ru.ru_maxrss, (double)lines * 17 / 1e6);
    unlink(b.in1);
    unlink(b.in2);
    unlink(b.out1);
    unlink(b.out2);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "convert") == 0) {
        uint64_t bytes = strtoull(argv[3], NULL, 10) << 20;
        char plain[4096];
        snprintf(plain, sizeof(plain), "%s/plain.bin", argv[2]);
        make_plaintext(plain, bytes);
        bench_scheme(argv[2], plain, bytes, "aes-gcm-256");
        bench_scheme(argv[2], plain, bytes, "teaclave-file-128");
        unlink(plain);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "intersect") == 0) {
        bench_intersect(argv[2], strtoull(argv[3], NULL, 10));
        return 0;
    }
    fprintf(stderr, "usage: %s convert DIR SIZE_MB | intersect DIR LINES\n", argv[0]);
    return 2;
}
