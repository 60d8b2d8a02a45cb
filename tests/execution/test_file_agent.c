/* File agent: data:, file://, fusion (with ".." refused), http GET/PUT
 * against a local Python server (404, redirect, 201 refused, redaction of
 * presigned query strings), unsupported schemes, parallel downloads; against
 * a scripted in-process server: one error text for a closed port and open
 * ports that do not answer HTTP (no port oracle), transient failures (server
 * not up yet, 503) retried within the time limit, permanent ones (404) not. */
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

/* ---- a scripted server on 127.0.0.1 ---- */

/* Answers connection i with replies[i] ("" closes at once without reading,
 * NULL ends the script), after reading the request (head and
 * Content-Length body). Listens only after delay_ms when set (a server not
 * up yet). */
struct scripted {
    int port;
    int delay_ms;
    const char *const *replies;
    int served; /* connections answered */
    int listener;
    pthread_t thread;
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void read_request(int fd)
{
    char buf[8192];
    size_t have = 0;
    long body = -1;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            return;
        have += (size_t)n;
        buf[have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end && body < 0) {
            char *cl = strcasestr(buf, "content-length:");
            body = cl && cl < end ? strtol(cl + 15, NULL, 10) : 0;
        }
        if (end && (long)(have - (size_t)(end + 4 - buf)) >= body)
            return;
        if (have == sizeof buf - 1)
            have = 0; /* drain a large body */
    }
}

static void *scripted_main(void *arg)
{
    struct scripted *s = arg;
    if (s->delay_ms)
        usleep((useconds_t)s->delay_ms * 1000);
    if (s->listener < 0)
        s->listener = listen_on(s->port);
    for (int i = 0; s->listener >= 0 && s->replies[i]; i++) {
        int fd = accept(s->listener, NULL, NULL);
        if (fd < 0)
            break;
        if (*s->replies[i]) {
            read_request(fd);
            ssize_t w = write(fd, s->replies[i], strlen(s->replies[i]));
            (void)w;
        }
        __atomic_add_fetch(&s->served, 1, __ATOMIC_SEQ_CST);
        close(fd);
    }
    return NULL;
}

static void scripted_start(struct scripted *s, int delay_ms, const char *const *replies)
{
    *s = (struct scripted){.port = free_port(), .delay_ms = delay_ms, .replies = replies};
    s->listener = delay_ms ? -1 : listen_on(s->port);
    assert_true(delay_ms || s->listener >= 0);
    assert_int_equal(pthread_create(&s->thread, NULL, scripted_main, s), 0);
}

/* Ends the script (a connection unblocks a pending accept). */
static void scripted_stop(struct scripted *s)
{
    pthread_cancel(s->thread);
    pthread_join(s->thread, NULL);
    if (s->listener >= 0)
        close(s->listener);
}

#define OK_HELLO "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
#define UNAVAILABLE                                                                                \
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define NOT_FOUND "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

/* The error text after the URL of a failed download from port. */
static const char *failure_after_url(int port, const char *local, char *out, size_t size)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/in.bin", port);
    struct steep_file_transfer t = {url, local};
    struct steep_file_agent_options options = {.timeout_seconds = 2};
    assert_int_equal(steep_file_agent_download(&t, 1, &options), -1);
    const char *at_url = strstr(steep_error_get(), url);
    assert_non_null(at_url);
    snprintf(out, size, "%s", at_url + strlen(url));
    return out;
}

/* Issue 14 item 18: a closed port, a port that closes at once, and a port
 * that answers something other than HTTP give the same text. */
static void test_no_port_oracle(void **state)
{
    struct fixture *f = *state;
    static const char *const closes[] = {"", "", "", "", "", "", "", "", "", "", NULL};
    static const char *const garbage[] = {"SSH-2.0-OpenSSH_9.2\r\n",
                                          "SSH-2.0-OpenSSH_9.2\r\n",
                                          "SSH-2.0-OpenSSH_9.2\r\n",
                                          "SSH-2.0-OpenSSH_9.2\r\n",
                                          "SSH-2.0-OpenSSH_9.2\r\n",
                                          "SSH-2.0-OpenSSH_9.2\r\n",
                                          "SSH-2.0-OpenSSH_9.2\r\n",
                                          "SSH-2.0-OpenSSH_9.2\r\n",
                                          "SSH-2.0-OpenSSH_9.2\r\n",
                                          "SSH-2.0-OpenSSH_9.2\r\n",
                                          NULL};
    char closed[512], closing[512], other[512];
    failure_after_url(free_port(), at(f, 0, "closed"), closed, sizeof closed);
    struct scripted s;
    scripted_start(&s, 0, closes);
    failure_after_url(s.port, at(f, 1, "closing"), closing, sizeof closing);
    scripted_stop(&s);
    scripted_start(&s, 0, garbage);
    failure_after_url(s.port, at(f, 2, "other"), other, sizeof other);
    scripted_stop(&s);
    assert_string_equal(closing, closed);
    assert_string_equal(other, closed);
    assert_null(strstr(closed, "onnect to")); /* not libcurl's "Couldn't connect to server" */
    assert_false(test_file_exists(at(f, 0, "closed")));
}

/* Issue 14 item 19: a server that comes up 600 ms late, and one answering
 * 503 twice, are retried until the file arrives; a 404 is not retried;
 * retries stop within the time limit. */
static void test_transient_failures_retried(void **state)
{
    struct fixture *f = *state;
    static const char *const late[] = {OK_HELLO, NULL};
    static const char *const flaky[] = {UNAVAILABLE, UNAVAILABLE, OK_HELLO, NULL};
    static const char *const missing[] = {NOT_FOUND, OK_HELLO, NULL};
    struct steep_file_agent_options options = {.timeout_seconds = 20};
    char url[128];
    struct scripted s;

    scripted_start(&s, 600, late);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/late.bin", s.port);
    struct steep_file_transfer t = {url, at(f, 0, "late")};
    assert_int_equal(steep_file_agent_download(&t, 1, &options), 0);
    scripted_stop(&s);
    size_t len;
    char *got = test_read_file(at(f, 0, "late"), &len);
    assert_non_null(got);
    assert_string_equal(got, "hello");
    free(got);

    scripted_start(&s, 0, flaky);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/flaky.bin", s.port);
    t = (struct steep_file_transfer){url, at(f, 1, "flaky")};
    assert_int_equal(steep_file_agent_download(&t, 1, &options), 0);
    assert_int_equal(s.served, 3);
    scripted_stop(&s);

    /* An upload answered 503 once is sent again. */
    test_write_file(at(f, 2, "up"), "payload", 7);
    static const char *const flaky_put[] = {UNAVAILABLE, OK_HELLO, NULL};
    scripted_start(&s, 0, flaky_put);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/up.bin", s.port);
    t = (struct steep_file_transfer){url, at(f, 2, "up")};
    assert_int_equal(steep_file_agent_upload(&t, 1, &options), 0);
    assert_int_equal(s.served, 2);
    scripted_stop(&s);

    scripted_start(&s, 0, missing);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing.bin", s.port);
    t = (struct steep_file_transfer){url, at(f, 3, "missing")};
    assert_int_equal(steep_file_agent_download(&t, 1, &options), -1);
    assert_non_null(strstr(steep_error_get(), "HTTP status 404"));
    usleep(300 * 1000); /* a retry would come within 100 ms */
    assert_int_equal(__atomic_load_n(&s.served, __ATOMIC_SEQ_CST), 1);
    scripted_stop(&s);

    /* Always 503 with a 2 s limit: retried, then given up within the limit. */
    static const char *const down[] = {UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE,
                                       UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE,
                                       UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, NULL};
    scripted_start(&s, 0, down);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/down.bin", s.port);
    t = (struct steep_file_transfer){url, at(f, 4, "down")};
    options.timeout_seconds = 2;
    double start = now_seconds();
    assert_int_equal(steep_file_agent_download(&t, 1, &options), -1);
    double elapsed = now_seconds() - start;
    assert_non_null(strstr(steep_error_get(), "HTTP status 503"));
    assert_true(s.served >= 3 && s.served <= 10);
    assert_true(elapsed < 2.0);
    assert_false(test_file_exists(at(f, 4, "down")));
    scripted_stop(&s);
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
        cmocka_unit_test(test_no_port_oracle),
        cmocka_unit_test(test_transient_failures_retried),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
