/*
 * The client's event-loop thread: it owns the connection. It connects on
 * demand (non-blocking connect + TLS handshake, bounded by the connect
 * timeout), starts the streams of submitted calls, reads responses,
 * enforces deadlines (RST_STREAM CANCEL + DEADLINE_EXCEEDED) and completes
 * calls. When the connection fails, every call that depended on it gets
 * UNAVAILABLE with the reason, and the next call connects again. After a
 * GOAWAY, new calls wait for the old connection to drain, then reconnect; a
 * stream the server refused unprocessed (REFUSED_STREAM) is retried once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

#include "rpc/client_internal.h"

#define STREAM_WINDOW     (1 << 20)
#define CONNECTION_WINDOW (16 << 20)

/* ---- completing calls ---- */

void steep_rpc_client_call_complete(struct client_call *call, int code, const char *fmt, ...)
{
    call->code = code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(call->message, sizeof(call->message), fmt, ap);
        va_end(ap);
    }
    struct steep_rpc_client *client = call->client;
    if (client)
        atomic_fetch_sub(&client->pending, 1);
    if (call->on_done) {
        call->on_done(call);
        return;
    }
    pthread_mutex_lock(&call->lock);
    call->done = true;
    pthread_cond_signal(&call->cond);
    pthread_mutex_unlock(&call->lock);
}

static void waiting_push(struct steep_rpc_client *client, struct client_call *call)
{
    call->next = NULL;
    if (client->waiting_tail)
        client->waiting_tail->next = call;
    else
        client->waiting_head = call;
    client->waiting_tail = call;
}

static struct client_call *waiting_pop(struct steep_rpc_client *client)
{
    struct client_call *call = client->waiting_head;
    if (call) {
        client->waiting_head = call->next;
        if (!client->waiting_head)
            client->waiting_tail = NULL;
        call->next = NULL;
    }
    return call;
}

static void active_link(struct steep_rpc_client *client, struct client_call *call)
{
    call->active_prev = NULL;
    call->active_next = client->active;
    if (client->active)
        client->active->active_prev = call;
    client->active = call;
    call->active = true;
}

static void active_unlink(struct steep_rpc_client *client, struct client_call *call)
{
    if (!call->active)
        return;
    if (call->active_prev)
        call->active_prev->active_next = call->active_next;
    else
        client->active = call->active_next;
    if (call->active_next)
        call->active_next->active_prev = call->active_prev;
    call->active_prev = call->active_next = NULL;
    call->active = false;
}

/* ---- connection ---- */

static void watch(struct steep_rpc_client *client, bool want_write)
{
    if (want_write == client->watching_write)
        return;
    struct epoll_event event = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0),
                                .data.ptr = client};
    epoll_ctl(client->epoll_fd, EPOLL_CTL_MOD, client->transport.fd, &event);
    client->watching_write = want_write;
}

static void teardown(struct steep_rpc_client *client)
{
    for (struct client_call *call = client->active; call; call = call->active_next) {
        if (client->session)
            nghttp2_session_set_stream_user_data(client->session, call->stream_id, NULL);
    }
    if (client->session)
        nghttp2_session_del(client->session);
    client->session = NULL;
    if (client->transport.ssl)
        SSL_free(client->transport.ssl);
    client->transport.ssl = NULL;
    if (client->transport.fd >= 0)
        close(client->transport.fd);
    client->transport.fd = -1;
    client->transport.out.len = client->transport.out_pos = 0;
    client->transport.want_write = false;
    client->watching_write = false;
    client->draining = false;
    client->state = STATE_IDLE;
    client->connect_deadline_ms = 0;
    memset(&client->tls, 0, sizeof(client->tls));
}

static void fail_waiting(struct steep_rpc_client *client, const char *reason)
{
    struct client_call *call;
    while ((call = waiting_pop(client)))
        steep_rpc_client_call_complete(call, STEEP_GRPC_UNAVAILABLE, "%s", reason);
}

/* The connection failed: every call that depended on it gets UNAVAILABLE. */
static void connection_failed(struct steep_rpc_client *client, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void connection_failed(struct steep_rpc_client *client, const char *fmt, ...)
{
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    bool established = client->state == STATE_READY;
    if (client->active || (!established && client->waiting_head))
        log_warn("rpc: connection to %s: %s", client->address, reason);
    else
        log_debug("rpc: connection to %s: %s", client->address, reason);
    teardown(client);
    while (client->active) {
        struct client_call *call = client->active;
        active_unlink(client, call);
        steep_rpc_client_call_complete(call, STEEP_GRPC_UNAVAILABLE, "%s", reason);
    }
    /* Calls that waited for this connection attempt fail with its reason;
     * calls queued behind a GOAWAY never went out and get a new connection. */
    if (!established)
        fail_waiting(client, reason);
}

static void connect_start(struct steep_rpc_client *client)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (steep_rpc_resolve(client->address, false, &addr, &addr_len) < 0) {
        connection_failed(client, "%s", steep_error_get());
        return;
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        connection_failed(client, "socket: %s", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&addr, addr_len) < 0 && errno != EINPROGRESS) {
        int error = errno;
        close(fd);
        connection_failed(client, "cannot connect to %s: %s", client->address, strerror(error));
        return;
    }
    client->transport.fd = fd;
    client->state = STATE_CONNECTING;
    client->connect_deadline_ms = steep_rpc_now_ms() + client->connect_timeout_ms;
    struct epoll_event event = {.events = EPOLLIN | EPOLLOUT, .data.ptr = client};
    epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, fd, &event);
    client->watching_write = true;
}

static bool is_ip_literal(const char *host)
{
    struct in6_addr ip;
    return inet_pton(AF_INET, host, &ip) == 1 || inet_pton(AF_INET6, host, &ip) == 1;
}

static int tls_start(struct steep_rpc_client *client)
{
    SSL *ssl = SSL_new(client->ssl_ctx);
    ENSURE(ssl, "cannot create a TLS connection");
    client->transport.ssl = ssl;
    SSL_set_fd(ssl, client->transport.fd);
    SSL_set_connect_state(ssl);
    steep_rpc_tls_attach(ssl, &client->tls);
    if (!is_ip_literal(client->server_name))
        SSL_set_tlsext_host_name(ssl, client->server_name);
    if (client->check_host) {
        if (is_ip_literal(client->server_name))
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), client->server_name);
        else
            SSL_set1_host(ssl, client->server_name);
    }
    client->state = STATE_HANDSHAKING;
    return 0;
}

static void start_stream(struct steep_rpc_client *client, struct client_call *call);

static int session_open(struct steep_rpc_client *client)
{
    ENSURE(nghttp2_session_client_new(&client->session, client->callbacks, client) == 0,
           "cannot create an HTTP/2 session");
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
    };
    ENSURE(nghttp2_submit_settings(client->session, NGHTTP2_FLAG_NONE, settings, 2) == 0,
           "cannot submit HTTP/2 settings");
    ENSURE(nghttp2_session_set_local_window_size(client->session, NGHTTP2_FLAG_NONE, 0,
                                                 CONNECTION_WINDOW) == 0,
           "cannot set the HTTP/2 window");
    return 0;
}

static void handshake(struct steep_rpc_client *client)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(client->transport.ssl);
    if (rc != 1) {
        int error = SSL_get_error(client->transport.ssl, rc);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            watch(client, error == SSL_ERROR_WANT_WRITE);
            return;
        }
        char reason[300];
        steep_rpc_tls_describe_error(client->transport.ssl, &client->tls, reason, sizeof(reason));
        connection_failed(client, "TLS handshake with %s failed: %s", client->address, reason);
        return;
    }
    if (!steep_rpc_tls_alpn_ok(client->transport.ssl)) {
        connection_failed(client, "server %s did not negotiate ALPN h2", client->address);
        return;
    }
    if (session_open(client) < 0) {
        connection_failed(client, "%s", steep_error_get());
        return;
    }
    client->state = STATE_READY;
    client->connect_deadline_ms = 0;
}

static void flush(struct steep_rpc_client *client)
{
    if (client->state != STATE_READY)
        return;
    if (steep_rpc_transport_flush(&client->transport, client->session) < 0) {
        connection_failed(client, "connection lost: %s", steep_error_get());
        return;
    }
    if (!client->transport.want_write && !nghttp2_session_want_read(client->session) &&
        !nghttp2_session_want_write(client->session)) {
        /* Drained after GOAWAY: close quietly; waiting calls reconnect. */
        teardown(client);
        while (client->active) {
            struct client_call *call = client->active;
            active_unlink(client, call);
            steep_rpc_client_call_complete(call, STEEP_GRPC_UNAVAILABLE,
                                           "connection closed by the server");
        }
        return;
    }
    watch(client, client->transport.want_write);
}

/* Starts calls that wait for a connection, connecting if needed. */
static void serve_waiting(struct steep_rpc_client *client)
{
    if (!client->waiting_head)
        return;
    if (client->state == STATE_IDLE) {
        connect_start(client);
        return;
    }
    if (client->state != STATE_READY || client->draining)
        return;
    struct client_call *call;
    while ((call = waiting_pop(client)))
        start_stream(client, call);
}

static void connection_io(struct steep_rpc_client *client, uint32_t events)
{
    switch (client->state) {
    case STATE_IDLE:
        return;
    case STATE_CONNECTING: {
        int error = 0;
        socklen_t length = sizeof(error);
        getsockopt(client->transport.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error) {
            connection_failed(client, "cannot connect to %s: %s", client->address, strerror(error));
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (tls_start(client) < 0) {
            connection_failed(client, "%s", steep_error_get());
            return;
        }
        handshake(client);
        return;
    }
    case STATE_HANDSHAKING:
        handshake(client);
        return;
    case STATE_READY:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            if (steep_rpc_transport_read(&client->transport, client->session) < 0) {
                connection_failed(client, "connection to %s lost: %s", client->address,
                                  steep_error_get());
                return;
            }
        }
        return;
    }
}

/* ---- streams ---- */

static ssize_t read_request(nghttp2_session *session, int32_t stream_id, uint8_t *out,
                            size_t length, uint32_t *flags, nghttp2_data_source *source,
                            void *user_data)
{
    struct client_call *call = source->ptr;
    size_t n = steep_rpc_copy_out(&call->request, &call->request_sent, out, length);
    if (call->request_sent == call->request.len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

#define NV(name, value)                                                                            \
    {                                                                                              \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, strlen(value),                    \
            NGHTTP2_NV_FLAG_NONE                                                                   \
    }

static void start_stream(struct steep_rpc_client *client, struct client_call *call)
{
    nghttp2_nv stack_nv[16];
    nghttp2_nv *nv = stack_nv;
    if (call->n_metadata + 8 > 16) {
        nv = malloc((call->n_metadata + 8) * sizeof(*nv));
        if (!nv) {
            steep_rpc_client_call_complete(call, STEEP_GRPC_INTERNAL, "out of memory");
            return;
        }
    }
    char timeout[24];
    size_t n = 0;
    nv[n++] = (nghttp2_nv)NV(":method", "POST");
    nv[n++] = (nghttp2_nv)NV(":scheme", "https");
    nv[n++] = (nghttp2_nv)NV(":path", call->path);
    nv[n++] = (nghttp2_nv)NV(":authority", client->authority);
    nv[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
    nv[n++] = (nghttp2_nv)NV("te", "trailers");
    if (call->deadline_ms) {
        int64_t left = call->deadline_ms - steep_rpc_now_ms();
        steep_rpc_timeout_format(left > 0 ? left : 1, timeout, sizeof(timeout));
        nv[n++] = (nghttp2_nv)NV("grpc-timeout", timeout);
    }
    for (size_t i = 0; i < call->n_metadata; i++) {
        nv[n++] = (nghttp2_nv){(uint8_t *)call->metadata[i].key, (uint8_t *)call->metadata[i].value,
                               strlen(call->metadata[i].key), strlen(call->metadata[i].value),
                               NGHTTP2_NV_FLAG_NONE};
    }
    nghttp2_data_provider provider = {.source.ptr = call, .read_callback = read_request};
    call->request_sent = 0;
    int32_t stream_id = nghttp2_submit_request(client->session, NULL, nv, n, &provider, call);
    if (nv != stack_nv)
        free(nv);
    if (stream_id < 0) {
        if (stream_id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
            client->draining = true; /* this connection is used up: a new one follows */
            waiting_push(client, call);
            return;
        }
        steep_rpc_client_call_complete(call, STEEP_GRPC_INTERNAL, "cannot start the call: %s",
                                       nghttp2_strerror(stream_id));
        return;
    }
    call->stream_id = stream_id;
    active_link(client, call);
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                     void *user_data)
{
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct client_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call)
        return 0;
    call->headers_seen = true;
    if (name_len == 7 && memcmp(name, ":status", 7) == 0) {
        call->http_status = 0;
        for (size_t i = 0; i < value_len && value[i] >= '0' && value[i] <= '9' && i < 3; i++)
            call->http_status = call->http_status * 10 + (value[i] - '0');
    } else if (name_len == 11 && memcmp(name, "grpc-status", 11) == 0) {
        int status = 0;
        for (size_t i = 0; i < value_len && i < 4; i++)
            status = value[i] >= '0' && value[i] <= '9' ? status * 10 + (value[i] - '0') : -1000;
        call->have_grpc_status = true;
        call->grpc_status = status >= 0 ? status : STEEP_GRPC_UNKNOWN;
    } else if (name_len == 12 && memcmp(name, "grpc-message", 12) == 0) {
        steep_rpc_percent_decode((const char *)value, value_len, call->message,
                                 sizeof(call->message));
    } else if (call->want_metadata && name[0] != ':' &&
               !(name_len == 12 && memcmp(name, "content-type", 12) == 0)) {
        steep_rpc_headers_add(&call->received, (const char *)name, name_len, (const char *)value,
                              value_len);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t length, void *user_data)
{
    struct steep_rpc_client *client = user_data;
    struct client_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call)
        return 0;
    int status = call->stream ? steep_rpc_client_stream_feed(client, call, data, length)
                              : steep_rpc_frame_feed(&call->reader, data, length);
    if (status != 0) {
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
        active_unlink(client, call);
        steep_rpc_client_call_complete(
            call, status == STEEP_GRPC_RESOURCE_EXHAUSTED ? status : STEEP_GRPC_INTERNAL,
            "bad response: %s", call->reader.reason);
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct steep_rpc_client *client = user_data;
    if (frame->hd.type == NGHTTP2_GOAWAY)
        client->draining = true;
    return 0;
}

static int http_status_to_grpc(int http_status)
{
    switch (http_status) {
    case 400:
        return STEEP_GRPC_INTERNAL;
    case 401:
        return STEEP_GRPC_UNAUTHENTICATED;
    case 403:
        return STEEP_GRPC_PERMISSION_DENIED;
    case 404:
        return STEEP_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return STEEP_GRPC_UNAVAILABLE;
    default:
        return STEEP_GRPC_UNKNOWN;
    }
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    struct steep_rpc_client *client = user_data;
    struct client_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call)
        return 0;
    active_unlink(client, call);
    if (call->have_grpc_status) {
        int code = call->grpc_status;
        if (code == STEEP_GRPC_OK && (call->stream ? steep_rpc_client_stream_finish(call)
                                                   : steep_rpc_frame_finish(&call->reader)) != 0)
            steep_rpc_client_call_complete(call, STEEP_GRPC_INTERNAL, "bad response: %s",
                                           call->reader.reason);
        else
            steep_rpc_client_call_complete(call, code, NULL);
    } else if (error_code == NGHTTP2_REFUSED_STREAM && !call->headers_seen && !call->retried) {
        call->retried = true;
        steep_rpc_frame_reader_free(&call->reader);
        steep_rpc_frame_reader_init(&call->reader, client->max_message);
        waiting_push(client, call);
    } else if (call->http_status && call->http_status != 200) {
        steep_rpc_client_call_complete(call, http_status_to_grpc(call->http_status),
                                       "HTTP status %d from %s", call->http_status,
                                       client->address);
    } else if (error_code == NGHTTP2_CANCEL) {
        steep_rpc_client_call_complete(call, STEEP_GRPC_CANCELLED, "call cancelled by the server");
    } else if (error_code != NGHTTP2_NO_ERROR) {
        steep_rpc_client_call_complete(call, STEEP_GRPC_UNAVAILABLE, "stream reset by %s: %s",
                                       client->address, nghttp2_http2_strerror(error_code));
    } else {
        steep_rpc_client_call_complete(call, STEEP_GRPC_INTERNAL,
                                       "response from %s without grpc-status", client->address);
    }
    return 0;
}

/* ---- the loop ---- */

/* With the client's lock held: ends the calls whose caller gave up on them
 * (steep_rpc_stream_close). A call already completed is in neither list,
 * so nothing here touches a call its caller may have freed. */
static void cancel_requested_calls(struct steep_rpc_client *client)
{
    client->cancel_pending = false;
    for (struct client_call *call = client->active, *following; call; call = following) {
        following = call->active_next;
        if (!call->cancel_requested)
            continue;
        nghttp2_session_set_stream_user_data(client->session, call->stream_id, NULL);
        nghttp2_submit_rst_stream(client->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_CANCEL);
        active_unlink(client, call);
        steep_rpc_client_call_complete(call, STEEP_GRPC_CANCELLED, "call cancelled");
    }
    struct client_call **link = &client->waiting_head;
    client->waiting_tail = NULL;
    while (*link) {
        struct client_call *call = *link;
        if (call->cancel_requested) {
            *link = call->next;
            steep_rpc_client_call_complete(call, STEEP_GRPC_CANCELLED, "call cancelled");
            continue;
        }
        client->waiting_tail = call;
        link = &call->next;
    }
}

static void take_submitted(struct steep_rpc_client *client)
{
    uint64_t count;
    if (read(client->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        log_warn("rpc: eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&client->lock);
    struct client_call *call = client->submitted_head;
    client->submitted_head = client->submitted_tail = NULL;
    if (client->cancel_pending)
        cancel_requested_calls(client);
    bool reset = client->reset_pending;
    client->reset_pending = false;
    pthread_mutex_unlock(&client->lock);
    if (reset && client->state != STATE_IDLE)
        connection_failed(client, "no answer from %s within a call's deadline: connection dropped",
                          client->address);
    while (call) {
        struct client_call *following = call->next;
        if (call->deadline_ms &&
            (client->next_deadline_ms == 0 || call->deadline_ms < client->next_deadline_ms))
            client->next_deadline_ms = call->deadline_ms;
        if (client->state == STATE_READY && !client->draining)
            start_stream(client, call);
        else
            waiting_push(client, call);
        call = following;
    }
}

static int64_t expire(struct steep_rpc_client *client, int64_t now)
{
    int64_t next = 0;
    struct client_call *call = client->active;
    while (call) {
        struct client_call *following = call->active_next;
        if (call->deadline_ms && call->deadline_ms <= now) {
            nghttp2_session_set_stream_user_data(client->session, call->stream_id, NULL);
            nghttp2_submit_rst_stream(client->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                      NGHTTP2_CANCEL);
            active_unlink(client, call);
            steep_rpc_client_call_complete(call, STEEP_GRPC_DEADLINE_EXCEEDED,
                                           "Deadline Exceeded (%d ms)", call->timeout_ms);
        } else if (call->deadline_ms && (next == 0 || call->deadline_ms < next)) {
            next = call->deadline_ms;
        }
        call = following;
    }
    struct client_call **link = &client->waiting_head;
    client->waiting_tail = NULL;
    while (*link) {
        call = *link;
        if (call->deadline_ms && call->deadline_ms <= now) {
            *link = call->next;
            steep_rpc_client_call_complete(call, STEEP_GRPC_DEADLINE_EXCEEDED,
                                           "Deadline Exceeded (%d ms)", call->timeout_ms);
            continue;
        }
        if (call->deadline_ms && (next == 0 || call->deadline_ms < next))
            next = call->deadline_ms;
        client->waiting_tail = call;
        link = &call->next;
    }
    return next;
}

static int loop_timeout(struct steep_rpc_client *client, int64_t now)
{
    int64_t until = client->next_deadline_ms;
    if (client->connect_deadline_ms && (!until || client->connect_deadline_ms < until))
        until = client->connect_deadline_ms;
    if (!until)
        return -1;
    return until <= now ? 0 : (int)(until - now);
}

void *steep_rpc_client_loop(void *arg)
{
    struct steep_rpc_client *client = arg;
    struct epoll_event events[8];
    for (;;) {
        int n = epoll_wait(client->epoll_fd, events, 8, loop_timeout(client, steep_rpc_now_ms()));
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &client->event_fd)
                take_submitted(client);
            else
                connection_io(client, events[i].events);
        }
        int64_t now = steep_rpc_now_ms();
        if (client->connect_deadline_ms && now >= client->connect_deadline_ms)
            connection_failed(client, "connecting to %s timed out after %d ms", client->address,
                              client->connect_timeout_ms);
        if (client->next_deadline_ms && now >= client->next_deadline_ms)
            client->next_deadline_ms = expire(client, now);
        serve_waiting(client);
        flush(client);
        if (client->state == STATE_IDLE) /* drained after GOAWAY: calls wait for a new one */
            serve_waiting(client);
        pthread_mutex_lock(&client->lock);
        bool stopping = client->stopping;
        pthread_mutex_unlock(&client->lock);
        if (stopping)
            break;
    }
    connection_failed(client, "client closed");
    fail_waiting(client, "client closed");
    return NULL;
}

int steep_rpc_client_callbacks_new(struct steep_rpc_client *client)
{
    ENSURE(nghttp2_session_callbacks_new(&client->callbacks) == 0, "out of memory");
    nghttp2_session_callbacks_set_on_header_callback(client->callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(client->callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(client->callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(client->callbacks, on_stream_close);
    return 0;
}
