/*
 * A service's admin port: a minimal HTTP/1.x server on the loopback
 * interface only, for the operator's tools (Prometheus, `steep metrics`,
 * `steep status`). It serves exactly two resources:
 *   GET /metrics  Prometheus text format (lib/core/metrics plus the
 *                 process's resident memory and open descriptors)
 *   GET /healthz  200 "SERVING" or 503 "NOT_SERVING", the same state the
 *                 gRPC health check reports
 * and answers anything else 404 / 405 / 400 / 431. It is bounded: one
 * connection is served at a time (the rest wait in a short backlog), a
 * request is at most 4 KiB and must arrive within 2 s, an answer must be
 * taken within 5 s, then the connection is closed.
 */
#ifndef STEEP_SERVICE_ADMIN_HTTP_H
#define STEEP_SERVICE_ADMIN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct steep_admin_http;

/* listen: "127.0.0.1:PORT", "localhost:PORT" or "[::1]:PORT" (port 0 picks
 * one); anything not loopback is refused. serving(arg) answers /healthz. */
struct steep_admin_http *steep_admin_http_start(const char *address, bool (*serving)(void *arg),
                                                void *arg);
int steep_admin_http_port(const struct steep_admin_http *admin);

/* What a request head (its bytes up to the blank line) asks for. */
enum steep_admin_http_route {
    STEEP_ADMIN_HTTP_METRICS,
    STEEP_ADMIN_HTTP_HEALTHZ,
    STEEP_ADMIN_HTTP_NOT_FOUND,   /* 404 */
    STEEP_ADMIN_HTTP_BAD_METHOD,  /* 405 */
    STEEP_ADMIN_HTTP_BAD_REQUEST, /* 400 */
};
enum steep_admin_http_route steep_admin_http_route(const void *head, size_t len);
void steep_admin_http_stop(struct steep_admin_http *admin);

#endif
