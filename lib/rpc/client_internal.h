/*
 * Internals of the RPC client shared by client.c (the public API, on the
 * calling threads) and client_loop.c (the connection, on the client's
 * event-loop thread). See client.c for the design.
 */
#ifndef STEEP_RPC_CLIENT_INTERNAL_H
#define STEEP_RPC_CLIENT_INTERNAL_H

#include "rpc/internal.h"

enum client_state { STATE_IDLE, STATE_CONNECTING, STATE_HANDSHAKING, STATE_READY };

struct client_stream; /* client_stream.c: the messages of a server-streaming call */

struct client_call {
    struct client_call *next; /* submitted queue, waiting list */
    struct client_call *active_prev, *active_next;
    const char *path;
    const struct steep_rpc_metadata *metadata;
    size_t n_metadata;
    struct steep_buf request;
    size_t request_sent;
    int64_t deadline_ms;
    int timeout_ms;
    int32_t stream_id;
    bool active, retried, headers_seen, want_metadata;
    int http_status;
    bool have_grpc_status;
    int grpc_status;
    struct steep_rpc_frame_reader reader;
    struct steep_rpc_headers received;
    /* result */
    int code;
    char message[512];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    struct steep_rpc_client *client; /* set when submitted (counted in pending) */
    /* steep_rpc_call_async: run on completion instead of waking a thread */
    void (*on_done)(struct client_call *call);
    struct client_stream *stream; /* NULL: a unary call */
    bool cancel_requested;        /* guarded by the client's lock */
};

struct steep_rpc_client {
    /* A client of several replicas (client_failover.c): its members, one
     * client per address, and the one calls go to first. NULL: a plain
     * client, every field below in use. */
    struct steep_rpc_client **members;
    size_t n_members;
    atomic_size_t current;
    /* per member: when its last call failed UNAVAILABLE (0: it served) */
    _Atomic int64_t *member_failed_ms;
    struct steep_rpc_client_config config;
    char *address, *server_name, *ca_file;
    bool check_host;
    char authority[300];
    SSL_CTX *ssl_ctx;
    nghttp2_session_callbacks *callbacks;
    size_t max_message;
    int connect_timeout_ms;
    pthread_t thread;
    int epoll_fd, event_fd;
    pthread_mutex_t lock;
    struct client_call *submitted_head, *submitted_tail;
    bool stopping;
    /* calls submitted and not complete, and their ceiling (config max_pending) */
    atomic_int pending;
    int max_pending;
    bool cancel_pending; /* a call has cancel_requested set */
    bool reset_pending;  /* steep_rpc_client_reset_connection was called */
    /* owned by the loop thread */
    enum client_state state;
    struct steep_rpc_transport transport;
    struct steep_rpc_tls_peer tls;
    nghttp2_session *session;
    bool watching_write, draining;
    int64_t connect_deadline_ms;
    struct client_call *waiting_head, *waiting_tail;
    struct client_call *active;
    int64_t next_deadline_ms;
};

/* Records the result and wakes the calling thread; the call must not be
 * touched afterwards. fmt NULL keeps the message already in the call. */
void steep_rpc_client_call_complete(struct client_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int steep_rpc_client_callbacks_new(struct steep_rpc_client *client);
/* Hands a call (request framed, lock and cond initialised) to the loop. */
void steep_rpc_client_submit(struct steep_rpc_client *client, struct client_call *call);
/* On the loop thread, for a streaming call: queues the complete messages
 * in data for the reader. 0, or a gRPC code with call->reader.reason set. */
int steep_rpc_client_stream_feed(struct steep_rpc_client *client, struct client_call *call,
                                 const uint8_t *data, size_t len);
/* At the end of a streaming call: non-zero when a message was cut short. */
int steep_rpc_client_stream_finish(struct client_call *call);
/* Drops the connection (on the loop thread, soon): its calls fail
 * UNAVAILABLE and the next call connects again. For a peer that stopped
 * answering without its connection being known lost (client_failover.c). */
void steep_rpc_client_reset_connection(struct steep_rpc_client *client);
/* client_failover.c: a client over the comma-separated addresses in
 * config->address, and its calls (see there). */
struct steep_rpc_client *steep_rpc_failover_new(const struct steep_rpc_client_config *config);
void steep_rpc_failover_free(struct steep_rpc_client *client);
int steep_rpc_failover_call(struct steep_rpc_client *client, const char *path,
                            const ProtobufCMessage *request,
                            const ProtobufCMessageDescriptor *response_type,
                            ProtobufCMessage **response, const struct steep_rpc_metadata *metadata,
                            size_t n_metadata, int timeout_ms, struct steep_rpc_status *status,
                            struct steep_rpc_received_metadata *received);
int steep_rpc_failover_call_async(struct steep_rpc_client *client, const char *path,
                                  const ProtobufCMessage *request,
                                  const ProtobufCMessageDescriptor *response_type,
                                  const struct steep_rpc_metadata *metadata, size_t n_metadata,
                                  int timeout_ms, steep_rpc_done_fn done, void *arg);
/* The member a call that cannot move (a stream, a raw call) goes to. */
struct steep_rpc_client *steep_rpc_failover_member(struct steep_rpc_client *client);
void steep_rpc_failover_unavailable(struct steep_rpc_client *client,
                                    struct steep_rpc_client *member);

/* The event-loop thread's body (pthread start routine). */
void *steep_rpc_client_loop(void *arg);

#endif
