/*
 * Internals of the RPC client shared by client.c (the public API, on the
 * calling threads) and client_loop.c (the connection, on the client's
 * event-loop thread). See client.c for the design.
 */
#ifndef STEEP_RPC_CLIENT_INTERNAL_H
#define STEEP_RPC_CLIENT_INTERNAL_H

#include "rpc/internal.h"

enum client_state { STATE_IDLE, STATE_CONNECTING, STATE_HANDSHAKING, STATE_READY };

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
};

struct steep_rpc_client {
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
/* The event-loop thread's body (pthread start routine). */
void *steep_rpc_client_loop(void *arg);

#endif
