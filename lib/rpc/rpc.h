/*
 * gRPC over HTTP/2 over TLS: the contract every Steep service uses.
 *
 * Unary calls, and server-streaming calls on the client (steep_rpc_stream_*).
 * The server runs the TLS/HTTP/2 I/O on its own event threads and calls
 * handlers on a bounded pool of worker threads, so a handler may block
 * briefly (call other services) without stalling other streams or
 * connections; one that waits for an event holds its call instead
 * (steep_rpc_call_hold). A handler answers exactly once, with
 * steep_rpc_reply() or steep_rpc_fail(); one that returns without answering
 * (or holding) is answered INTERNAL.
 *
 * The client keeps one HTTP/2 connection per peer, multiplexes calls from
 * many threads on it, reconnects after failure and applies per-call
 * deadlines (sent as grpc-timeout).
 *
 * TLS is always on: TLS 1.3 or 1.2 (ECDHE with AES-GCM or CHACHA20 only),
 * ALPN "h2" required. Certificates come from a credentials callback so they
 * can be renewed without a restart (new handshakes use the new ones); peer
 * certificates go through a verification hook (attestation plugs in here).
 *
 * Usage (server):
 *     static void get(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
 *     {
 *         const TeaclaveStorageServiceProto__GetRequest *request = (const void *)message;
 *         TeaclaveStorageServiceProto__GetResponse reply = ..._GET_RESPONSE__INIT;
 *         if (!found) {
 *             steep_rpc_fail(call, STEEP_GRPC_INTERNAL, "invalid response");
 *             return;
 *         }
 *         steep_rpc_reply(call, &reply.base);    // packed at once: reply may be on the stack
 *     }
 *     struct steep_rpc_server_config config = {.listen = "0.0.0.0:17778", .tls = tls,
 *                                              .name = "storage"};
 *     struct steep_rpc_server *server = steep_rpc_server_new(&config);
 *     steep_rpc_server_add(server, "/teaclave_storage_service_proto.TeaclaveStorage/Get",
 *                          &teaclave_storage_service_proto__get_request__descriptor, get, ctx);
 *     steep_rpc_server_start(server);  ...  steep_rpc_server_stop(server, 5000);
 *     steep_rpc_server_free(server);
 * Usage (client; one per peer, shared by all threads):
 *     struct steep_rpc_client *client = steep_rpc_client_new(&(struct steep_rpc_client_config){
 *         .address = "localhost:17778", .tls = tls});
 *     ProtobufCMessage *response; struct steep_rpc_status status;
 *     if (steep_rpc_call(client, path, &request.base,
 *                        &teaclave_storage_service_proto__get_response__descriptor, &response,
 *                        NULL, 0, 5000, &status) < 0)
 *         log_warn("%s: %s", steep_grpc_code_name(status.code), status.message);
 *     else protobuf_c_message_free_unpacked(response, NULL);
 *
 * Threads: the credentials callback and the verify hook run on the event
 * thread during handshakes (keep them quick: return cached credentials).
 * Methods registered with steep_rpc_server_add_inline (opt-in, for handlers
 * that never block) also run on the event thread. Other handlers run on
 * the worker pool, which grows while all workers are busy (up to
 * max_workers) and shrinks after 10 s idle; a handler may block. Once the
 * pool is at its ceiling at most max_queued calls wait for a worker; more
 * are answered RESOURCE_EXHAUSTED. A call the client cancels before its
 * handler starts is dropped without running it. A handler that waits for
 * an event (a long poll) should not block its worker: it holds the call
 * (steep_rpc_call_hold) and returns, and whoever sees the event resumes it
 * (steep_rpc_call_resume). The first server or client sets SIGPIPE to
 * SIG_IGN if it was still SIG_DFL.
 */
#ifndef STEEP_RPC_RPC_H
#define STEEP_RPC_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
enum steep_grpc_code {
    STEEP_GRPC_OK = 0,
    STEEP_GRPC_CANCELLED = 1,
    STEEP_GRPC_UNKNOWN = 2,
    STEEP_GRPC_INVALID_ARGUMENT = 3,
    STEEP_GRPC_DEADLINE_EXCEEDED = 4,
    STEEP_GRPC_NOT_FOUND = 5,
    STEEP_GRPC_ALREADY_EXISTS = 6,
    STEEP_GRPC_PERMISSION_DENIED = 7,
    STEEP_GRPC_RESOURCE_EXHAUSTED = 8,
    STEEP_GRPC_FAILED_PRECONDITION = 9,
    STEEP_GRPC_ABORTED = 10,
    STEEP_GRPC_OUT_OF_RANGE = 11,
    STEEP_GRPC_UNIMPLEMENTED = 12,
    STEEP_GRPC_INTERNAL = 13,
    STEEP_GRPC_UNAVAILABLE = 14,
    STEEP_GRPC_DATA_LOSS = 15,
    STEEP_GRPC_UNAUTHENTICATED = 16,
};

const char *steep_grpc_code_name(int code);

#define STEEP_RPC_DEFAULT_MAX_MESSAGE (4u * 1024 * 1024)
/* The limit between services when callers' messages are max_message. An
 * internal call carries callers' messages inside its own records, JSON-
 * escaped: a task record holds the arguments (up to twice their size
 * escaped) and the result (a byte array, up to four times), and a
 * compare-and-swap carries the old and the new record. Internal peers are
 * attested services, so the larger limit is not open to clients. */
static inline size_t steep_rpc_internal_max_message(size_t max_message)
{
    return 10 * max_message + 1024 * 1024;
}

/* ---- TLS ---------------------------------------------------------------- */

/*
 * Returns this side's current certificate and key, each with a reference the
 * caller owns (X509_up_ref / EVP_PKEY_up_ref). Called for every handshake,
 * so renewed credentials take effect without a restart. Returns 0 or -1.
 */
typedef int (*steep_tls_credentials_fn)(void *arg, X509 **cert, EVP_PKEY **key);

/*
 * Decides whether to accept the peer's certificate chain (leaf first).
 * On acceptance returns 0 and may write the peer's identity (e.g.
 * "teaclave_frontend_service") into peer_name; on refusal returns -1 with a
 * reason in `reason`. The reason is logged and the handshake fails.
 */
typedef int (*steep_tls_verify_fn)(void *arg, X509 *leaf, STACK_OF(X509) * chain, char *peer_name,
                                   size_t peer_name_len, char *reason, size_t reason_len);

struct steep_tls_config {
    steep_tls_credentials_fn credentials; /* required on servers; optional on clients */
    void *credentials_arg;
    steep_tls_verify_fn verify_peer; /* NULL: see ca_file */
    void *verify_arg;
    /* Server: request a client certificate and refuse the handshake without one. */
    bool require_peer_cert;
    /* Used only when verify_peer is NULL: standard X.509 verification against
     * this CA file. A client with neither verifies nothing (tests only). */
    const char *ca_file;
};

/* ---- Server ------------------------------------------------------------- */

struct steep_rpc_server;
struct steep_rpc_call;

typedef void (*steep_rpc_handler_fn)(struct steep_rpc_call *call, const ProtobufCMessage *request,
                                     void *arg);
/* The continuation of a held call: runs on a worker, answers (or holds again). */
typedef void (*steep_rpc_resume_fn)(struct steep_rpc_call *call, void *arg);

struct steep_rpc_server_config {
    const char *listen; /* "host:port"; port 0 picks a free one */
    struct steep_tls_config tls;
    size_t max_message; /* request and response limit; 0: STEEP_RPC_DEFAULT_MAX_MESSAGE */
    /* A larger response limit (0: max_message): a response may carry back
     * what several requests sent, e.g. a task's arguments and its result. */
    size_t max_response;
    /* Handler threads kept ready; the pool grows while all are busy (up to
     * max_workers) and shrinks back after 10 s idle. 0: 4. */
    int workers;
    /*
     * Ceilings on handler threads and on calls waiting for one (issue 14,
     * item 8). Once max_workers handlers run, at most max_queued complete
     * requests wait; a request over both is answered RESOURCE_EXHAUSTED at
     * once, without running anything. Held calls (steep_rpc_call_hold)
     * count against neither while parked.
     *   max_workers: 0: 1024 (at least workers)    max_queued: 0: 1024
     */
    int max_workers;
    int max_queued;
    const char *name; /* for logs, e.g. "storage" */
    /*
     * Bounds on requests still arriving (body hoarding): request bytes
     * (metadata and message) buffered by calls not yet handed to a handler.
     * Over the connection's bound the call that brings more is refused; over
     * the server's the OLDEST incomplete calls are refused until there is
     * room, so a peer holding streams open loses them first. A request must
     * also arrive whole within receive_timeout_ms of its headers. Refused
     * calls get RESOURCE_EXHAUSTED and their stream is reset; their memory
     * is freed at once.
     *   max_buffered: 0: 128 MiB (at least 4 x max_message)
     *   max_connection_buffered: 0: 32 MiB (at least 2 x max_message)
     *   receive_timeout_ms: 0: 20000
     */
    size_t max_buffered;
    size_t max_connection_buffered;
    int receive_timeout_ms;
    /*
     * Bounds on connections (idle connections, issue 14 item 5). A
     * connection without calls for idle_timeout_ms gets GOAWAY and is
     * closed (clients reconnect on their next call); one that has not
     * finished its TLS handshake after handshake_timeout_ms is closed. At
     * max_connections the connection idle the longest is closed to make
     * room (a new one is refused only when every connection has calls);
     * a source address with max_connections_per_source connections gets no
     * more.
     *   idle_timeout_ms: 0: 120000      handshake_timeout_ms: 0: 10000
     *   max_connections: 0: the descriptor limit less a quarter (at least
     *     64 kept for the service's own files and clients)
     *   max_connections_per_source: 0: 256
     */
    int idle_timeout_ms;
    int handshake_timeout_ms;
    int max_connections;
    int max_connections_per_source;
    /*
     * Bounds on answers not yet sent (unread responses, issue 14 item 6).
     * A response whose stream makes no progress for send_timeout_ms (the
     * peer does not read, or keeps its window shut) is reset (RST_STREAM
     * CANCEL) and freed. An answer that would take its connection over
     * max_connection_unsent, or the server over max_unsent (after resetting
     * streams stalled for over a second to make room; answers up to 64 KiB
     * skip the server's bound), is replaced by RESOURCE_EXHAUSTED.
     *   max_unsent: 0: 256 MiB (at least 4 x max_message)
     *   max_connection_unsent: 0: 64 MiB (at least 2 x max_message)
     *   send_timeout_ms: 0: 20000
     */
    size_t max_unsent;
    size_t max_connection_unsent;
    int send_timeout_ms;
};

struct steep_rpc_server *steep_rpc_server_new(const struct steep_rpc_server_config *config);
/* Registers a unary method. path is the full ":path", e.g.
 * "/teaclave_storage_service_proto.TeaclaveStorage/Get". */
int steep_rpc_server_add(struct steep_rpc_server *server, const char *path,
                         const ProtobufCMessageDescriptor *request_type,
                         steep_rpc_handler_fn handler, void *arg);
/*
 * Registers a unary method whose handler NEVER BLOCKS. It runs directly on
 * the server's event-loop thread, and its answer is sent without a trip
 * through the worker pool, which makes short calls (a storage read) much
 * cheaper. The price: while it runs, NO other call or connection of this
 * server makes progress. So the handler must finish in microseconds and:
 *   - hold no lock that another thread may keep for long (short internal
 *     locks such as LevelDB's or a context cache's are fine);
 *   - do no I/O that waits (no network, no fsync, no waiting on a commit,
 *     a condition variable, a sleep or a long poll);
 *   - never call another service (steep_rpc_call on the loop deadlocks
 *     when the peer is this server, and stalls it otherwise);
 *   - do no unbounded work (bound any scan by the message limit).
 * Everything else of the handler contract holds unchanged: answer exactly
 * once, metadata, steep_rpc_call_cancelled / remaining_ms, status, the
 * deadline. When in doubt, use steep_rpc_server_add.
 */
int steep_rpc_server_add_inline(struct steep_rpc_server *server, const char *path,
                                const ProtobufCMessageDescriptor *request_type,
                                steep_rpc_handler_fn handler, void *arg);
/* Counters of the server's work (for tests, logs and metrics). */
struct steep_rpc_server_stats {
    uint64_t handled;           /* handlers started */
    uint64_t dropped_cancelled; /* calls cancelled before their handler started, never run */
    uint64_t refused_busy;      /* calls refused: every worker busy and the queue full */
    int workers;                /* handler threads now */
    int parked;                 /* held calls waiting for steep_rpc_call_resume */
};
void steep_rpc_server_stats(struct steep_rpc_server *server, struct steep_rpc_server_stats *stats);
/* Binds and starts serving in background threads. */
int steep_rpc_server_start(struct steep_rpc_server *server);
int steep_rpc_server_port(const struct steep_rpc_server *server);
/* Stops accepting, lets in-flight calls finish (up to grace_ms), closes. */
void steep_rpc_server_stop(struct steep_rpc_server *server, int grace_ms);
void steep_rpc_server_free(struct steep_rpc_server *server);

/* Inside a handler. */
const char *steep_rpc_call_metadata(const struct steep_rpc_call *call, const char *key);
void steep_rpc_call_add_metadata(struct steep_rpc_call *call, const char *key, const char *value);
/* The identity the verify hook gave the peer ("" when none). */
const char *steep_rpc_call_peer_name(const struct steep_rpc_call *call);
/* The peer's socket address. */
void steep_rpc_call_peer_addr(const struct steep_rpc_call *call, struct sockaddr_storage *addr,
                              socklen_t *len);
/* Milliseconds left before the client's grpc-timeout; -1 when none. */
int64_t steep_rpc_call_remaining_ms(const struct steep_rpc_call *call);
/* True once the client reset the stream, the deadline passed or the server
 * stops. A long poll should check it (or steep_rpc_call_remaining_ms) and
 * answer early; an answer given after the deadline is replaced by
 * DEADLINE_EXCEEDED. */
bool steep_rpc_call_cancelled(const struct steep_rpc_call *call);
/* Answers with response (packed immediately: the caller keeps ownership).
 * Over the server's max_message it becomes RESOURCE_EXHAUSTED. */
void steep_rpc_reply(struct steep_rpc_call *call, const ProtobufCMessage *response);
void steep_rpc_fail(struct steep_rpc_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Held calls (issue 14, item 7: long polls must not occupy workers). A
 * handler (or a continuation) that must wait for an event calls
 * steep_rpc_call_hold and returns without answering: the call stays open
 * with no thread. Later, from any thread and exactly once,
 * steep_rpc_call_resume queues fn(call, arg) on the server's workers (past
 * the queue bound), where it answers (or holds again). The request message
 * given to the handler is freed when the handler returns: copy what the
 * continuation needs; metadata, the peer and the deadline stay readable.
 * A call cancelled while held (client gone, deadline, stop) must still be
 * resumed: its answer is then discarded. Every held call must be resumed
 * eventually; steep_rpc_server_free waits for it. Not for inline methods.
 */
void steep_rpc_call_hold(struct steep_rpc_call *call);
void steep_rpc_call_resume(struct steep_rpc_call *call, steep_rpc_resume_fn fn, void *arg);
/*
 * A hold that ends by itself, for long polls whose event is a wake-up
 * (a commit, a watch): like steep_rpc_call_hold with the continuation given
 * now. The first of these resumes it with fn(call, arg), once: a
 * steep_rpc_call_wake, timeout_ms passing (at most the call's deadline),
 * or the call being cancelled (client reset or gone, deadline, server
 * stop: at once, so the holder frees what it holds). The continuation
 * tells them apart itself (steep_rpc_call_cancelled, its own clock and
 * state) and may hold again. A wake that comes while the call is not held
 * (before the hold, or while the continuation runs) ends the next hold at
 * once, so a waker that records its event and then wakes is never lost.
 * The holder must stop its wakers before the call is answered: after
 * that, the call may be freed. Its waits count as parked (server stats).
 */
void steep_rpc_call_hold_until(struct steep_rpc_call *call, int timeout_ms, steep_rpc_resume_fn fn,
                               void *arg);
void steep_rpc_call_wake(struct steep_rpc_call *call);

/* ---- Client ------------------------------------------------------------- */

struct steep_rpc_client;

struct steep_rpc_client_config {
    /* "host:port", or the replicas of one peer "host1:port1,host2:port2"
     * (calls fail over between them: client_failover.c) */
    const char *address;
    const char *server_name; /* SNI; NULL: the host of address */
    struct steep_tls_config tls;
    size_t max_message;     /* response limit; 0: STEEP_RPC_DEFAULT_MAX_MESSAGE */
    int connect_timeout_ms; /* TCP connect + TLS handshake; 0: 5000 */
    /* Calls submitted and not yet complete; one more fails at once with
     * RESOURCE_EXHAUSTED. 0: 4096. */
    int max_pending;
};

struct steep_rpc_metadata {
    const char *key;
    const char *value;
};

struct steep_rpc_status {
    int code;          /* enum steep_grpc_code */
    char message[512]; /* percent-decoded grpc-message, or a transport error */
};

struct steep_rpc_client *steep_rpc_client_new(const struct steep_rpc_client_config *config);
/*
 * One unary call. On OK returns 0 and sets *response (free it with
 * protobuf_c_message_free_unpacked(*response, NULL)). Otherwise returns -1
 * with status filled: the server's status, or UNAVAILABLE / DEADLINE_EXCEEDED
 * for transport failures. timeout_ms <= 0 means no deadline. Thread-safe.
 */
int steep_rpc_call(struct steep_rpc_client *client, const char *path,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                   ProtobufCMessage **response, const struct steep_rpc_metadata *metadata,
                   size_t n_metadata, int timeout_ms, struct steep_rpc_status *status);
void steep_rpc_client_free(struct steep_rpc_client *client);

/*
 * An asynchronous unary call: returns at once; done(arg, response, status)
 * runs exactly once when the call ends, on the client's event-loop thread
 * (so it must not block: hand slow work to another thread, e.g. with
 * steep_rpc_call_resume), or on the calling thread before this returns when
 * the call is refused at once. response (NULL unless status->code is OK)
 * belongs to done. Returns -1 (done never runs) only when the request
 * cannot be encoded or memory is short. path, request and metadata are
 * copied.
 */
typedef void (*steep_rpc_done_fn)(void *arg, ProtobufCMessage *response,
                                  const struct steep_rpc_status *status);
int steep_rpc_call_async(struct steep_rpc_client *client, const char *path,
                         const ProtobufCMessage *request,
                         const ProtobufCMessageDescriptor *response_type,
                         const struct steep_rpc_metadata *metadata, size_t n_metadata,
                         int timeout_ms, steep_rpc_done_fn done, void *arg);

/* Response metadata of one call: the server's headers and trailers other
 * than gRPC's own (content-type, grpc-status, grpc-message). */
struct steep_rpc_received_metadata {
    struct steep_rpc_metadata *items;
    size_t count;
};
/* steep_rpc_call that also returns the response metadata (on success and on
 * failure); free it with steep_rpc_received_metadata_free. */
int steep_rpc_call_with_metadata(struct steep_rpc_client *client, const char *path,
                                 const ProtobufCMessage *request,
                                 const ProtobufCMessageDescriptor *response_type,
                                 ProtobufCMessage **response,
                                 const struct steep_rpc_metadata *metadata, size_t n_metadata,
                                 int timeout_ms, struct steep_rpc_status *status,
                                 struct steep_rpc_received_metadata *received);
/*
 * Server-streaming calls: one request, then the server's messages one by
 * one until its trailers (etcd's Watch, used with a single create request).
 * open never blocks: the request goes out on the client's connection and
 * failures show up in next. timeout_ms bounds the whole stream (<= 0: none).
 * next waits up to wait_ms for a message: STEEP_RPC_STREAM_MESSAGE with
 * *message (free with protobuf_c_message_free_unpacked), STEEP_RPC_STREAM_WAITING
 * when none came in time, STEEP_RPC_STREAM_END when the server ended the
 * stream with OK, or -1 with status (the server's status, a transport
 * failure, DEADLINE_EXCEEDED). close resets a stream still open and frees it;
 * one thread uses a stream at a time.
 */
struct steep_rpc_stream;
enum { STEEP_RPC_STREAM_MESSAGE = 0, STEEP_RPC_STREAM_END = 1, STEEP_RPC_STREAM_WAITING = 2 };
int steep_rpc_stream_open(struct steep_rpc_client *client, const char *path,
                          const ProtobufCMessage *request, int timeout_ms,
                          struct steep_rpc_stream **out, struct steep_rpc_status *status);
int steep_rpc_stream_next(struct steep_rpc_stream *stream, const ProtobufCMessageDescriptor *type,
                          ProtobufCMessage **message, int wait_ms, struct steep_rpc_status *status);
void steep_rpc_stream_close(struct steep_rpc_stream *stream);

const char *steep_rpc_received_metadata_get(const struct steep_rpc_received_metadata *received,
                                            const char *key);
void steep_rpc_received_metadata_free(struct steep_rpc_received_metadata *received);

#endif
