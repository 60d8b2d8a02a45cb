/*
 * The admin port (see admin_http.h). One thread accepts and serves
 * connections one after the other with blocking sockets and socket
 * timeouts: the port is loopback-only and for a handful of scrapers, so a
 * sequential server is enough, and it bounds everything at once (one
 * connection, one request buffer, one answer). A pipe wakes the thread to
 * stop.
 */
#include "service/admin_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "service/process_metrics.h"

#define REQUEST_MAX        4096
#define RECEIVE_TIMEOUT_MS 2000
#define SEND_TIMEOUT_MS    5000

struct steep_admin_http {
    int listen_fd;
    int wake[2];
    int port;
    bool running;
    pthread_t thread;
    bool (*serving)(void *arg);
    void *arg;
};

static int64_t now_ms(void)
{
    return (int64_t)(steep_metrics_now_us() / 1000);
}

/* Splits "host:port" / "[v6]:port" and checks the host is loopback. */
static int parse_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    ENSURE(colon && colon != listen, "admin address '%s' is not host:port", listen);
    size_t host_len = (size_t)(colon - listen);
    ENSURE(host_len < sizeof host, "admin address '%s' is too long", listen);
    memcpy(host, listen, host_len);
    host[host_len] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    ENSURE(*end == '\0' && colon[1] && port >= 0 && port <= 65535, "admin address '%s': bad port",
           listen);
    memset(addr, 0, sizeof(*addr));
    if (!strcmp(host, "127.0.0.1") || !strcmp(host, "localhost")) {
        struct sockaddr_in *in = (struct sockaddr_in *)addr;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(*in);
    } else if (!strcmp(host, "[::1]") || !strcmp(host, "::1")) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        in6->sin6_addr = in6addr_loopback;
        *len = sizeof(*in6);
    } else {
        return steep_error_set("admin address '%s' must be on the loopback interface "
                               "(127.0.0.1, localhost or [::1]): it serves metrics unauthenticated",
                               listen);
    }
    return 0;
}

static int send_all(int fd, const void *data, size_t len, int64_t deadline_ms)
{
    const char *p = data;
    while (len > 0) {
        if (now_ms() > deadline_ms)
            return -1;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void respond(int fd, int code, const char *reason, const char *type, const void *body,
                    size_t body_len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\nCache-Control: no-store\r\n\r\n",
                     code, reason, type, body_len);
    int64_t deadline = now_ms() + SEND_TIMEOUT_MS;
    if (send_all(fd, head, (size_t)n, deadline) == 0 && body_len)
        send_all(fd, body, body_len, deadline);
}

static void respond_text(int fd, int code, const char *reason, const char *text)
{
    respond(fd, code, reason, "text/plain; charset=utf-8", text, strlen(text));
}

static void serve_metrics(struct steep_admin_http *admin, int fd)
{
    struct steep_buf body = STEEP_BUF_INIT;
    steep_metrics_gauge("steep_health_serving",
                        "1 while the service answers SERVING to health checks", NULL,
                        admin->serving(admin->arg) ? 1 : 0);
    if (steep_process_metrics_render(&body) < 0 || steep_metrics_render(&body) < 0)
        respond_text(fd, 500, "Internal Server Error", "out of memory\n");
    else
        respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body.data, body.len);
    steep_buf_free(&body);
}

/* Reads the request head (up to the blank line). Returns its length, 0 when
 * the peer went away or was too slow, -1 when it is larger than allowed. */
static ssize_t read_head(int fd, char *buf, size_t room)
{
    size_t len = 0;
    int64_t deadline = now_ms() + RECEIVE_TIMEOUT_MS;
    while (len < room) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return 0;
        ssize_t n = recv(fd, buf + len, room - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        len += (size_t)n;
        if (memmem(buf, len, "\r\n\r\n", 4) || memmem(buf, len, "\n\n", 2))
            return (ssize_t)len;
    }
    return -1;
}

/* The next token of the request line, up to a space or the line's end:
 * visible ASCII only (a NUL would end the C string early). */
static bool read_token(struct steep_cursor *line, char *out, size_t room)
{
    size_t n = 0;
    uint8_t c;
    while (steep_cursor_remaining(line) > 0) {
        if (steep_cursor_read_u8(line, &c) < 0 || c == ' ')
            break;
        if (c < 0x21 || c >= 0x7f || n + 1 >= room) /* controls, NUL, non-ASCII */
            return false;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return n > 0;
}

enum steep_admin_http_route steep_admin_http_route(const void *head, size_t len)
{
    const char *end = memchr(head, '\n', len);
    if (!end)
        return STEEP_ADMIN_HTTP_BAD_REQUEST;
    size_t line_len = (size_t)(end - (const char *)head);
    if (line_len && ((const char *)head)[line_len - 1] == '\r')
        line_len--;
    struct steep_cursor line = steep_cursor_make(head, line_len);
    char method[16], path[64], version[16];
    if (!read_token(&line, method, sizeof method) || !read_token(&line, path, sizeof path) ||
        !read_token(&line, version, sizeof version) || steep_cursor_remaining(&line) ||
        strncmp(version, "HTTP/1.", 7) || strlen(version) != 8)
        return STEEP_ADMIN_HTTP_BAD_REQUEST;
    if (strcmp(method, "GET"))
        return STEEP_ADMIN_HTTP_BAD_METHOD;
    if (!strcmp(path, "/metrics"))
        return STEEP_ADMIN_HTTP_METRICS;
    if (!strcmp(path, "/healthz"))
        return STEEP_ADMIN_HTTP_HEALTHZ;
    return STEEP_ADMIN_HTTP_NOT_FOUND;
}

static void serve_one(struct steep_admin_http *admin, int fd)
{
    char request[REQUEST_MAX];
    ssize_t len = read_head(fd, request, sizeof request);
    if (len < 0) {
        respond_text(fd, 431, "Request Header Fields Too Large", "request too large\n");
        return;
    }
    if (len == 0)
        return;
    switch (steep_admin_http_route(request, (size_t)len)) {
    case STEEP_ADMIN_HTTP_METRICS:
        serve_metrics(admin, fd);
        break;
    case STEEP_ADMIN_HTTP_HEALTHZ:
        if (admin->serving(admin->arg))
            respond_text(fd, 200, "OK", "SERVING\n");
        else
            respond_text(fd, 503, "Service Unavailable", "NOT_SERVING\n");
        break;
    case STEEP_ADMIN_HTTP_NOT_FOUND:
        respond_text(fd, 404, "Not Found", "only /metrics and /healthz\n");
        break;
    case STEEP_ADMIN_HTTP_BAD_METHOD:
        respond_text(fd, 405, "Method Not Allowed", "only GET\n");
        break;
    default:
        respond_text(fd, 400, "Bad Request", "bad request\n");
    }
}

static void *admin_thread(void *arg)
{
    struct steep_admin_http *admin = arg;
    struct pollfd fds[2] = {{.fd = admin->listen_fd, .events = POLLIN},
                            {.fd = admin->wake[0], .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents)
            break;
        if (!(fds[0].revents & POLLIN))
            continue;
        int fd = accept4(admin->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                poll(NULL, 0, 100); /* out of descriptors: do not spin */
            continue;
        }
        serve_one(admin, fd);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

struct steep_admin_http *steep_admin_http_start(const char *address, bool (*serving)(void *arg),
                                                void *arg)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    if (parse_listen(address, &addr, &addr_len) < 0)
        return NULL;
    struct steep_admin_http *admin = calloc(1, sizeof(*admin));
    if (!admin) {
        steep_error_set("out of memory");
        return NULL;
    }
    admin->serving = serving;
    admin->arg = arg;
    admin->wake[0] = admin->wake[1] = -1;
    admin->listen_fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (admin->listen_fd < 0 ||
        setsockopt(admin->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(admin->listen_fd, (struct sockaddr *)&addr, addr_len) < 0 ||
        listen(admin->listen_fd, 16) < 0 || pipe2(admin->wake, O_CLOEXEC) < 0) {
        steep_error_set("admin port %s: %s", address, strerror(errno));
        steep_admin_http_stop(admin);
        return NULL;
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    getsockname(admin->listen_fd, (struct sockaddr *)&bound, &bound_len);
    admin->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    if (pthread_create(&admin->thread, NULL, admin_thread, admin) != 0) {
        steep_error_set("admin port: cannot start its thread");
        steep_admin_http_stop(admin);
        return NULL;
    }
    admin->running = true;
    return admin;
}

int steep_admin_http_port(const struct steep_admin_http *admin)
{
    return admin->port;
}

void steep_admin_http_stop(struct steep_admin_http *admin)
{
    if (!admin)
        return;
    if (admin->running) {
        ssize_t ignored = write(admin->wake[1], "x", 1);
        (void)ignored;
        pthread_join(admin->thread, NULL);
    }
    if (admin->listen_fd >= 0)
        close(admin->listen_fd);
    if (admin->wake[0] >= 0)
        close(admin->wake[0]);
    if (admin->wake[1] >= 0)
        close(admin->wake[1]);
    free(admin);
}
