/*
 * The server: a listening socket and one event-loop thread (epoll) that
 * accepts connections, drives their TLS handshakes and HTTP/2 sessions, and
 * sends the answers that workers hand back through the completion queue.
 *
 * Loop objects are only touched by the loop thread, except the completion
 * queue (completed_lock) and the stopping flag. steep_rpc_server_stop sends
 * GOAWAY on every connection, stops accepting, keeps serving the calls in
 * flight until they finish or the grace period ends, then closes.
 */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/internal.h"

#define DEFAULT_MAX_WORKERS 1024
#define DEFAULT_MAX_QUEUED  1024
#define WORKER_IDLE_MS      10000
#define ACCEPT_PAUSE_MS     100
/* Defaults of the request-buffering bounds (rpc.h). */
#define DEFAULT_BUFFERED             (128u * 1024 * 1024)
#define DEFAULT_CONNECTION_BUFFERED  (32u * 1024 * 1024)
#define DEFAULT_RECEIVE_TIMEOUT_MS   20000
#define MMAP_THRESHOLD               (256 * 1024)
#define TRIM_THRESHOLD               (32 * 1024 * 1024)
#define DEFAULT_IDLE_TIMEOUT_MS      120000
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define GOAWAY_DRAIN_MS              2000
#define DEFAULT_PER_SOURCE           256
#define DEFAULT_UNSENT               (256u * 1024 * 1024)
#define DEFAULT_CONNECTION_UNSENT    (64u * 1024 * 1024)
#define DEFAULT_SEND_TIMEOUT_MS      20000

static size_t at_least(size_t value, size_t floor)
{
    return value > floor ? value : floor;
}

/* Below the descriptor limit, so accept never meets EMFILE: a quarter (at
 * least 64) stays for the service's own files, stores and clients. */
static int default_max_connections(void)
{
    struct rlimit limit;
    rlim_t files = getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 1024;
    if (files == RLIM_INFINITY || files > 1000000)
        files = 1000000;
    rlim_t keep = files / 4 > 64 ? files / 4 : 64;
    return files > keep + 16 ? (int)(files - keep) : 16;
}

static void wake(struct steep_rpc_server *server)
{
    uint64_t one = 1;
    if (write(server->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("rpc: cannot wake the event loop: %s", strerror(errno));
}

/* ---- held calls ---- */

static void unpark(struct steep_rpc_server *server)
{
    if (atomic_fetch_sub(&server->parked, 1) == 1) {
        pthread_mutex_lock(&server->completed_lock);
        pthread_cond_broadcast(&server->unparked);
        pthread_mutex_unlock(&server->completed_lock);
    }
}

void steep_rpc_call_hold(struct steep_rpc_call *call)
{
    int expected = HOLD_NONE;
    if (call->answered || !atomic_compare_exchange_strong(&call->hold, &expected, HOLD_HELD)) {
        log_warn("rpc: a call answered or already held cannot be held");
        return;
    }
    atomic_fetch_add(&call->server->parked, 1);
}

/* Queues the continuation already in call->resume_fn (or leaves it to the
 * handler's thread while the handler still runs). */
static void resume_held(struct steep_rpc_call *call)
{
    struct steep_rpc_server *server = call->server;
    int expected = HOLD_HELD;
    if (atomic_compare_exchange_strong(&call->hold, &expected, HOLD_RESUMED))
        return; /* the handler is still running: its thread runs fn next */
    if (expected != HOLD_PARKED) {
        log_error("rpc: resume of a call that is not held (state %d)", expected);
        return;
    }
    atomic_store(&call->hold, HOLD_NONE);
    /* queued before the count drops, so a server being freed still has its
     * pool for the continuation */
    steep_rpc_pool_submit(server->pool, call, true);
    unpark(server);
}

void steep_rpc_call_resume(struct steep_rpc_call *call, steep_rpc_resume_fn fn, void *arg)
{
    call->resume_fn = fn;
    call->resume_arg = arg;
    resume_held(call);
}

/* ---- timed holds: resumed by a wake, their time or their cancellation ---- */

static void holds_unlink(struct steep_rpc_server *server, struct steep_rpc_call *call)
{
    if (call->hold_prev)
        call->hold_prev->hold_next = call->hold_next;
    else
        server->timed_holds = call->hold_next;
    if (call->hold_next)
        call->hold_next->hold_prev = call->hold_prev;
    call->hold_prev = call->hold_next = NULL;
    call->hold_linked = false;
}

void steep_rpc_call_hold_until(struct steep_rpc_call *call, int timeout_ms, steep_rpc_resume_fn fn,
                               void *arg)
{
    struct steep_rpc_server *server = call->server;
    int expected = HOLD_NONE;
    if (call->answered || !atomic_compare_exchange_strong(&call->hold, &expected, HOLD_HELD)) {
        log_warn("rpc: a call answered or already held cannot be held");
        return;
    }
    call->resume_fn = fn;
    call->resume_arg = arg;
    atomic_fetch_add(&server->parked, 1);
    int64_t until = steep_rpc_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    if (call->deadline_ms && call->deadline_ms < until)
        until = call->deadline_ms;
    pthread_mutex_lock(&server->holds_lock);
    bool now = call->wake_pending || timeout_ms <= 0 || steep_rpc_call_cancelled(call);
    call->wake_pending = false;
    bool earlier = false;
    if (!now) {
        call->hold_until_ms = until;
        call->hold_prev = NULL;
        call->hold_next = server->timed_holds;
        if (server->timed_holds)
            server->timed_holds->hold_prev = call;
        server->timed_holds = call;
        call->hold_linked = true;
        int64_t next = atomic_load(&server->holds_next_ms);
        earlier = !next || until < next;
        if (earlier)
            atomic_store(&server->holds_next_ms, until);
    }
    pthread_mutex_unlock(&server->holds_lock);
    if (now)
        resume_held(call);
    else if (earlier)
        wake(server); /* the loop sleeps until the new, earlier time */
}

void steep_rpc_call_wake(struct steep_rpc_call *call)
{
    struct steep_rpc_server *server = call->server;
    pthread_mutex_lock(&server->holds_lock);
    bool held = call->hold_linked;
    if (held)
        holds_unlink(server, call);
    else
        call->wake_pending = true; /* between holds: ends the next one at once */
    pthread_mutex_unlock(&server->holds_lock);
    if (held)
        resume_held(call);
}

int64_t steep_rpc_wake_holds(struct steep_rpc_server *server, int64_t now, bool all)
{
    int64_t next = atomic_load(&server->holds_next_ms);
    bool check = atomic_exchange(&server->holds_check, false);
    if (!all && !check && (!next || now < next))
        return next;
    struct steep_rpc_call *due = NULL;
    next = 0;
    pthread_mutex_lock(&server->holds_lock);
    for (struct steep_rpc_call *call = server->timed_holds, *following; call; call = following) {
        following = call->hold_next;
        if (all || call->hold_until_ms <= now || steep_rpc_call_cancelled(call)) {
            holds_unlink(server, call);
            call->hold_next = due;
            due = call;
        } else if (!next || call->hold_until_ms < next) {
            next = call->hold_until_ms;
        }
    }
    atomic_store(&server->holds_next_ms, next);
    pthread_mutex_unlock(&server->holds_lock);
    while (due) {
        struct steep_rpc_call *call = due;
        due = call->hold_next;
        call->hold_next = NULL;
        resume_held(call);
    }
    return next;
}

/* After a handler or continuation returned on this thread: true when the
 * call is answered and goes back to the loop, false when it is parked. A
 * resume that came meanwhile runs here, except on the loop, which must not
 * block: there it is queued to the pool. */
static bool finish_or_park(struct steep_rpc_call *call, bool on_loop)
{
    for (;;) {
        int state = atomic_load(&call->hold);
        if (state == HOLD_NONE) {
            steep_rpc_call_check_answered(call);
            return true;
        }
        if (state == HOLD_HELD) {
            if (atomic_compare_exchange_strong(&call->hold, &state, HOLD_PARKED))
                return false;
            continue; /* resumed meanwhile */
        }
        /* HOLD_RESUMED */
        atomic_store(&call->hold, HOLD_NONE);
        if (on_loop) {
            steep_rpc_pool_submit(call->server->pool, call, true);
            unpark(call->server);
            return false;
        }
        steep_rpc_resume_fn fn = call->resume_fn;
        call->resume_fn = NULL;
        unpark(call->server);
        fn(call, call->resume_arg);
    }
}

/* Worker side: run the handler (or a held call's continuation), then queue
 * the call back to the loop unless it is parked. */
static void run_and_post(struct steep_rpc_call *call)
{
    if (call->resume_fn) {
        steep_rpc_resume_fn fn = call->resume_fn;
        call->resume_fn = NULL;
        fn(call, call->resume_arg);
    } else {
        steep_rpc_call_run(call);
    }
    if (!finish_or_park(call, false))
        return;
    struct steep_rpc_server *server = call->server;
    pthread_mutex_lock(&server->completed_lock);
    bool was_empty = server->completed == NULL;
    call->queue_next = server->completed;
    server->completed = call;
    pthread_mutex_unlock(&server->completed_lock);
    if (was_empty)
        wake(server);
}

/* ---- dispatch ---- */

void steep_rpc_server_ready(struct steep_rpc_call *call)
{
    struct steep_rpc_server *server = call->server;
    call->queue_next = NULL;
    if (server->ready_last)
        server->ready_last->queue_next = call;
    else
        server->ready = call;
    server->ready_last = call;
}

/* Handlers registered as non-blocking (and every handler when fuzzing) run
 * right here on the loop: the response is submitted before the loop flushes
 * the connection, with no trip through the pool and the completion queue.
 * A call whose stream was reset (or whose deadline passed) in the batch
 * that completed it is dropped here, before anything runs. */
void steep_rpc_server_dispatch_ready(struct steep_rpc_server *server)
{
    while (server->ready) {
        struct steep_rpc_call *call = server->ready;
        server->ready = call->queue_next;
        if (!server->ready)
            server->ready_last = NULL;
        call->queue_next = NULL;
        struct steep_rpc_conn *conn = call->conn;
        if (atomic_load(&call->cancelled) || !conn) {
            atomic_fetch_add(&server->dropped_cancelled, 1);
            steep_rpc_frame_reader_free(&call->reader);
            call->answered = true;
            call->status = STEEP_GRPC_CANCELLED;
            steep_rpc_call_completed(call); /* frees it when the stream is gone */
            continue;
        }
        if (server->inline_handlers || call->method->on_loop) {
            steep_rpc_call_run(call);
            if (finish_or_park(call, true))
                steep_rpc_call_completed(call);
        } else if (steep_rpc_pool_submit(server->pool, call, false) < 0) {
            atomic_fetch_add(&server->refused_busy, 1);
            steep_rpc_frame_reader_free(&call->reader);
            call->answered = true;
            call->status = STEEP_GRPC_RESOURCE_EXHAUSTED;
            call->status_message = strdup("server busy: every worker is busy and the queue full");
            steep_rpc_call_completed(call);
        }
        steep_rpc_conn_mark_dirty(conn);
    }
}

void steep_rpc_server_stats(struct steep_rpc_server *server, struct steep_rpc_server_stats *stats)
{
    stats->handled = atomic_load(&server->handled);
    stats->dropped_cancelled = atomic_load(&server->dropped_cancelled);
    stats->refused_busy = atomic_load(&server->refused_busy);
    stats->workers = server->pool ? steep_rpc_pool_threads(server->pool) : 0;
    stats->parked = atomic_load(&server->parked);
}

struct steep_rpc_server *steep_rpc_server_new(const struct steep_rpc_server_config *config)
{
    struct steep_rpc_server *server = calloc(1, sizeof(*server));
    if (!server) {
        steep_error_set("out of memory");
        return NULL;
    }
    server->config = *config;
    server->listen = strdup(config->listen ? config->listen : "127.0.0.1:0");
    server->name = strdup(config->name ? config->name : "rpc");
    if (config->tls.ca_file)
        server->config.tls.ca_file = server->ca_file = strdup(config->tls.ca_file);
    server->max_message = config->max_message ? config->max_message : STEEP_RPC_DEFAULT_MAX_MESSAGE;
    server->max_response =
        config->max_response > server->max_message ? config->max_response : server->max_message;
    server->max_connection_buffered =
        config->max_connection_buffered
            ? config->max_connection_buffered
            : at_least(DEFAULT_CONNECTION_BUFFERED, 2 * server->max_message);
    server->max_buffered = config->max_buffered
                               ? config->max_buffered
                               : at_least(DEFAULT_BUFFERED, 4 * server->max_message);
    server->receive_timeout_ms =
        config->receive_timeout_ms > 0 ? config->receive_timeout_ms : DEFAULT_RECEIVE_TIMEOUT_MS;
    server->idle_timeout_ms =
        config->idle_timeout_ms > 0 ? config->idle_timeout_ms : DEFAULT_IDLE_TIMEOUT_MS;
    server->handshake_timeout_ms = config->handshake_timeout_ms > 0 ? config->handshake_timeout_ms
                                                                    : DEFAULT_HANDSHAKE_TIMEOUT_MS;
    server->max_connections =
        config->max_connections > 0 ? config->max_connections : default_max_connections();
    server->max_unsent =
        config->max_unsent ? config->max_unsent : at_least(DEFAULT_UNSENT, 4 * server->max_message);
    server->max_connection_unsent =
        config->max_connection_unsent
            ? config->max_connection_unsent
            : at_least(DEFAULT_CONNECTION_UNSENT, 2 * server->max_message);
    server->send_timeout_ms =
        config->send_timeout_ms > 0 ? config->send_timeout_ms : DEFAULT_SEND_TIMEOUT_MS;
    server->max_connections_per_source = config->max_connections_per_source > 0
                                             ? config->max_connections_per_source
                                             : DEFAULT_PER_SOURCE;
    server->max_workers = config->max_workers > 0 ? config->max_workers : DEFAULT_MAX_WORKERS;
    server->max_queued = config->max_queued > 0 ? config->max_queued : DEFAULT_MAX_QUEUED;
    server->listen_fd = server->epoll_fd = server->event_fd = -1;
    pthread_mutex_init(&server->completed_lock, NULL);
    pthread_cond_init(&server->unparked, NULL);
    pthread_mutex_init(&server->holds_lock, NULL);
    if (!server->listen || !server->name || steep_rpc_session_callbacks_new(&server->callbacks) < 0)
        goto fail;
    server->ssl_ctx = steep_rpc_tls_context(&server->config.tls, true);
    if (!server->ssl_ctx)
        goto fail;
    return server;
fail:
    steep_rpc_server_free(server);
    return NULL;
}

static int add_method(struct steep_rpc_server *server, const char *path,
                      const ProtobufCMessageDescriptor *request_type, steep_rpc_handler_fn handler,
                      void *arg, bool on_loop)
{
    ENSURE(!server->started, "methods must be added before the server starts");
    ENSURE(path && path[0] == '/' && request_type && handler, "bad method registration");
    for (size_t i = 0; i < server->n_methods; i++)
        ENSURE(strcmp(server->methods[i].path, path) != 0, "method %s registered twice", path);
    struct steep_rpc_method *methods =
        realloc(server->methods, (server->n_methods + 1) * sizeof(*methods));
    ENSURE(methods, "out of memory");
    server->methods = methods;
    char *copy = strdup(path);
    ENSURE(copy, "out of memory");
    methods[server->n_methods++] =
        (struct steep_rpc_method){copy, request_type, handler, arg, on_loop};
    return 0;
}

int steep_rpc_server_add(struct steep_rpc_server *server, const char *path,
                         const ProtobufCMessageDescriptor *request_type,
                         steep_rpc_handler_fn handler, void *arg)
{
    return add_method(server, path, request_type, handler, arg, false);
}

int steep_rpc_server_add_inline(struct steep_rpc_server *server, const char *path,
                                const ProtobufCMessageDescriptor *request_type,
                                steep_rpc_handler_fn handler, void *arg)
{
    return add_method(server, path, request_type, handler, arg, true);
}

int steep_rpc_server_port(const struct steep_rpc_server *server)
{
    return server->port;
}

/* ---- connections ---- */

/* Releases the connection; its memory is freed after the current batch of
 * events (conn_free_closed), since later events of the batch may name it. */
static void conn_close(struct steep_rpc_conn *conn)
{
    struct steep_rpc_server *server = conn->server;
    if (conn->closed)
        return;
    conn->closed = true;
    server->n_conns--;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    if (conn->session)
        steep_rpc_conn_release(conn);
    steep_rpc_peer_release(conn->peer);
    if (conn->transport.ssl) {
        if (conn->handshake_done)
            SSL_shutdown(conn->transport.ssl); /* best effort close_notify */
        SSL_free(conn->transport.ssl);
    }
    conn->transport.ssl = NULL;
    if (conn->transport.fd >= 0)
        close(conn->transport.fd); /* also removes it from epoll */
    conn->transport.fd = -1;
    steep_buf_free(&conn->transport.out);
    conn->next = server->closed;
    server->closed = conn;
}

static void conn_free_closed(struct steep_rpc_server *server)
{
    while (server->closed) {
        struct steep_rpc_conn *conn = server->closed;
        server->closed = conn->next;
        free(conn);
    }
}

static void conn_watch(struct steep_rpc_conn *conn)
{
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = conn};
    bool want_write = conn->transport.want_write;
    if (want_write == conn->watching_write)
        return;
    if (want_write)
        event.events |= EPOLLOUT;
    epoll_ctl(conn->server->epoll_fd, EPOLL_CTL_MOD, conn->transport.fd, &event);
    conn->watching_write = want_write;
}

/* Flushes and closes the connection when it is finished or broken.
 * Returns false when the connection is gone. */
static bool conn_flush(struct steep_rpc_conn *conn)
{
    if (conn->closed)
        return false;
    if (steep_rpc_transport_flush(&conn->transport, conn->session) < 0) {
        log_debug("rpc: %s: closing a connection: %s", conn->server->name, steep_error_get());
        conn_close(conn);
        return false;
    }
    if (!conn->transport.want_write && !nghttp2_session_want_read(conn->session) &&
        !nghttp2_session_want_write(conn->session)) {
        conn_close(conn);
        return false;
    }
    conn_watch(conn);
    return true;
}

static void handshake(struct steep_rpc_conn *conn)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(conn->transport.ssl);
    if (rc != 1) {
        int error = SSL_get_error(conn->transport.ssl, rc);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            conn->transport.want_write = error == SSL_ERROR_WANT_WRITE;
            conn_watch(conn);
            return;
        }
        /* A peer that connects and closes (a readiness probe) is no news. */
        bool quiet = error == SSL_ERROR_ZERO_RETURN ||
                     (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) ||
                     ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
        char reason[512];
        steep_rpc_tls_describe_error(conn->transport.ssl, &conn->tls, reason, sizeof(reason));
        if (quiet)
            log_debug("rpc: %s: peer closed during the TLS handshake", conn->server->name);
        else
            log_warn("rpc: %s: TLS handshake failed: %s", conn->server->name, reason);
        conn_close(conn);
        return;
    }
    if (!steep_rpc_tls_alpn_ok(conn->transport.ssl)) {
        log_warn("rpc: %s: refusing a connection without ALPN h2", conn->server->name);
        conn_close(conn);
        return;
    }
    conn->handshake_done = true;
    memcpy(conn->peer->name, conn->tls.name, sizeof(conn->peer->name));
    if (steep_rpc_conn_open_session(conn) < 0) {
        log_error("rpc: %s: %s", conn->server->name, steep_error_get());
        conn_close(conn);
        return;
    }
    if (atomic_load(&conn->server->stopping))
        nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
    conn_flush(conn);
}

static void conn_io(struct steep_rpc_conn *conn, uint32_t events)
{
    if (conn->closed)
        return;
    if (!conn->handshake_done) {
        handshake(conn);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (steep_rpc_transport_read(&conn->transport, conn->session) < 0) {
            log_debug("rpc: %s: %s", conn->server->name, steep_error_get());
            conn_close(conn);
            return;
        }
    }
    conn_flush(conn);
}

/* Out of descriptors or memory: stop watching the listener for a moment
 * instead of spinning on a listener that stays readable. */
static void pause_accepting(struct steep_rpc_server *server)
{
    log_warn("rpc: %s: accept: %s; pausing new connections for %d ms", server->name,
             strerror(errno), ACCEPT_PAUSE_MS);
    struct epoll_event event = {.events = 0, .data.ptr = &server->listen_fd};
    epoll_ctl(server->epoll_fd, EPOLL_CTL_MOD, server->listen_fd, &event);
    server->accept_resume_ms = steep_rpc_now_ms() + ACCEPT_PAUSE_MS;
}

static void resume_accepting(struct steep_rpc_server *server, int64_t now)
{
    if (!server->accept_resume_ms || now < server->accept_resume_ms)
        return;
    server->accept_resume_ms = 0;
    if (server->listen_fd < 0)
        return;
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = &server->listen_fd};
    epoll_ctl(server->epoll_fd, EPOLL_CTL_MOD, server->listen_fd, &event);
}

static bool same_source(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
    return false;
}

/* Logged once per second at most: a flood must not flood the log. */
static void refused_connection(struct steep_rpc_server *server, const char *why)
{
    server->refused_connections++;
    int64_t now = steep_rpc_now_ms();
    if (now - server->refusal_logged_ms >= 1000) {
        server->refusal_logged_ms = now;
        log_warn("rpc: %s: refusing connections: %s (%llu so far)", server->name, why,
                 (unsigned long long)server->refused_connections);
    }
}

/* The connection limits, checked for each accepted socket: false to close
 * it at once. At the global limit the connection idle the longest (no
 * calls; handshaking counts as idle) is closed to make room. */
static bool admit(struct steep_rpc_server *server, const struct sockaddr_storage *addr,
                  socklen_t addr_len)
{
    (void)addr_len;
    int from_source = 0;
    struct steep_rpc_conn *idlest = NULL;
    for (struct steep_rpc_conn *conn = server->conns; conn; conn = conn->next) {
        if (same_source(&conn->peer->addr, addr))
            from_source++;
        if (!conn->calls && (!idlest || conn->idle_since_ms < idlest->idle_since_ms))
            idlest = conn;
    }
    if (from_source >= server->max_connections_per_source) {
        refused_connection(server, "too many connections from one source");
        return false;
    }
    if (server->n_conns < server->max_connections)
        return true;
    if (!idlest) {
        refused_connection(server, "connection limit reached and every connection is busy");
        return false;
    }
    refused_connection(server, "connection limit reached; closing the idlest");
    conn_close(idlest);
    return true;
}

static void accept_all(struct steep_rpc_server *server)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t addr_len = sizeof(addr);
        int fd = accept4(server->listen_fd, (struct sockaddr *)&addr, &addr_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(server);
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("rpc: %s: accept: %s", server->name, strerror(errno));
            return;
        }
        if (!admit(server, &addr, addr_len)) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct steep_rpc_conn *conn = calloc(1, sizeof(*conn));
        struct steep_rpc_peer *peer = calloc(1, sizeof(*peer));
        SSL *ssl = SSL_new(server->ssl_ctx);
        if (!conn || !peer || !ssl) {
            free(conn);
            free(peer);
            SSL_free(ssl);
            close(fd);
            continue;
        }
        atomic_init(&peer->references, 1);
        memcpy(&peer->addr, &addr, sizeof(addr));
        peer->addr_len = addr_len;
        conn->server = server;
        conn->peer = peer;
        conn->transport.fd = fd;
        conn->transport.ssl = ssl;
        conn->handshake_deadline_ms = steep_rpc_now_ms() + server->handshake_timeout_ms;
        conn->idle_since_ms = steep_rpc_now_ms();
        server->n_conns++;
        SSL_set_fd(ssl, fd);
        SSL_set_accept_state(ssl);
        steep_rpc_tls_attach(ssl, &conn->tls);
        conn->next = server->conns;
        if (server->conns)
            server->conns->prev = conn;
        server->conns = conn;
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = conn};
        epoll_ctl(server->epoll_fd, EPOLL_CTL_ADD, fd, &event);
    }
}

/* ---- the loop ---- */

void steep_rpc_conn_mark_dirty(struct steep_rpc_conn *conn)
{
    struct steep_rpc_server *server = conn->server;
    if (conn->dirty || conn->closed || conn->transport.fd < 0) /* in-memory: flushed by feed */
        return;
    conn->dirty = true;
    conn->dirty_next = server->dirty;
    server->dirty = conn;
}

static void flush_dirty(struct steep_rpc_server *server)
{
    while (server->dirty) {
        struct steep_rpc_conn *conn = server->dirty;
        server->dirty = conn->dirty_next;
        conn->dirty = false;
        conn_flush(conn);
    }
}

static void drain_completions(struct steep_rpc_server *server)
{
    uint64_t count;
    if (read(server->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        log_warn("rpc: eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&server->completed_lock);
    struct steep_rpc_call *call = server->completed;
    server->completed = NULL;
    pthread_mutex_unlock(&server->completed_lock);
    /* Answer in arrival order is not needed; mark connections to flush once. */
    while (call) {
        struct steep_rpc_call *following = call->queue_next;
        struct steep_rpc_conn *conn = call->conn;
        steep_rpc_call_completed(call);
        if (conn)
            steep_rpc_conn_mark_dirty(conn);
        call = following;
    }
    flush_dirty(server);
}

static void flush_all(struct steep_rpc_server *server)
{
    struct steep_rpc_conn *conn = server->conns;
    while (conn) {
        struct steep_rpc_conn *following = conn->next;
        if (conn->handshake_done)
            conn_flush(conn);
        conn = following;
    }
}

/* Closes connections whose handshake is late. Sends GOAWAY to those without
 * calls for idle_timeout_ms and lets the peer close first (a client that
 * sent a call meanwhile learns from the GOAWAY that it was not processed
 * and retries it); one that has not closed GOAWAY_DRAIN_MS later is closed
 * here. */
static void expire_connections(struct steep_rpc_server *server, int64_t now)
{
    struct steep_rpc_conn *conn = server->conns;
    int late = 0;
    while (conn) {
        struct steep_rpc_conn *following = conn->next;
        if (!conn->handshake_done && now >= conn->handshake_deadline_ms) {
            late++;
            conn_close(conn);
        } else if (conn->going_away && now - conn->going_away_ms >= GOAWAY_DRAIN_MS) {
            conn_close(conn);
        } else if (conn->handshake_done && !conn->calls && !conn->going_away &&
                   now - conn->idle_since_ms >= server->idle_timeout_ms) {
            conn->going_away = true;
            conn->going_away_ms = now;
            nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(conn->session),
                                  NGHTTP2_NO_ERROR, NULL, 0);
            steep_rpc_conn_mark_dirty(conn);
        }
        conn = following;
    }
    if (late)
        log_warn("rpc: %s: %d TLS handshake(s) timed out", server->name, late);
}

static void begin_stop(struct steep_rpc_server *server)
{
    if (server->listen_fd >= 0) {
        close(server->listen_fd);
        server->listen_fd = -1;
    }
    for (struct steep_rpc_conn *conn = server->conns; conn; conn = conn->next) {
        if (conn->handshake_done)
            nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(conn->session),
                                  NGHTTP2_NO_ERROR, NULL, 0);
    }
    flush_all(server);
}

static int timeout_for(struct steep_rpc_server *server, int64_t now, int64_t next_check)
{
    int64_t until = next_check;
    if (server->next_deadline_ms && server->next_deadline_ms < until)
        until = server->next_deadline_ms;
    if (server->stop_begun && server->stop_deadline_ms < until)
        until = server->stop_deadline_ms;
    if (server->accept_resume_ms && server->accept_resume_ms < until)
        until = server->accept_resume_ms;
    int64_t holds = atomic_load(&server->holds_next_ms);
    if (holds && holds < until)
        until = holds;
    return until <= now ? 0 : (int)(until - now);
}

static void *loop(void *arg)
{
    struct steep_rpc_server *server = arg;
    struct epoll_event events[64];
    int64_t next_check = steep_rpc_now_ms() + 1000;
    for (;;) {
        int64_t now = steep_rpc_now_ms();
        int n = epoll_wait(server->epoll_fd, events, 64, timeout_for(server, now, next_check));
        for (int i = 0; i < n; i++) {
            void *ptr = events[i].data.ptr;
            if (ptr == &server->listen_fd)
                accept_all(server);
            else if (ptr == &server->event_fd)
                drain_completions(server);
            else
                conn_io(ptr, events[i].events);
        }
        /* After the whole batch: resets read in it drop their calls. */
        steep_rpc_server_dispatch_ready(server);
        now = steep_rpc_now_ms();
        if (server->next_deadline_ms && now >= server->next_deadline_ms) {
            server->next_deadline_ms = steep_rpc_expire_deadlines(server, now);
            flush_all(server);
        }
        resume_accepting(server, now);
        steep_rpc_wake_holds(server, now, atomic_load(&server->stopping));
        if (now >= next_check) {
            expire_connections(server, now);
            steep_rpc_expire_receiving(server, now);
            steep_rpc_expire_sending(server, now);
            next_check = now + 1000;
        }
        /* refusals of other connections' calls (bounds, timeouts) */
        flush_dirty(server);
        if (atomic_load(&server->stopping) && !server->stop_begun) {
            server->stop_begun = true;
            begin_stop(server);
        }
        conn_free_closed(server);
        if (server->stop_begun && (!server->conns || now >= server->stop_deadline_ms))
            break;
    }
    while (server->conns)
        conn_close(server->conns);
    conn_free_closed(server);
    return NULL;
}

static int listen_socket(struct steep_rpc_server *server)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    GUARD(steep_rpc_resolve(server->listen, true, &addr, &addr_len));
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ENSURE(fd >= 0, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0 || listen(fd, 1024) < 0) {
        int error = errno;
        close(fd);
        return steep_error_set("cannot listen on %s: %s", server->listen, strerror(error));
    }
    addr_len = sizeof(addr);
    getsockname(fd, (struct sockaddr *)&addr, &addr_len);
    server->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                    : ((struct sockaddr_in *)&addr)->sin_port);
    server->listen_fd = fd;
    return 0;
}

int steep_rpc_server_start(struct steep_rpc_server *server)
{
    ENSURE(!server->started, "server already started");
    steep_rpc_ignore_sigpipe();
    /* Request and response buffers of up to max_message come and go with
     * calls. glibc's default raises its mmap threshold after the first big
     * free, after which such buffers live in the heap and their pages stay
     * resident (an attack's peak is never given back). A fixed threshold
     * keeps big buffers mmapped: freed memory returns to the system. Fixing
     * it also fixes the trim threshold at its small default, which would
     * shrink and regrow the heap under ordinary churn; it is raised. */
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    GUARD(listen_socket(server));
    server->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    server->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ENSURE(server->epoll_fd >= 0 && server->event_fd >= 0, "epoll/eventfd: %s", strerror(errno));
    struct epoll_event listen_event = {.events = EPOLLIN, .data.ptr = &server->listen_fd};
    struct epoll_event wake_event = {.events = EPOLLIN, .data.ptr = &server->event_fd};
    epoll_ctl(server->epoll_fd, EPOLL_CTL_ADD, server->listen_fd, &listen_event);
    epoll_ctl(server->epoll_fd, EPOLL_CTL_ADD, server->event_fd, &wake_event);
    int workers = server->config.workers > 0 ? server->config.workers : 4;
    server->pool = steep_rpc_pool_new(workers, server->max_workers, WORKER_IDLE_MS,
                                      server->max_queued, run_and_post);
    if (!server->pool)
        return -1;
    int rc = pthread_create(&server->thread, NULL, loop, server);
    ENSURE(rc == 0, "cannot start the event loop: %s", strerror(rc));
    server->started = true;
    log_info("rpc: %s listening on port %d", server->name, server->port);
    return 0;
}

void steep_rpc_server_stop(struct steep_rpc_server *server, int grace_ms)
{
    if (!server || !server->started || server->joined)
        return;
    server->stop_deadline_ms = steep_rpc_now_ms() + (grace_ms > 0 ? grace_ms : 0);
    atomic_store(&server->stopping, true);
    wake(server);
    pthread_join(server->thread, NULL);
    server->joined = true;
}

void steep_rpc_server_free(struct steep_rpc_server *server)
{
    if (!server)
        return;
    steep_rpc_server_stop(server, 0);
    /* Timed holds end now (their continuations see the call cancelled);
     * other held calls are resumed by their holders (whose events end by
     * their own deadlines). Their continuations need the pool. */
    steep_rpc_wake_holds(server, steep_rpc_now_ms(), true);
    pthread_mutex_lock(&server->completed_lock);
    if (atomic_load(&server->parked) > 0)
        log_info("rpc: %s: waiting for %d held call(s) to be resumed", server->name,
                 atomic_load(&server->parked));
    while (atomic_load(&server->parked) > 0)
        pthread_cond_wait(&server->unparked, &server->completed_lock);
    pthread_mutex_unlock(&server->completed_lock);
    /* Handlers still running finish here; their calls are orphans by now. */
    steep_rpc_pool_free(server->pool);
    while (server->completed) {
        struct steep_rpc_call *call = server->completed;
        server->completed = call->queue_next;
        steep_rpc_call_completed(call);
    }
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    if (server->epoll_fd >= 0)
        close(server->epoll_fd);
    if (server->event_fd >= 0)
        close(server->event_fd);
    SSL_CTX_free(server->ssl_ctx);
    if (server->callbacks)
        nghttp2_session_callbacks_del(server->callbacks);
    for (size_t i = 0; i < server->n_methods; i++)
        free(server->methods[i].path);
    free(server->methods);
    pthread_mutex_destroy(&server->completed_lock);
    pthread_cond_destroy(&server->unparked);
    pthread_mutex_destroy(&server->holds_lock);
    free(server->listen);
    free(server->name);
    free(server->ca_file);
    free(server);
}

/* ---- in-memory connections, for the fuzzer ---- */

struct steep_rpc_conn *steep_rpc_memory_conn_new(struct steep_rpc_server *server)
{
    struct steep_rpc_conn *conn = calloc(1, sizeof(*conn));
    struct steep_rpc_peer *peer = calloc(1, sizeof(*peer));
    if (!conn || !peer) {
        free(conn);
        free(peer);
        return NULL;
    }
    server->inline_handlers = true;
    atomic_init(&peer->references, 1);
    conn->server = server;
    conn->peer = peer;
    conn->transport.fd = -1;
    conn->handshake_done = true;
    if (steep_rpc_conn_open_session(conn) < 0) {
        steep_rpc_memory_conn_free(conn);
        return NULL;
    }
    return conn;
}

int steep_rpc_memory_conn_feed(struct steep_rpc_conn *conn, const uint8_t *data, size_t len)
{
    ssize_t used = nghttp2_session_mem_recv(conn->session, data, len);
    steep_rpc_server_dispatch_ready(conn->server);
    ENSURE(used == (ssize_t)len, "HTTP/2 protocol error: %s", nghttp2_strerror((int)used));
    GUARD(steep_rpc_transport_flush(&conn->transport, conn->session));
    conn->server->next_deadline_ms = steep_rpc_expire_deadlines(conn->server, steep_rpc_now_ms());
    return steep_rpc_transport_flush(&conn->transport, conn->session);
}

void steep_rpc_memory_conn_free(struct steep_rpc_conn *conn)
{
    if (conn->session)
        steep_rpc_conn_release(conn);
    steep_rpc_peer_release(conn->peer);
    steep_buf_free(&conn->transport.out);
    free(conn);
}
