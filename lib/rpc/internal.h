/*
 * Internals of the RPC layer shared by its files (not for services).
 *
 * Server side, the objects are: a server with one event loop thread (epoll)
 * that owns every connection, and a worker pool that runs handlers. A call
 * is created on the loop when a request's headers arrive, travels to a
 * worker once its message is complete, and comes back to the loop through
 * the loop's completion queue (mutex + eventfd) carrying the response.
 * A method registered inline (steep_rpc_server_add_inline) skips both
 * hand-offs: its handler runs on the loop as soon as the message is
 * complete and the response is submitted before the loop flushes.
 * A complete request is not dispatched from inside nghttp2's callback but
 * put on the server's ready list, dispatched after the whole batch of I/O:
 * a call its peer reset in the same batch is dropped there, before any
 * handler runs (issue 14 item 8). The pool has a thread ceiling and a
 * bounded queue; a call over both is answered RESOURCE_EXHAUSTED on the
 * loop. A held call (steep_rpc_call_hold) counts as "with a worker" while
 * no thread has it; its continuation goes back through the pool.
 * A call is freed by the loop once its stream is closed AND it is no longer
 * with a worker, whichever happens last.
 *
 * The HTTP/2 + gRPC request handling (session.c) does not know about
 * sockets or TLS: it reads and writes bytes through the connection's
 * transport, which is TLS over a socket in the server and memory in the
 * fuzzer.
 */
#ifndef STEEP_RPC_INTERNAL_H
#define STEEP_RPC_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/buf.h"
#include "rpc/rpc.h"
#include "rpc/wire.h"

#define STEEP_RPC_NAME_MAX 256

int64_t steep_rpc_now_ms(void);

/* ---- TLS (tls.c) ---- */

/* Per-handshake results, attached to the SSL object. */
struct steep_rpc_tls_peer {
    char name[STEEP_RPC_NAME_MAX];    /* from the verify hook */
    char refusal[STEEP_RPC_NAME_MAX]; /* why the peer's certificate was refused */
};

SSL_CTX *steep_rpc_tls_context(const struct steep_tls_config *config, bool server);
void steep_rpc_tls_attach(SSL *ssl, struct steep_rpc_tls_peer *peer);
/* True when ALPN selected "h2". */
bool steep_rpc_tls_alpn_ok(SSL *ssl);
/* Describes the last TLS failure of ssl into out (OpenSSL error queue + refusal). */
void steep_rpc_tls_describe_error(SSL *ssl, const struct steep_rpc_tls_peer *peer, char *out,
                                  size_t out_len);

/* ---- Non-blocking TLS transport for an nghttp2 session (transport.c) ---- */

struct steep_rpc_transport {
    int fd;
    SSL *ssl;
    struct steep_buf out; /* serialized HTTP/2 not yet written */
    size_t out_pos;
    bool want_write; /* a write would block: wait for EPOLLOUT */
};

/* Reads everything available into the session. Returns 0, or -1 on EOF or error. */
int steep_rpc_transport_read(struct steep_rpc_transport *transport, nghttp2_session *session);
/* Serializes pending frames and writes them. Returns 0 (possibly with
 * want_write set), or -1 on error. */
int steep_rpc_transport_flush(struct steep_rpc_transport *transport, nghttp2_session *session);
/* SIGPIPE to SIG_IGN when it is still SIG_DFL (once per process). */
void steep_rpc_ignore_sigpipe(void);
/* For nghttp2 data providers: copies the next bytes of source after *sent
 * into out (at most length), advances *sent, returns the count. */
size_t steep_rpc_copy_out(const struct steep_buf *source, size_t *sent, uint8_t *out,
                          size_t length);
/* "host:port" → resolved address. */
int steep_rpc_resolve(const char *address, bool passive, struct sockaddr_storage *addr,
                      socklen_t *len);

/* Tests only: sends body as the raw HTTP/2 request body (no framing added). */
struct steep_rpc_client;
int steep_rpc_call_raw(struct steep_rpc_client *client, const char *path, const uint8_t *body,
                       size_t len, int timeout_ms, struct steep_rpc_status *status);

/* ---- Server ---- */

struct steep_rpc_method {
    char *path;
    const ProtobufCMessageDescriptor *request_type;
    steep_rpc_handler_fn handler;
    void *arg;
    bool on_loop; /* registered with steep_rpc_server_add_inline: runs on the event loop */
};

struct steep_rpc_header {
    char *key;
    char *value;
};

struct steep_rpc_headers {
    struct steep_rpc_header *items;
    size_t count, capacity;
};

int steep_rpc_headers_add(struct steep_rpc_headers *headers, const char *key, size_t key_len,
                          const char *value, size_t value_len);
const char *steep_rpc_headers_get(const struct steep_rpc_headers *headers, const char *key);
void steep_rpc_headers_free(struct steep_rpc_headers *headers);

/* Who is at the other end of a connection; shared by its calls (refcounted). */
struct steep_rpc_peer {
    atomic_int references;
    char name[STEEP_RPC_NAME_MAX];
    struct sockaddr_storage addr;
    socklen_t addr_len;
};

struct steep_rpc_loop;
struct steep_rpc_conn;

struct steep_rpc_call {
    struct steep_rpc_server *server;
    struct steep_rpc_conn *conn; /* NULL once the stream or connection is gone */
    struct steep_rpc_call *conn_prev, *conn_next;
    struct steep_rpc_call *deadline_prev, *deadline_next;
    struct steep_rpc_call *queue_next; /* worker queue, then completion queue */
    struct steep_rpc_peer *peer;
    int32_t stream_id;
    const struct steep_rpc_method *method;
    struct steep_rpc_headers metadata;
    size_t metadata_bytes;
    size_t buffered; /* request bytes counted in conn->buffered and server->buffered */
    /* loop-side: in server->receiving (headers seen, request not complete) */
    struct steep_rpc_call *receiving_prev, *receiving_next;
    bool receiving;
    int64_t started_ms; /* when the headers began */
    /* loop-side: in server->sending (response submitted, bytes left to send) */
    struct steep_rpc_call *sending_prev, *sending_next;
    bool sending;
    size_t unsent; /* answer bytes counted in server->unsent (and conn->unsent while sending) */
    int64_t last_progress_ms; /* last time response bytes went out */
    int64_t deadline_ms;      /* monotonic; 0: none */
    struct steep_rpc_frame_reader reader;
    int refused;                /* gRPC status decided before dispatch; 0: none */
    const char *refused_reason; /* static text */
    bool in_worker;             /* loop-side: handed to a worker, not yet back */
    bool responded;             /* loop-side: response submitted to nghttp2 */
    bool on_deadline_list;
    bool reset_after_response; /* answered before the request ended: RST_STREAM once sent */
    atomic_bool cancelled;
    /* Held calls (steep_rpc_call_hold): enum steep_rpc_hold_state, and the
     * continuation steep_rpc_call_resume asked for. */
    atomic_int hold;
    steep_rpc_resume_fn resume_fn;
    void *resume_arg;
    /* Timed holds (steep_rpc_call_hold_until), guarded by server->holds_lock:
     * in server->timed_holds while held; a wake that found it not there. */
    struct steep_rpc_call *hold_prev, *hold_next;
    bool hold_linked;
    bool wake_pending;
    int64_t hold_until_ms;
    /* Written by the handler's thread, read by the loop after completion. */
    ProtobufCMessage *request;
    bool answered;
    int status;
    char *status_message;
    struct steep_rpc_headers response_metadata;
    struct steep_buf response; /* framed message */
    size_t response_sent;
};

/* A call's hold state. NONE -> HELD (the handler asked to hold) -> PARKED
 * (the handler returned: no thread has the call) -> NONE (resumed: the
 * continuation is queued). A resume that comes while the handler is still
 * running turns HELD into RESUMED, and the handler's thread runs the
 * continuation itself once the handler returns. */
enum steep_rpc_hold_state { HOLD_NONE, HOLD_HELD, HOLD_PARKED, HOLD_RESUMED };

struct steep_rpc_conn {
    struct steep_rpc_server *server;
    struct steep_rpc_conn *prev, *next;
    struct steep_rpc_transport transport; /* fd -1: in-memory (fuzzing) */
    struct steep_rpc_tls_peer tls;
    bool handshake_done;
    bool closed;         /* freed after the current batch of events */
    bool watching_write; /* EPOLLOUT registered */
    bool dirty;          /* in the server's list of connections to flush */
    struct steep_rpc_conn *dirty_next;
    int64_t handshake_deadline_ms;
    int64_t idle_since_ms; /* when the last call left (or accept); meaningful while calls == NULL */
    bool going_away;       /* GOAWAY for idleness submitted (at going_away_ms) */
    int64_t going_away_ms;
    nghttp2_session *session;
    struct steep_rpc_peer *peer;
    struct steep_rpc_call *calls;
    size_t buffered; /* request bytes held by calls not yet handed to workers */
    size_t unsent;   /* response bytes of submitted answers not yet sent */
};

struct steep_rpc_pool;

struct steep_rpc_server {
    struct steep_rpc_server_config config;
    char *listen;
    char *name;
    char *ca_file;
    size_t max_message;
    size_t max_response;
    size_t max_buffered, max_connection_buffered;
    int64_t receive_timeout_ms;
    int64_t idle_timeout_ms, handshake_timeout_ms;
    int max_connections, max_connections_per_source;
    int n_conns;
    uint64_t refused_connections; /* over a connection limit (for tests and logs) */
    int64_t refusal_logged_ms;
    size_t max_unsent, max_connection_unsent;
    int64_t send_timeout_ms;
    struct steep_rpc_call *sending; /* answers still going out */
    atomic_size_t unsent;           /* reserved by answers of live calls (workers add) */
    uint64_t reset_unread;          /* streams reset or answers refused by the bounds above */
    struct steep_rpc_method *methods;
    size_t n_methods;
    SSL_CTX *ssl_ctx;
    nghttp2_session_callbacks *callbacks;
    struct steep_rpc_pool *pool;
    int max_workers, max_queued;
    /* Complete requests not yet dispatched: handed to the pool (or run
     * inline) after the current batch of I/O, so a call the peer reset in
     * the same batch is dropped before its handler starts. */
    struct steep_rpc_call *ready, *ready_last;
    atomic_ulong handled;           /* handlers started */
    atomic_ulong dropped_cancelled; /* calls cancelled before their handler started */
    atomic_ulong refused_busy;      /* calls refused: pool and queue full */
    atomic_int parked;              /* held calls not yet resumed */
    pthread_cond_t unparked;        /* with completed_lock: parked reached 0 */
    /* Timed holds: resumed by the loop once due or cancelled. holds_check:
     * a call was cancelled (the loop looks at the list after its batch). */
    pthread_mutex_t holds_lock;
    struct steep_rpc_call *timed_holds;
    _Atomic int64_t holds_next_ms; /* earliest hold_until_ms; 0: none */
    atomic_bool holds_check;
    bool inline_handlers; /* fuzzing: run handlers on the calling thread */
    /* event loop */
    int listen_fd, epoll_fd, event_fd;
    int port;
    pthread_t thread;
    bool started, joined, stop_begun;
    atomic_bool stopping;
    int64_t stop_deadline_ms;
    int64_t accept_resume_ms; /* listener paused (out of descriptors) until then */
    struct steep_rpc_conn *conns;
    struct steep_rpc_conn *dirty;
    struct steep_rpc_conn *closed; /* to free after the current batch */
    struct steep_rpc_call *deadlines;
    int64_t next_deadline_ms;
    /* Calls still receiving, oldest first; their request bytes in total. */
    struct steep_rpc_call *receiving, *receiving_last;
    size_t buffered;
    uint64_t refused_hoarding; /* calls refused by the bounds above (for tests) */
    pthread_mutex_t completed_lock;
    struct steep_rpc_call *completed;
    atomic_int in_flight; /* calls with workers */
};

/* session.c: the HTTP/2 + gRPC request side of one connection. */
int steep_rpc_session_callbacks_new(nghttp2_session_callbacks **callbacks);
int steep_rpc_conn_open_session(struct steep_rpc_conn *conn);
/* Called on the loop when a handler finished. */
void steep_rpc_call_completed(struct steep_rpc_call *call);
/* Answers calls whose deadline passed; returns the next deadline (0: none). */
int64_t steep_rpc_expire_deadlines(struct steep_rpc_server *server, int64_t now_ms);
/* Refuses calls that did not arrive whole within receive_timeout_ms. */
void steep_rpc_expire_receiving(struct steep_rpc_server *server, int64_t now_ms);
/* Worker side, before an answer of size bytes is packed: false when the
 * server's bound on unsent answers would be passed (small answers always
 * pass). The bytes count until the answer is sent or the call freed. */
bool steep_rpc_reserve_unsent(struct steep_rpc_call *call, size_t size);
/* Resets streams whose answer made no progress for send_timeout_ms. */
void steep_rpc_expire_sending(struct steep_rpc_server *server, int64_t now_ms);
/* server.c: the connection has output to flush after the current events. */
void steep_rpc_conn_mark_dirty(struct steep_rpc_conn *conn);
/* Detaches and frees what belongs to the connection (not the transport). */
void steep_rpc_conn_release(struct steep_rpc_conn *conn);
void steep_rpc_call_free(struct steep_rpc_call *call);
void steep_rpc_peer_release(struct steep_rpc_peer *peer);

/* call.c: decode, run the handler, record its answer (worker side). */
void steep_rpc_call_run(struct steep_rpc_call *call);
void steep_rpc_call_check_answered(struct steep_rpc_call *call);

/* strings.c: 0 when every string field of the wire message (any depth) is
 * UTF-8 without NUL; else -1 with the offending field named in why. */
int steep_rpc_check_strings(const ProtobufCMessageDescriptor *type, const uint8_t *data, size_t len,
                            char *why, size_t why_len);

/* server.c: a complete request, dispatched after the current I/O batch. */
void steep_rpc_server_ready(struct steep_rpc_call *call);
/* Dispatches the ready calls: drops the cancelled ones, runs inline
 * methods, hands the rest to the pool (RESOURCE_EXHAUSTED when full). */
void steep_rpc_server_dispatch_ready(struct steep_rpc_server *server);
/* In-memory connection (fuzzing): feed cleartext HTTP/2; output is discarded. */
struct steep_rpc_conn *steep_rpc_memory_conn_new(struct steep_rpc_server *server);
int steep_rpc_memory_conn_feed(struct steep_rpc_conn *conn, const uint8_t *data, size_t len);
void steep_rpc_memory_conn_free(struct steep_rpc_conn *conn);

/* pool.c: a worker pool that grows while every worker is busy, up to max,
 * and shrinks back to min after idle_ms without work. At most max_queued
 * calls wait once max threads are busy. */
struct steep_rpc_pool *steep_rpc_pool_new(int min_threads, int max_threads, int idle_ms,
                                          int max_queued, void (*run)(struct steep_rpc_call *call));
/* 0, or -1 when the pool is full (never with force: continuations). */
/* Loop side (server.c): resumes the timed holds that are due or cancelled
 * (all of them when all is set); returns the next due time (0: none). */
int64_t steep_rpc_wake_holds(struct steep_rpc_server *server, int64_t now, bool all);
int steep_rpc_pool_submit(struct steep_rpc_pool *pool, struct steep_rpc_call *call, bool force);
int steep_rpc_pool_threads(struct steep_rpc_pool *pool);
/* Waits for running work to finish and all threads to exit, then frees. */
void steep_rpc_pool_free(struct steep_rpc_pool *pool);

#endif
