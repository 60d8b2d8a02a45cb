/*
 * `steep serve-files --root DIR [--port 6789]`: the HTTP file server that
 * Teaclave's examples use (its simple_http_server.py), for loopback only.
 *
 * GET streams a file below DIR; PUT writes the request body to a file below
 * DIR (parents created) and answers 200, as the examples expect. One thread
 * per connection, HTTP/1.1 with keep-alive, Content-Length bodies only.
 * Request heads are parsed by http_head.c; paths are percent-decoded and
 * must stay below DIR: "..", NUL and backslashes are refused.
 */
#include "cli.h"
#include "http_head.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_MAX 8192

static char root_dir[PATH_MAX];

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int respond(int fd, int code, const char *reason, const char *body)
{
    char head[256];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n\r\n",
                     code, reason, blen);
    if (write_all(fd, head, (size_t)n) < 0)
        return -1;
    return blen ? write_all(fd, body, blen) : 0;
}

static int make_parents(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + strlen(root_dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static int serve_get(int fd, const char *path, bool head_only)
{
    int file = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (file < 0 || fstat(file, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (file >= 0)
            close(file);
        return respond(fd, 404, "Not Found", "not found\n");
    }
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     (long long)st.st_size);
    int rc = write_all(fd, head, (size_t)n);
    char buf[65536];
    for (off_t left = st.st_size; rc == 0 && !head_only && left > 0;) {
        ssize_t got = read(file, buf, sizeof(buf));
        if (got <= 0) {
            rc = -1;
            break;
        }
        rc = write_all(fd, buf, (size_t)got);
        left -= got;
    }
    close(file);
    return rc;
}

/* Reads exactly `length` body bytes (some may already be buffered) into path. */
static int serve_put(int fd, const char *path, long long length, const char *buffered,
                     size_t nbuffered)
{
    if (length < 0)
        return respond(fd, 411, "Length Required", "Content-Length required\n");
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.part%d", path, (int)gettid());
    int file = -1;
    if (make_parents(path) == 0)
        file = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t take = nbuffered < (size_t)length ? nbuffered : (size_t)length;
    int rc = file < 0 ? -1 : write_all(file, buffered, take);
    long long left = length - (long long)take;
    char buf[65536];
    while (left > 0) {
        ssize_t got = read(fd, buf, left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf));
        if (got <= 0) {
            if (file >= 0) {
                close(file);
                unlink(tmp);
            }
            return -1; /* connection lost mid-body: nothing is kept */
        }
        if (rc == 0)
            rc = write_all(file, buf, (size_t)got);
        left -= got;
    }
    if (file >= 0) {
        if (close(file) < 0)
            rc = -1;
        if (rc == 0 && rename(tmp, path) < 0)
            rc = -1;
        if (rc < 0)
            unlink(tmp);
    }
    if (rc < 0)
        return respond(fd, 500, "Internal Server Error", "cannot write file\n");
    return respond(fd, 200, "OK", "");
}

static void *serve_connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char head[HEADER_MAX + 1];
    size_t have = 0;
    for (;;) {
        char *end = NULL;
        while (!(end = memmem(head, have, "\r\n\r\n", 4))) {
            if (have == HEADER_MAX) {
                respond(fd, 431, "Request Header Fields Too Large", "");
                goto out;
            }
            ssize_t n = read(fd, head + have, HEADER_MAX - have);
            if (n <= 0)
                goto out;
            have += (size_t)n;
        }
        struct cli_http_head request;
        if (cli_http_head_parse(head, (size_t)(end - head), &request) < 0) {
            respond(fd, 400, "Bad Request", "malformed request head\n");
            goto out;
        }
        if (request.transfer_encoding) {
            respond(fd, 501, "Not Implemented", "chunked bodies are not supported\n");
            goto out;
        }
        const char *method = request.method;
        long long length = request.content_length;
        char *body = end + 4;
        size_t nbody = have - (size_t)(body - head);
        char path[PATH_MAX];
        size_t consumed = 0; /* body bytes of this request already in the buffer */
        int rc;
        if (cli_http_path_resolve(root_dir, request.target, path, sizeof(path)) < 0)
            rc = respond(fd, 403, "Forbidden", "path outside the served directory\n");
        else if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
            rc = serve_get(fd, path, method[0] == 'H');
        else if (!strcmp(method, "PUT")) {
            rc = serve_put(fd, path, length, body, nbody);
            consumed = length <= 0 ? 0 : (size_t)length < nbody ? (size_t)length : nbody;
        } else
            rc = respond(fd, 405, "Method Not Allowed", "only GET, HEAD and PUT\n");
        if (rc < 0 || request.close_after)
            goto out;
        /* Keep any pipelined bytes that followed this request. */
        memmove(head, body + consumed, nbody - consumed);
        have = nbody - consumed;
    }
out:
    close(fd);
    return NULL;
}

int cli_serve_files(int argc, char **argv)
{
    const char *root = NULL;
    int port = 6789;
    const char *bind_host = "127.0.0.1";
    if (cli_wants_help(argc, argv)) {
        printf("usage: steep serve-files --root DIR [--port PORT] [--bind ADDR]\n"
               "Serves DIR over HTTP with GET and PUT (loopback by default), as the file\n"
               "server of Teaclave's examples.\n");
        return CLI_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--root") && i + 1 < argc)
            root = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bind") && i + 1 < argc)
            bind_host = argv[++i];
        else {
            cli_error("serve-files: unknown argument '%s' (see --help)", argv[i]);
            return CLI_USAGE;
        }
    }
    if (!root || port <= 0 || port > 65535) {
        cli_error("serve-files: --root DIR is required and --port must be 1-65535");
        return CLI_USAGE;
    }
    if (!realpath(root, root_dir)) {
        cli_error("serve-files: cannot use %s: %s", root, strerror(errno));
        return CLI_FAILED;
    }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind_host, &sa.sin_addr) != 1 ||
        bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 128) < 0) {
        cli_error("serve-files: cannot listen on %s:%d: %s", bind_host, port, strerror(errno));
        return CLI_FAILED;
    }
    fprintf(stderr, "steep serve-files: serving %s on http://%s:%d/\n", root_dir, bind_host, port);
    for (;;) {
        int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
                continue;
            cli_error("serve-files: accept: %s", strerror(errno));
            return CLI_FAILED;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve_connection, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
