/*
 * File agent; see file_agent.h. One thread per file of a batch (at most
 * MAX_PARALLEL at once), each streaming through a 64 KiB buffer or libcurl
 * callbacks into an O_EXCL destination that is removed again on failure.
 *
 * HTTP failures fall in two classes. Transient: no HTTP answer at all
 * (refused, reset, closed, timed out, not HTTP, TLS failure, name not
 * resolved) and the statuses 408, 429 and 5xx; these are retried with
 * exponential backoff (RETRY_*), bounded in attempts and to half of the
 * batch's time limit so the task can still report why. Permanent: any other
 * status, local errors, bad URLs, cancel, the time limit; never retried.
 * Every "no HTTP answer" failure has one text, the same for a closed port
 * and an open one that does not speak HTTP, so a task's error cannot be used
 * to scan ports (libcurl's own texts tell them apart).
 */
#include "file_agent.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

#define MAX_PARALLEL 16
#define COPY_CHUNK   65536
#define NO_ANSWER    "no HTTP response (connection failed or closed by the server)"
/* Retries of transient HTTP failures: at most RETRY_ATTEMPTS attempts,
 * waiting RETRY_FIRST_MS, doubling up to RETRY_MAX_MS, all within
 * RETRY_WINDOW_MS (or half the batch's time limit when that is less). */
#define RETRY_ATTEMPTS  10
#define RETRY_FIRST_MS  100
#define RETRY_MAX_MS    2000
#define RETRY_WINDOW_MS 30000

int steep_file_agent_global_init(void)
{
    ENSURE(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, "cannot initialise libcurl");
    return 0;
}

/* ---- local files -------------------------------------------------------- */

static int create_exclusive(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ENSURE(fd >= 0, "cannot create %s: %s", path, strerror(errno));
    return fd;
}

static int copy_fd(int from, int to)
{
    uint8_t *buf = malloc(COPY_CHUNK);
    ENSURE(buf, "out of memory");
    int rc = 0;
    for (;;) {
        ssize_t n = read(from, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = steep_error_set("read failed: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(to, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = steep_error_set("write failed: %s", strerror(errno));
                break;
            }
            done += w;
        }
        if (rc < 0)
            break;
    }
    free(buf);
    return rc;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    ENSURE(in >= 0, "cannot open %s: %s", from, strerror(errno));
    struct stat st;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return steep_error_set("%s is not a regular file", from);
    }
    int out = create_exclusive(to);
    if (out < 0) {
        close(in);
        return -1;
    }
    int rc = copy_fd(in, out);
    if (rc == 0 && fsync(out) < 0)
        rc = steep_error_set("fsync failed: %s", strerror(errno));
    close(in);
    if (close(out) < 0 && rc == 0)
        rc = steep_error_set("close failed: %s", strerror(errno));
    if (rc < 0)
        unlink(to);
    return rc;
}

static int decode_data_url(const char *url, const char *local)
{
    struct steep_buf data = STEEP_BUF_INIT;
    steep_buf_wipe(&data); /* a task's input */
    int rc = steep_data_url_decode(url, &data);
    int fd = rc == 0 ? create_exclusive(local) : -1;
    if (rc == 0 && fd < 0)
        rc = -1;
    for (size_t done = 0; rc == 0 && done < data.len;) {
        ssize_t n = write(fd, data.data + done, data.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = steep_error_set("write failed: %s", strerror(errno));
        else
            done += (size_t)n;
    }
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = steep_error_set("close failed: %s", strerror(errno));
    if (rc < 0 && fd >= 0)
        unlink(local);
    steep_buf_free(&data);
    return rc;
}

/* ---- http(s) ------------------------------------------------------------ */

struct http_body {
    int fd;
    bool failed;
    int saved_errno;
};

static size_t on_receive(char *data, size_t size, size_t count, void *arg)
{
    struct http_body *body = arg;
    size_t total = size * count;
    for (size_t done = 0; done < total;) {
        ssize_t n = write(body->fd, data + done, total - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            body->failed = true;
            body->saved_errno = errno;
            return 0;
        }
        done += (size_t)n;
    }
    return total;
}

static size_t on_send(char *data, size_t size, size_t count, void *arg)
{
    struct http_body *body = arg;
    for (;;) {
        ssize_t n = read(body->fd, data, size * count);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            body->failed = true;
            body->saved_errno = errno;
            return CURL_READFUNC_ABORT;
        }
        return (size_t)n;
    }
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stops a transfer when its task is canceled or the batch's time is up. */
struct transfer_guard {
    const struct steep_file_agent_options *options;
    int64_t deadline_ms; /* CLOCK_MONOTONIC; 0: none */
    bool canceled;
    bool expired;
};

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct transfer_guard *guard = arg;
    if (guard->options->canceled && guard->options->canceled(guard->options->canceled_arg))
        guard->canceled = true;
    else if (guard->deadline_ms && monotonic_ms() >= guard->deadline_ms)
        guard->expired = true;
    return guard->canceled || guard->expired; /* non-zero aborts the transfer */
}

static CURL *http_handle(const char *url, char *error_text, struct transfer_guard *guard)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return NULL;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    /* Give up on a transfer that stalls below 1 byte/s for a minute. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, guard);
    error_text[0] = 0;
    return curl;
}

/* The failures that mean "no HTTP answer came back", whatever listened. */
static bool no_answer(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_UNSUPPORTED_PROTOCOL: /* e.g. an HTTP/0.9 answer */
        return true;
    default:
        return false;
    }
}

static int curl_failure(CURLcode code, const char *error_text, const struct http_body *body,
                        const struct transfer_guard *guard, bool *transient)
{
    if (guard->canceled)
        return steep_error_set("transfer canceled");
    if (guard->expired)
        return steep_error_set("transfer took longer than the task's time limit");
    if (body->failed)
        return steep_error_set("local file: %s", strerror(body->saved_errno));
    /* libcurl's texts (and the code's description) tell a closed port from
     * an open one: one text for every "no answer". */
    (void)error_text;
    if (no_answer(code)) {
        *transient = true;
        return steep_error_set(NO_ANSWER);
    }
    return steep_error_set("%s", curl_easy_strerror(code));
}

/* Runs the request; the HTTP status goes to *status; *transient says whether
 * a failure (or the status) is worth another attempt. */
static int http_perform(CURL *curl, const char *error_text, const struct http_body *body,
                        const struct transfer_guard *guard, long *status, bool *transient)
{
    CURLcode code = curl_easy_perform(curl);
    *status = 0;
    *transient = false;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    if (code != CURLE_OK)
        return curl_failure(code, error_text, body, guard, transient);
    *transient = *status >= 500 || *status == 408 || *status == 429;
    return 0;
}

static int http_get(const char *url, const char *local, struct transfer_guard *guard,
                    bool *transient)
{
    char error_text[CURL_ERROR_SIZE];
    struct http_body body = {.fd = create_exclusive(local)};
    GUARD(body.fd);
    CURL *curl = http_handle(url, error_text, guard);
    int rc = curl ? 0 : steep_error_set("cannot create an HTTP request");
    if (curl) {
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_receive);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
        long status;
        rc = http_perform(curl, error_text, &body, guard, &status, transient);
        if (rc == 0 && status >= 400)
            rc = steep_error_set("HTTP status %ld", status);
        curl_easy_cleanup(curl);
    }
    if (rc == 0 && fsync(body.fd) < 0)
        rc = steep_error_set("fsync failed: %s", strerror(errno));
    close(body.fd);
    if (rc < 0)
        unlink(local);
    return rc;
}

static size_t discard(char *data, size_t size, size_t count, void *arg)
{
    (void)data, (void)arg;
    return size * count;
}

static int http_put(const char *url, const char *local, struct transfer_guard *guard,
                    bool *transient)
{
    char error_text[CURL_ERROR_SIZE];
    struct http_body body = {.fd = open(local, O_RDONLY | O_CLOEXEC)};
    struct stat st;
    ENSURE(body.fd >= 0, "cannot open %s: %s", local, strerror(errno));
    if (fstat(body.fd, &st) < 0) {
        close(body.fd);
        return steep_error_set("cannot stat %s: %s", local, strerror(errno));
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/x-binary");
    headers = headers ? curl_slist_append(headers, "Expect:") : NULL;
    CURL *curl = headers ? http_handle(url, error_text, guard) : NULL;
    int rc = curl ? 0 : steep_error_set("cannot create an HTTP request");
    if (curl) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_send);
        curl_easy_setopt(curl, CURLOPT_READDATA, &body);
        /* The answer's body is not ours to print (libcurl's default: stdout). */
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        long status;
        rc = http_perform(curl, error_text, &body, guard, &status, transient);
        if (rc == 0 && status != 200)
            rc = steep_error_set("HTTP status %ld (only 200 counts as success)", status);
        curl_easy_cleanup(curl);
    }
    curl_slist_free_all(headers);
    close(body.fd);
    return rc;
}

/* Waits ms unless the task is canceled meanwhile (then -1). */
static int backoff_wait(struct transfer_guard *guard, int64_t ms)
{
    int64_t until = monotonic_ms() + ms;
    for (int64_t now = monotonic_ms(); now < until; now = monotonic_ms()) {
        if (guard->options->canceled && guard->options->canceled(guard->options->canceled_arg))
            return -1;
        int64_t step = until - now < 50 ? until - now : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

typedef int (*http_attempt_fn)(const char *url, const char *local, struct transfer_guard *guard,
                               bool *transient);

/* Runs attempt until it succeeds, fails permanently, or the retries are
 * spent (attempts, window); the last attempt's error stays set. */
static int with_retries(http_attempt_fn attempt, const struct steep_file_transfer *file,
                        struct transfer_guard *guard)
{
    int64_t start = monotonic_ms(), window = RETRY_WINDOW_MS;
    if (guard->deadline_ms && (guard->deadline_ms - start) / 2 < window)
        window = (guard->deadline_ms - start) / 2;
    int64_t wait = RETRY_FIRST_MS;
    for (int n = 1;; n++) {
        bool transient = false;
        int rc = attempt(file->url, file->local, guard, &transient);
        if (rc == 0 || !transient || n >= RETRY_ATTEMPTS || monotonic_ms() + wait > start + window)
            return rc;
        char reason[STEEP_ERROR_MAX];
        snprintf(reason, sizeof reason, "%s", steep_error_get());
        if (backoff_wait(guard, wait) < 0)
            return steep_error_set("transfer canceled");
        steep_error_set("%s", reason);
        wait = wait * 2 < RETRY_MAX_MS ? wait * 2 : RETRY_MAX_MS;
    }
}

/* ---- dispatch ----------------------------------------------------------- */

static bool has_scheme(const char *url, const char *scheme)
{
    size_t n = strlen(scheme);
    return strncasecmp(url, scheme, n) == 0 && url[n] == ':';
}

static int download_one(const struct steep_file_transfer *file, struct transfer_guard *guard)
{
    char path[4096];
    const char *fusion_base = guard->options->fusion_base;
    if (has_scheme(file->url, "http") || has_scheme(file->url, "https"))
        return with_retries(http_get, file, guard);
    if (has_scheme(file->url, "file")) {
        ENSURE(guard->options->allow_file_urls, "file:// URLs are disabled on this platform");
        GUARD(steep_file_url_path(file->url, path, sizeof path));
        return copy_file(path, file->local);
    }
    if (has_scheme(file->url, "fusion")) {
        GUARD(steep_fusion_url_path(file->url, fusion_base, path, sizeof path));
        return copy_file(path, file->local);
    }
    if (has_scheme(file->url, "data"))
        return decode_data_url(file->url, file->local);
    return steep_error_set("Scheme not supported");
}

static int make_parent_dirs(const char *path)
{
    char dir[4096];
    ENSURE(strlen(path) < sizeof dir, "path too long");
    strcpy(dir, path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST, "cannot create %s: %s", dir,
               strerror(errno));
        *p = '/';
    }
    return 0;
}

static int upload_one(const struct steep_file_transfer *file, struct transfer_guard *guard)
{
    char path[4096];
    const char *fusion_base = guard->options->fusion_base;
    if (has_scheme(file->url, "http") || has_scheme(file->url, "https"))
        return with_retries(http_put, file, guard);
    if (has_scheme(file->url, "file")) {
        ENSURE(guard->options->allow_file_urls, "file:// URLs are disabled on this platform");
        GUARD(steep_file_url_path(file->url, path, sizeof path));
        return copy_file(file->local, path);
    }
    if (has_scheme(file->url, "fusion")) {
        GUARD(steep_fusion_url_path(file->url, fusion_base, path, sizeof path));
        GUARD(make_parent_dirs(path));
        return copy_file(file->local, path);
    }
    return steep_error_set("Scheme not supported");
}

struct job {
    const struct steep_file_transfer *file;
    struct transfer_guard guard;
    bool upload;
    int rc;
    char error[STEEP_ERROR_MAX];
    pthread_t thread;
    bool started;
};

static void *run_job(void *arg)
{
    struct job *job = arg;
    char redacted[512];
    job->rc =
        job->upload ? upload_one(job->file, &job->guard) : download_one(job->file, &job->guard);
    if (job->rc < 0) {
        steep_url_redact(job->file->url, redacted, sizeof redacted);
        steep_error_wrap("failed to %s %s", job->upload ? "upload" : "download", redacted);
        size_t len = strnlen(steep_error_get(), sizeof job->error - 1);
        memcpy(job->error, steep_error_get(), len);
        job->error[len] = 0;
    }
    return NULL;
}

static int run_batch(const struct steep_file_transfer *files, size_t n,
                     const struct steep_file_agent_options *options, bool upload)
{
    static const struct steep_file_agent_options defaults = {0};
    if (!options)
        options = &defaults;
    int64_t deadline =
        options->timeout_seconds ? monotonic_ms() + (int64_t)options->timeout_seconds * 1000 : 0;
    struct job *jobs = calloc(n ? n : 1, sizeof *jobs);
    ENSURE(jobs, "out of memory");
    for (size_t start = 0; start < n; start += MAX_PARALLEL) {
        size_t end = start + MAX_PARALLEL < n ? start + MAX_PARALLEL : n;
        for (size_t i = start; i < end; i++) {
            jobs[i] = (struct job){
                .file = &files[i], .guard = {options, deadline, false, false}, .upload = upload};
            jobs[i].started =
                end - start > 1 && pthread_create(&jobs[i].thread, NULL, run_job, &jobs[i]) == 0;
            if (!jobs[i].started)
                run_job(&jobs[i]);
        }
        for (size_t i = start; i < end; i++)
            if (jobs[i].started)
                pthread_join(jobs[i].thread, NULL);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (jobs[i].rc < 0)
            rc = steep_error_set("%s", jobs[i].error);
    free(jobs);
    return rc;
}

int steep_file_agent_download(const struct steep_file_transfer *files, size_t n,
                              const struct steep_file_agent_options *options)
{
    return run_batch(files, n, options, false);
}

int steep_file_agent_upload(const struct steep_file_transfer *files, size_t n,
                            const struct steep_file_agent_options *options)
{
    return run_batch(files, n, options, true);
}
