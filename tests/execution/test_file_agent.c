/* File agent: data:, file://, fusion (with ".." refused), http GET/PUT
 * against a local Python server (404, redirect, 201 refused, redaction of
 * presigned query strings), unsupported schemes, parallel downloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "executors/file_agent.h"
#include "helpers.h"

struct fixture {
    char dir[512];
    char served[600];
    struct test_http_server http;
};

static char path_buf[8][1024];

static const char *at(struct fixture *f, int slot, const char *name)
{
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", f->dir, name);
    return path_buf[slot];
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    test_temp_dir(f->dir, sizeof f->dir, "file-agent");
    snprintf(f->served, sizeof f->served, "%s/served", f->dir);
    mkdir(f->served, 0700);
    test_http_start(&f->http, f->served);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    test_http_stop(&f->http);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* The tests' agent may use file:// URLs (a platform allows them only with
 * [execution] insecure_file_urls). */
static const struct steep_file_agent_options permissive = {.allow_file_urls = true};
#define WITH_FUSION(base) (&(struct steep_file_agent_options){.fusion_base = (base)})

static int download(const char *url, const char *local)
{
    struct steep_file_transfer t = {url, local};
    return steep_file_agent_download(&t, 1, &permissive);
}

static void test_data_url(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(download("data:text/plain;base64,aGVsbG8gd29ybGQ=", at(f, 0, "data")), 0);
    char *text = test_read_file(at(f, 0, "data"), NULL);
    assert_string_equal(text, "hello world");
    free(text);
    /* The destination must not exist yet. */
    assert_int_equal(download("data:text/plain;base64,aGk=", at(f, 0, "data")), -1);
    assert_int_equal(download("data:text/plain;base64,!!!!", at(f, 1, "bad")), -1);
    assert_false(test_file_exists(at(f, 1, "bad")));
    assert_int_equal(download("data:application/json,{}", at(f, 1, "other")), -1);
    struct steep_file_transfer up = {"data:text/plain;base64,aGk=", at(f, 0, "data")};
    assert_int_equal(steep_file_agent_upload(&up, 1, &permissive), -1);
    assert_non_null(strstr(steep_error_get(), "Scheme not supported"));
}

static void test_file_scheme(void **state)
{
    struct fixture *f = *state;
    char url[1200];
    test_write_file(at(f, 0, "source"), "abc", 3);
    snprintf(url, sizeof url, "file://%s", at(f, 0, "source"));
    assert_int_equal(download(url, at(f, 1, "copy")), 0);
    char *text = test_read_file(at(f, 1, "copy"), NULL);
    assert_string_equal(text, "abc");
    free(text);
    snprintf(url, sizeof url, "file://%s", at(f, 0, "missing"));
    assert_int_equal(download(url, at(f, 2, "never")), -1);
    assert_non_null(strstr(steep_error_get(), "missing"));
    assert_false(test_file_exists(at(f, 2, "never")));
    /* Upload refuses an existing destination and creates a new one. */
    snprintf(url, sizeof url, "file://%s", at(f, 0, "source"));
    struct steep_file_transfer up = {url, at(f, 1, "copy")};
    assert_int_equal(steep_file_agent_upload(&up, 1, &permissive), -1);
    snprintf(url, sizeof url, "file://%s", at(f, 3, "uploaded"));
    up.url = url;
    assert_int_equal(steep_file_agent_upload(&up, 1, &permissive), 0);
    text = test_read_file(at(f, 3, "uploaded"), NULL);
    assert_string_equal(text, "abc");
    free(text);
}

static void test_fusion(void **state)
{
    struct fixture *f = *state;
    char base[700];
    snprintf(base, sizeof base, "%s/fusion", f->dir);
    test_write_file(at(f, 0, "out"), "fused", 5);
    struct steep_file_transfer up = {"fusion:///TEACLAVE_FUSION_BASE/a.fusion", at(f, 0, "out")};
    assert_int_equal(steep_file_agent_upload(&up, 1, WITH_FUSION(base)), 0);
    assert_int_equal(steep_file_agent_upload(&up, 1, WITH_FUSION(base)), -1); /* exists */
    struct steep_file_transfer down = {"fusion:///TEACLAVE_FUSION_BASE/a.fusion", at(f, 1, "in")};
    assert_int_equal(steep_file_agent_download(&down, 1, WITH_FUSION(base)), 0);
    char *text = test_read_file(at(f, 1, "in"), NULL);
    assert_string_equal(text, "fused");
    free(text);
    const char *escapes[] = {
        "fusion:///TEACLAVE_FUSION_BASE/../out", "fusion:///TEACLAVE_FUSION_BASE/x/../../out",
        "fusion:///TEACLAVE_FUSION_BASE//etc/passwd", "fusion:///OTHER_BASE/a.fusion"};
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        down.url = escapes[i];
        down.local = at(f, 2, "escaped");
        assert_int_equal(steep_file_agent_download(&down, 1, WITH_FUSION(base)), -1);
        assert_false(test_file_exists(at(f, 2, "escaped")));
    }
    down.url = "fusion:///TEACLAVE_FUSION_BASE/../out";
    assert_int_equal(steep_file_agent_download(&down, 1, WITH_FUSION(base)), -1);
    assert_non_null(strstr(steep_error_get(), "escapes"));
}

static void test_http(void **state)
{
    struct fixture *f = *state;
    char url[1200], path[1200];
    snprintf(path, sizeof path, "%s/hello.txt", f->served);
    test_write_file(path, "hi there", 8);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello.txt", f->http.port);
    assert_int_equal(download(url, at(f, 0, "get")), 0);
    char *text = test_read_file(at(f, 0, "get"), NULL);
    assert_string_equal(text, "hi there");
    free(text);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect/hello.txt", f->http.port);
    assert_int_equal(download(url, at(f, 1, "redirected")), 0);
    text = test_read_file(at(f, 1, "redirected"), NULL);
    assert_string_equal(text, "hi there");
    free(text);
    /* 404 fails, names the URL, never the presigned query, leaves no file. */
    snprintf(url, sizeof url,
             "http://127.0.0.1:%d/missing.txt?X-Amz-Signature=SECRETSIG&X-Amz-Credential=KEY",
             f->http.port);
    assert_int_equal(download(url, at(f, 2, "missing")), -1);
    assert_non_null(strstr(steep_error_get(), "404"));
    assert_non_null(strstr(steep_error_get(), "/missing.txt"));
    assert_null(strstr(steep_error_get(), "SECRETSIG"));
    assert_null(strstr(steep_error_get(), "KEY"));
    assert_false(test_file_exists(at(f, 2, "missing")));
}

static void test_http_put(void **state)
{
    struct fixture *f = *state;
    char url[1200], path[1200];
    size_t big_len = 3 << 20;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 7);
    test_write_file(at(f, 0, "upload"), big, big_len);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/put.bin", f->http.port);
    struct steep_file_transfer up = {url, at(f, 0, "upload")};
    assert_int_equal(steep_file_agent_upload(&up, 1, &permissive), 0);
    snprintf(path, sizeof path, "%s/put.bin", f->served);
    size_t len;
    char *stored = test_read_file(path, &len);
    assert_int_equal(len, big_len);
    assert_memory_equal(stored, big, big_len);
    free(stored);
    snprintf(path, sizeof path, "%s/put.bin.content-type", f->served);
    char *ctype = test_read_file(path, NULL);
    assert_string_equal(ctype, "application/x-binary");
    free(ctype);
    /* 201 is not 200: Teaclave counts it as a failure. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/created/put2.bin", f->http.port);
    up.url = url;
    assert_int_equal(steep_file_agent_upload(&up, 1, &permissive), -1);
    assert_non_null(strstr(steep_error_get(), "201"));
    free(big);
}

static void test_unsupported(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(download("s3://bucket/key", at(f, 0, "s3")), -1);
    assert_non_null(strstr(steep_error_get(), "Scheme not supported"));
    assert_non_null(strstr(steep_error_get(), "s3://bucket/key"));
    struct steep_file_transfer up = {"ftp://host/x", at(f, 0, "s3")};
    assert_int_equal(steep_file_agent_upload(&up, 1, &permissive), -1);
    assert_non_null(strstr(steep_error_get(), "Scheme not supported"));
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_parallel(void **state)
{
    struct fixture *f = *state;
    enum { N = 6 };
    char urls[N][256], locals[N][1024], path[1200];
    struct steep_file_transfer batch[N];
    for (int i = 0; i < N; i++) {
        char content[32];
        snprintf(path, sizeof path, "%s/p%d.txt", f->served, i);
        snprintf(content, sizeof content, "file %d", i);
        test_write_file(path, content, strlen(content));
        snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%d/slow/p%d.txt", f->http.port, i);
        snprintf(locals[i], sizeof locals[i], "%s/parallel%d", f->dir, i);
        batch[i] = (struct steep_file_transfer){urls[i], locals[i]};
    }
    double start = now_seconds();
    assert_int_equal(steep_file_agent_download(batch, N, &permissive), 0);
    double elapsed = now_seconds() - start;
    /* Each response takes 0.5 s: one after another would take 3 s. */
    assert_true(elapsed < 2.5);
    for (int i = 0; i < N; i++) {
        char expected[32];
        snprintf(expected, sizeof expected, "file %d", i);
        char *text = test_read_file(locals[i], NULL);
        assert_string_equal(text, expected);
        free(text);
    }
    /* One bad file fails the batch. */
    snprintf(urls[0], sizeof urls[0], "http://127.0.0.1:%d/nothere.txt", f->http.port);
    snprintf(locals[0], sizeof locals[0], "%s/batch-fail0", f->dir);
    for (int i = 1; i < N; i++)
        snprintf(locals[i], sizeof locals[i], "%s/batch-fail%d", f->dir, i);
    assert_int_equal(steep_file_agent_download(batch, N, &permissive), -1);
    assert_non_null(strstr(steep_error_get(), "nothere.txt"));
}

static long max_rss_kb(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

static void test_large_files_are_streamed(void **state)
{
    struct fixture *f = *state;
    enum { MB = 1 << 20, SIZE_MB = 64 };
    char path[1200], url[1200];
    snprintf(path, sizeof path, "%s/large.bin", f->served);
    FILE *out = fopen(path, "wb");
    char *chunk = calloc(1, MB);
    for (int i = 0; i < SIZE_MB; i++) {
        memset(chunk, i, MB);
        assert_int_equal(fwrite(chunk, 1, MB, out), MB);
    }
    fclose(out);
    free(chunk);
    long before = max_rss_kb();
    snprintf(url, sizeof url, "http://127.0.0.1:%d/large.bin", f->http.port);
    assert_int_equal(download(url, at(f, 0, "large-http")), 0);
    snprintf(url, sizeof url, "file://%s", path);
    assert_int_equal(download(url, at(f, 1, "large-file")), 0);
    /* Memory does not grow with the file (64 MiB moved twice). */
    assert_true(max_rss_kb() - before < 16 * 1024);
    struct stat st;
    assert_int_equal(stat(at(f, 0, "large-http"), &st), 0);
    assert_int_equal(st.st_size, (off_t)SIZE_MB * MB);
    assert_int_equal(stat(at(f, 1, "large-file"), &st), 0);
    assert_int_equal(st.st_size, (off_t)SIZE_MB * MB);
    unlink(path);
    unlink(at(f, 0, "large-http"));
    unlink(at(f, 1, "large-file"));
}

static void test_redact(void **state)
{
    char out[256];
    steep_url_redact("https://user:pw@host.example/a/b.enc?sig=1#frag", out, sizeof out);
    assert_string_equal(out, "https://host.example/a/b.enc");
    steep_url_redact("file:///tmp/x", out, sizeof out);
    assert_string_equal(out, "file:///tmp/x");
}

static void test_file_urls_refused_by_default(void **state)
{
    struct fixture *f = *state;
    char url[1200];
    test_write_file(at(f, 0, "host-file"), "secret", 6);
    snprintf(url, sizeof url, "file://%s", at(f, 0, "host-file"));
    struct steep_file_transfer t = {url, at(f, 1, "stolen")};
    assert_int_equal(steep_file_agent_download(&t, 1, NULL), -1);
    assert_non_null(strstr(steep_error_get(), "file:// URLs are disabled"));
    assert_false(test_file_exists(at(f, 1, "stolen")));
    struct steep_file_transfer up = {url, at(f, 0, "host-file")};
    assert_int_equal(steep_file_agent_upload(&up, 1, NULL), -1);
    assert_non_null(strstr(steep_error_get(), "file:// URLs are disabled"));
}

struct cancel_flag {
    pthread_mutex_t lock;
    bool set;
};

static bool flag_set(void *arg)
{
    struct cancel_flag *flag = arg;
    pthread_mutex_lock(&flag->lock);
    bool set = flag->set;
    pthread_mutex_unlock(&flag->lock);
    return set;
}

static void *cancel_later(void *arg)
{
    usleep(500 * 1000);
    struct cancel_flag *flag = arg;
    pthread_mutex_lock(&flag->lock);
    flag->set = true;
    pthread_mutex_unlock(&flag->lock);
    return NULL;
}

/* A server that sends a byte every 0.2 s must not hold a slot past a cancel
 * or past the task's time limit. */
static void test_stalling_download_stops(void **state)
{
    struct fixture *f = *state;
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/drip/300", f->http.port);
    struct cancel_flag flag = {PTHREAD_MUTEX_INITIALIZER, false};
    struct steep_file_agent_options options = {.canceled = flag_set, .canceled_arg = &flag};
    struct steep_file_transfer t = {url, at(f, 0, "dripped")};
    pthread_t canceler;
    assert_int_equal(pthread_create(&canceler, NULL, cancel_later, &flag), 0);
    double start = now_seconds();
    assert_int_equal(steep_file_agent_download(&t, 1, &options), -1);
    double elapsed = now_seconds() - start;
    pthread_join(canceler, NULL);
    assert_non_null(strstr(steep_error_get(), "transfer canceled"));
    assert_true(elapsed < 20.0); /* the server would drip for 60 s */

    options = (struct steep_file_agent_options){.timeout_seconds = 1};
    t.local = at(f, 1, "dripped");
    start = now_seconds();
    assert_int_equal(steep_file_agent_download(&t, 1, &options), -1);
    elapsed = now_seconds() - start;
    assert_non_null(strstr(steep_error_get(), "time limit"));
    assert_true(elapsed >= 0.9 && elapsed < 20.0);
}

int main(void)
{
    steep_file_agent_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_url),
        cmocka_unit_test(test_file_scheme),
        cmocka_unit_test(test_fusion),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_http_put),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_large_files_are_streamed),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_file_urls_refused_by_default),
        cmocka_unit_test(test_stalling_download_stops),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
