/*
 * `steep metrics SERVICE`: prints a service's Prometheus metrics, read from
 * its admin port (lib/service/admin_http.c). Under `steep up` each process
 * publishes the port it chose in DIR/run/NAME.admin; a service configured
 * by hand ([admin] NAME = "127.0.0.1:PORT") is reached with --address.
 * Also the admin-port client `steep status` asks for /healthz.
 */
#include "cli.h"
#include "platform.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ANSWER_MAX (16u << 20)

int platform_admin_port(const char *dir, const char *name)
{
    int port = platform_run_number(dir, name, "admin");
    return port > 0 && port <= 65535 ? port : -1;
}

/* Reads the whole answer (the server closes after it); NULL on failure. */
static char *read_answer(int fd, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= ANSWER_MAX)
                break;
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger)
                break;
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = recv(fd, buf + n, cap - n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        if (got == 0) {
            buf[n] = '\0';
            *len = n;
            return buf;
        }
        n += (size_t)got;
    }
    free(buf);
    return NULL;
}

int platform_admin_get(int port, const char *path, char **body, int *code)
{
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval timeout = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char request[128];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    size_t len = 0;
    char *answer = NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        send(fd, request, (size_t)n, MSG_NOSIGNAL) == n)
        answer = read_answer(fd, &len);
    close(fd);
    if (!answer)
        return -1;
    char *head_end = strstr(answer, "\r\n\r\n");
    if (!head_end || sscanf(answer, "HTTP/1.%*d %d", code) != 1) {
        free(answer);
        return -1;
    }
    size_t start = (size_t)(head_end + 4 - answer);
    memmove(answer, answer + start, len - start + 1);
    *body = answer;
    return 0;
}

/* "127.0.0.1:PORT" / "localhost:PORT": the port, or -1. */
static int loopback_port(const char *address)
{
    const char *colon = strrchr(address, ':');
    if (!colon || (strncmp(address, "127.0.0.1:", 10) && strncmp(address, "localhost:", 10)))
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return *end || port <= 0 || port > 65535 ? -1 : (int)port;
}

static bool known_process(const char *name)
{
    for (size_t i = 0; i < platform_n_services; i++)
        if (!strcmp(platform_services[i].name, name))
            return true;
    int n = 0, end = 0;
    return sscanf(name, "execution-%d%n", &n, &end) == 1 && !name[end] && n >= 1 &&
           n <= PLATFORM_MAX_PROCESSES;
}

int cli_metrics(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: steep metrics SERVICE [--dir DIR]   (default: $STEEP_DIR)\n"
               "       steep metrics --address 127.0.0.1:PORT\n"
               "Prints a service's metrics (Prometheus text format) from its loopback-only\n"
               "admin port. SERVICE: storage, access-control, authentication, management,\n"
               "scheduler, frontend, execution-N.\n");
        return CLI_OK;
    }
    const char *dir = getenv("STEEP_DIR"), *service = NULL, *address = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--address") && i + 1 < argc)
            address = argv[++i];
        else if (argv[i][0] != '-' && !service)
            service = argv[i];
        else {
            cli_error("metrics: unexpected argument '%s' (see steep metrics --help)", argv[i]);
            return CLI_USAGE;
        }
    }
    int port = -1;
    if (address) {
        if (service || (port = loopback_port(address)) < 0) {
            cli_error("metrics: --address must be 127.0.0.1:PORT or localhost:PORT, without a "
                      "SERVICE");
            return CLI_USAGE;
        }
    } else {
        if (!service || !known_process(service)) {
            cli_error("metrics: %s%s%s (see steep metrics --help)",
                      service ? "unknown service '" : "which service?", service ? service : "",
                      service ? "'" : "");
            return CLI_USAGE;
        }
        if (!dir || !*dir) {
            cli_error("metrics: no platform directory (--dir DIR or $STEEP_DIR)");
            return CLI_USAGE;
        }
        if ((port = platform_admin_port(dir, service)) < 0) {
            cli_error("metrics: %s has no admin port in %s/run (is it running under steep up?)",
                      service, dir);
            return CLI_UNREACHABLE;
        }
    }
    char *body = NULL;
    int code = 0;
    if (platform_admin_get(port, "/metrics", &body, &code) < 0) {
        cli_error("metrics: no answer from the admin port 127.0.0.1:%d", port);
        return CLI_UNREACHABLE;
    }
    int rc = code == 200 ? CLI_OK : CLI_FAILED;
    if (code == 200)
        fputs(body, stdout);
    else
        cli_error("metrics: the admin port answered HTTP %d", code);
    free(body);
    return rc;
}
