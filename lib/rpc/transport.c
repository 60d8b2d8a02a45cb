/*
 * Moving HTTP/2 bytes between an nghttp2 session and a non-blocking TLS
 * socket. Reads drain the socket into the session; writes serialize frames
 * into one output buffer and push it through SSL_write, remembering when the
 * socket is full so the loop waits for EPOLLOUT. Output is serialized only
 * while less than OUT_HIGH bytes wait, which keeps memory bounded when a
 * peer reads slowly.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "rpc/internal.h"

#define OUT_HIGH (256 * 1024)

int64_t steep_rpc_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void ignore_sigpipe_once(void)
{
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

/* OpenSSL writes to sockets with write(2): a peer that went away must give
 * EPIPE, not kill the process. Only a default disposition is changed. */
void steep_rpc_ignore_sigpipe(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ignore_sigpipe_once);
}

/* Why the TLS connection failed: OpenSSL's reason (e.g. an alert the peer
 * sent), else errno's. After a failed write, a pending alert from the peer
 * (a refused certificate) is read first, since it is the real cause. */
static int transport_error(struct steep_rpc_transport *transport, int error, bool writing)
{
    int saved_errno = errno;
    if (error == SSL_ERROR_ZERO_RETURN)
        return steep_error_set("connection closed by peer");
    unsigned long detail = ERR_get_error();
    if (!detail && writing) {
        uint8_t scratch[256];
        ERR_clear_error();
        if (SSL_read(transport->ssl, scratch, sizeof(scratch)) <= 0)
            detail = ERR_get_error();
    }
    ERR_clear_error();
    if (detail) {
        char text[256];
        ERR_error_string_n(detail, text, sizeof(text));
        return steep_error_set("%s", text);
    }
    if (error == SSL_ERROR_SYSCALL && saved_errno)
        return steep_error_set("%s", strerror(saved_errno));
    return steep_error_set("connection closed");
}

int steep_rpc_transport_read(struct steep_rpc_transport *transport, nghttp2_session *session)
{
    uint8_t data[16384];
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int n = SSL_read(transport->ssl, data, sizeof(data));
        if (n <= 0) {
            int error = SSL_get_error(transport->ssl, n);
            if (error == SSL_ERROR_WANT_READ)
                return 0;
            if (error == SSL_ERROR_WANT_WRITE) {
                transport->want_write = true;
                return 0;
            }
            return transport_error(transport, error, false);
        }
        ssize_t used = nghttp2_session_mem_recv(session, data, (size_t)n);
        ENSURE(used == n, "HTTP/2 protocol error: %s", nghttp2_strerror((int)used));
    }
}

static int write_out(struct steep_rpc_transport *transport)
{
    while (transport->out_pos < transport->out.len) {
        ERR_clear_error();
        errno = 0;
        int n = SSL_write(transport->ssl, transport->out.data + transport->out_pos,
                          (int)(transport->out.len - transport->out_pos));
        if (n <= 0) {
            int error = SSL_get_error(transport->ssl, n);
            if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
                transport->want_write = true;
                return 0;
            }
            return transport_error(transport, error, true);
        }
        transport->out_pos += (size_t)n;
    }
    transport->out.len = transport->out_pos = 0;
    return 0;
}

int steep_rpc_transport_flush(struct steep_rpc_transport *transport, nghttp2_session *session)
{
    transport->want_write = false;
    for (;;) {
        while (transport->out.len - transport->out_pos < OUT_HIGH) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(session, &data);
            ENSURE(n >= 0, "HTTP/2 send error: %s", nghttp2_strerror((int)n));
            if (n == 0)
                break;
            GUARD(steep_buf_append(&transport->out, data, (size_t)n));
        }
        if (transport->out.len == transport->out_pos)
            return 0;
        if (transport->fd < 0) { /* in-memory transport: output is dropped */
            transport->out.len = transport->out_pos = 0;
            continue;
        }
        GUARD(write_out(transport));
        if (transport->want_write)
            return 0;
    }
}

size_t steep_rpc_copy_out(const struct steep_buf *source, size_t *sent, uint8_t *out, size_t length)
{
    size_t left = source->len - *sent;
    size_t n = left < length ? left : length;
    if (n)
        memcpy(out, source->data + *sent, n);
    *sent += n;
    return n;
}

int steep_rpc_resolve(const char *address, bool passive, struct sockaddr_storage *addr,
                      socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    ENSURE(colon && colon != address && (size_t)(colon - address) < sizeof(host),
           "address '%s' is not host:port", address);
    size_t host_len = (size_t)(colon - address);
    if (address[0] == '[' && colon[-1] == ']') { /* [v6]:port */
        memcpy(host, address + 1, host_len - 2);
        host[host_len - 2] = '\0';
    } else {
        memcpy(host, address, host_len);
        host[host_len] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (passive)
        hints.ai_flags = AI_PASSIVE;
    struct addrinfo *result = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &result);
    ENSURE(rc == 0 && result, "cannot resolve '%s': %s", address, gai_strerror(rc));
    memcpy(addr, result->ai_addr, result->ai_addrlen);
    *len = result->ai_addrlen;
    freeaddrinfo(result);
    return 0;
}
