/*
 * The request side of a server connection: nghttp2 callbacks that turn
 * HTTP/2 streams into gRPC calls, and the submission of responses.
 *
 * Everything here runs on the connection's event loop (or the fuzzer's
 * thread). A request is checked as it arrives: the method when :path comes,
 * the message prefix when the first DATA bytes come. Failures found before
 * the handler (unknown method, oversize, compressed, bad framing) are
 * answered Trailers-Only without involving a worker; the oversize and
 * compressed cases are answered at once, so nothing more is buffered, and
 * the rest of the request stream is reset with NO_ERROR.
 *
 * Body hoarding (issue 14, item 4): a peer that opens streams, sends part
 * of a large message and never ends them would hold memory for ever. Every
 * call from its first header until its request is complete is on the
 * server's `receiving` list (oldest first) and its bytes (metadata and
 * message) count against its connection and the server. Over the
 * connection's bound the call bringing more bytes is refused; over the
 * server's the oldest receiving calls are refused until the new bytes fit
 * (an attacker's held streams are older than a live client's request,
 * which arrives in milliseconds); a call not whole after receive_timeout_ms
 * is refused too. Refusal frees the buffered bytes at once and answers
 * RESOURCE_EXHAUSTED, after which the stream is reset.
 *
 * Unread responses (issue 14, item 6): a peer that keeps its window shut
 * (or does not read its socket) while asking for big answers would make us
 * hold every answer. Answers being sent are on the server's `sending`
 * list with the time their stream last made progress; one stalled for
 * send_timeout_ms is reset (CANCEL) and its bytes stop counting. An answer
 * that would take its connection or the server over their bound of unsent
 * bytes is replaced by RESOURCE_EXHAUSTED, after streams stalled for over
 * a second were reset to make room under the server's bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/internal.h"

#define MAX_METADATA_BYTES (16 * 1024)
#define STREAM_WINDOW      (1 << 20)
#define CONNECTION_WINDOW  (16 << 20)

#define NV(name, value, value_len)                                                                 \
    {                                                                                              \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, (value_len), NGHTTP2_NV_FLAG_NONE \
    }

static void sending_release(struct steep_rpc_call *call);

void steep_rpc_peer_release(struct steep_rpc_peer *peer)
{
    if (peer && atomic_fetch_sub(&peer->references, 1) == 1)
        free(peer);
}

void steep_rpc_call_free(struct steep_rpc_call *call)
{
    sending_release(call);
    steep_rpc_frame_reader_free(&call->reader);
    steep_rpc_headers_free(&call->metadata);
    steep_rpc_headers_free(&call->response_metadata);
    steep_buf_free(&call->response);
    free(call->status_message);
    steep_rpc_peer_release(call->peer);
    free(call);
}

/* ---- deadline list (server-wide, loop-owned) ---- */

static void deadline_unlink(struct steep_rpc_call *call)
{
    if (!call->on_deadline_list)
        return;
    if (call->deadline_prev)
        call->deadline_prev->deadline_next = call->deadline_next;
    else
        call->server->deadlines = call->deadline_next;
    if (call->deadline_next)
        call->deadline_next->deadline_prev = call->deadline_prev;
    call->deadline_prev = call->deadline_next = NULL;
    call->on_deadline_list = false;
}

static void deadline_link(struct steep_rpc_call *call)
{
    struct steep_rpc_server *server = call->server;
    call->deadline_next = server->deadlines;
    call->deadline_prev = NULL;
    if (server->deadlines)
        server->deadlines->deadline_prev = call;
    server->deadlines = call;
    call->on_deadline_list = true;
}

/* ---- connection's call list ---- */

/* ---- calls still receiving (server-wide, loop-owned, oldest first) ---- */

static void receiving_link(struct steep_rpc_call *call)
{
    struct steep_rpc_server *server = call->server;
    call->receiving_prev = server->receiving_last;
    call->receiving_next = NULL;
    if (server->receiving_last)
        server->receiving_last->receiving_next = call;
    else
        server->receiving = call;
    server->receiving_last = call;
    call->receiving = true;
}

static void receiving_unlink(struct steep_rpc_call *call)
{
    struct steep_rpc_server *server = call->server;
    if (!call->receiving)
        return;
    if (call->receiving_prev)
        call->receiving_prev->receiving_next = call->receiving_next;
    else
        server->receiving = call->receiving_next;
    if (call->receiving_next)
        call->receiving_next->receiving_prev = call->receiving_prev;
    else
        server->receiving_last = call->receiving_prev;
    call->receiving_prev = call->receiving_next = NULL;
    call->receiving = false;
}

/* The call's request bytes no longer count against its connection and the
 * server, and it is no longer receiving. */
static void release_buffered(struct steep_rpc_call *call)
{
    if (call->conn)
        call->conn->buffered -= call->buffered;
    call->server->buffered -= call->buffered;
    call->buffered = 0;
    receiving_unlink(call);
}

static void conn_unlink(struct steep_rpc_call *call)
{
    struct steep_rpc_conn *conn = call->conn;
    release_buffered(call);
    if (call->conn_prev)
        call->conn_prev->conn_next = call->conn_next;
    else
        conn->calls = call->conn_next;
    if (call->conn_next)
        call->conn_next->conn_prev = call->conn_prev;
    call->conn_prev = call->conn_next = NULL;
    call->conn = NULL;
    if (!conn->calls)
        conn->idle_since_ms = steep_rpc_now_ms();
}

/* The stream is gone: a call with a worker is cancelled and freed when it
 * comes back; any other is freed now. */
static void detach(struct steep_rpc_call *call)
{
    deadline_unlink(call);
    sending_release(call);
    conn_unlink(call);
    if (call->in_worker) {
        atomic_store(&call->cancelled, true);
        atomic_store(&call->server->holds_check, true); /* a timed hold ends now */
    } else
        steep_rpc_call_free(call);
}

/* ---- answers being sent (server-wide, loop-owned, unordered) ---- */

#define SMALL_ANSWER        (64 * 1024) /* not held to the server's bound */
#define STALLED_FOR_ROOM_MS 1000        /* stalled this long: reset to make room */

/* The call's answer bytes stop counting (sent, reset, refused or freed). */
static void sending_release(struct steep_rpc_call *call)
{
    struct steep_rpc_server *server = call->server;
    if (call->sending) {
        if (call->sending_prev)
            call->sending_prev->sending_next = call->sending_next;
        else
            server->sending = call->sending_next;
        if (call->sending_next)
            call->sending_next->sending_prev = call->sending_prev;
        call->sending_prev = call->sending_next = NULL;
        call->sending = false;
        if (call->conn)
            call->conn->unsent -= call->unsent;
    }
    atomic_fetch_sub(&server->unsent, call->unsent);
    call->unsent = 0;
}

bool steep_rpc_reserve_unsent(struct steep_rpc_call *call, size_t size)
{
    struct steep_rpc_server *server = call->server;
    size_t before = atomic_fetch_add(&server->unsent, size);
    if (size > SMALL_ANSWER && before + size > server->max_unsent) {
        atomic_fetch_sub(&server->unsent, size);
        return false;
    }
    call->unsent = size;
    return true;
}

static void sending_link(struct steep_rpc_call *call)
{
    struct steep_rpc_server *server = call->server;
    call->sending_prev = NULL;
    call->sending_next = server->sending;
    if (server->sending)
        server->sending->sending_prev = call;
    server->sending = call;
    call->sending = true;
    call->conn->unsent += call->unsent;
    call->last_progress_ms = steep_rpc_now_ms();
}

/* The peer does not take this answer: reset the stream, which frees the
 * call when it closes; its bytes stop counting now. */
static void reset_stalled(struct steep_rpc_call *call, const char *why)
{
    call->server->reset_unread++;
    log_debug("rpc: %s: stream %d reset: %s", call->server->name, call->stream_id, why);
    sending_release(call);
    nghttp2_submit_rst_stream(call->conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                              NGHTTP2_CANCEL);
    steep_rpc_conn_mark_dirty(call->conn);
}

static struct steep_rpc_call *most_stalled(struct steep_rpc_server *server)
{
    struct steep_rpc_call *found = NULL;
    for (struct steep_rpc_call *call = server->sending; call; call = call->sending_next)
        if (!found || call->last_progress_ms < found->last_progress_ms)
            found = call;
    return found;
}

/* May this answer (its bytes reserved by the worker) wait to be sent on
 * its connection? Once the server's unsent bytes pass three quarters of
 * its bound, streams stalled for over a second are reset to keep room for
 * answers that are read. */
static const char *admit_answer(struct steep_rpc_call *call)
{
    struct steep_rpc_server *server = call->server;
    if (call->conn->unsent + call->unsent > server->max_connection_unsent)
        return "too much response data unsent on this connection";
    while (atomic_load(&server->unsent) > server->max_unsent / 4 * 3) {
        struct steep_rpc_call *victim = most_stalled(server);
        if (!victim || steep_rpc_now_ms() - victim->last_progress_ms < STALLED_FOR_ROOM_MS)
            break;
        reset_stalled(victim, "answer not read; room needed");
    }
    sending_link(call);
    return NULL;
}

void steep_rpc_expire_sending(struct steep_rpc_server *server, int64_t now_ms)
{
    struct steep_rpc_call *call = server->sending;
    while (call) {
        struct steep_rpc_call *following = call->sending_next;
        if (now_ms - call->last_progress_ms >= server->send_timeout_ms)
            reset_stalled(call, "answer not read in time");
        call = following;
    }
}

/* ---- responses ---- */

static ssize_t read_response(nghttp2_session *session, int32_t stream_id, uint8_t *out,
                             size_t length, uint32_t *flags, nghttp2_data_source *source,
                             void *user_data)
{
    struct steep_rpc_call *call = source->ptr;
    size_t n = steep_rpc_copy_out(&call->response, &call->response_sent, out, length);
    if (n > 0)
        call->last_progress_ms = steep_rpc_now_ms();
    if (call->response_sent == call->response.len) {
        sending_release(call);
        static const nghttp2_nv trailers[] = {NV("grpc-status", "0", 1)};
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(session, stream_id, trailers, 1) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/*
 * Submits headers (+ metadata) and either the message with an OK trailer, or
 * a Trailers-Only status. metadata may be NULL (answers made on the loop
 * while a worker may still own the call's own metadata).
 */
static void submit_response(nghttp2_session *session, struct steep_rpc_call *call, int status,
                            const char *message, const struct steep_rpc_headers *metadata)
{
    size_t n_metadata = metadata ? metadata->count : 0;
    nghttp2_nv stack_nv[16];
    nghttp2_nv *nv = stack_nv;
    if (n_metadata + 4 > 16) {
        nv = malloc((n_metadata + 4) * sizeof(*nv));
        if (!nv) {
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, call->stream_id,
                                      NGHTTP2_INTERNAL_ERROR);
            call->responded = true;
            return;
        }
    }
    size_t n = 0;
    nv[n++] = (nghttp2_nv)NV(":status", "200", 3);
    nv[n++] = (nghttp2_nv)NV("content-type", "application/grpc", 16);
    for (size_t i = 0; i < n_metadata; i++) {
        const struct steep_rpc_header *header = &metadata->items[i];
        nv[n++] = (nghttp2_nv){(uint8_t *)header->key, (uint8_t *)header->value,
                               strlen(header->key), strlen(header->value), NGHTTP2_NV_FLAG_NONE};
    }
    char status_text[12];
    struct steep_buf encoded = STEEP_BUF_INIT;
    int rc;
    if (status == STEEP_GRPC_OK) {
        nghttp2_data_provider provider = {.source.ptr = call, .read_callback = read_response};
        rc = nghttp2_submit_response(session, call->stream_id, nv, n, &provider);
    } else {
        int length = snprintf(status_text, sizeof(status_text), "%d", status);
        nv[n++] = (nghttp2_nv)NV("grpc-status", status_text, (size_t)length);
        if (message && message[0] && steep_rpc_percent_encode(message, &encoded) == 0)
            nv[n++] = (nghttp2_nv)NV("grpc-message", encoded.data, encoded.len);
        rc = nghttp2_submit_response(session, call->stream_id, nv, n, NULL);
    }
    if (rc != 0) /* never leave the client waiting for an answer */
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
    steep_buf_free(&encoded);
    if (nv != stack_nv)
        free(nv);
    call->responded = true;
    deadline_unlink(call);
}

static void refuse(struct steep_rpc_call *call, int status, const char *reason)
{
    if (!call->in_worker) { /* a worker may be decoding the request */
        release_buffered(call);
        steep_rpc_frame_reader_free(&call->reader);
    }
    if (call->responded)
        return;
    nghttp2_session *session = call->conn->session;
    submit_response(session, call, status, reason, NULL);
    /* Answered before the request ended: once the answer is out, ask the
     * peer to stop sending (on_frame_send). */
    call->reset_after_response = !nghttp2_session_get_stream_remote_close(session, call->stream_id);
}

/* RFC 9113 8.1: a server that answered before the request ended resets the
 * stream with NO_ERROR, so the peer stops sending it; this also closes the
 * stream here and frees the call. Submitted only after the answer was sent,
 * or nghttp2 would drop the answer. */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct steep_rpc_call *call =
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (call && call->reset_after_response &&
        !nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id)) {
        call->reset_after_response = false;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
    }
    return 0;
}

void steep_rpc_call_completed(struct steep_rpc_call *call)
{
    call->in_worker = false;
    atomic_fetch_sub(&call->server->in_flight, 1);
    if (!call->conn) {
        steep_rpc_call_free(call);
        return;
    }
    if (call->responded) /* the deadline answered already; free on stream close */
        return;
    if (call->deadline_ms && steep_rpc_now_ms() >= call->deadline_ms) {
        /* Too late: the client gives up now, whatever the handler said. */
        atomic_store(&call->cancelled, true);
        refuse(call, STEEP_GRPC_DEADLINE_EXCEEDED, "Deadline Exceeded");
        return;
    }
    const char *refusal = call->status == STEEP_GRPC_OK ? admit_answer(call) : NULL;
    if (refusal) {
        call->server->reset_unread++;
        sending_release(call);
        steep_buf_free(&call->response);
        submit_response(call->conn->session, call, STEEP_GRPC_RESOURCE_EXHAUSTED, refusal,
                        &call->response_metadata);
        return;
    }
    submit_response(call->conn->session, call, call->status, call->status_message,
                    &call->response_metadata);
}

int64_t steep_rpc_expire_deadlines(struct steep_rpc_server *server, int64_t now_ms)
{
    int64_t next = 0;
    struct steep_rpc_call *call = server->deadlines;
    while (call) {
        struct steep_rpc_call *following = call->deadline_next;
        if (call->deadline_ms <= now_ms) {
            atomic_store(&call->cancelled, true);
            refuse(call, STEEP_GRPC_DEADLINE_EXCEEDED, "Deadline Exceeded");
            deadline_unlink(call);
        } else if (next == 0 || call->deadline_ms < next) {
            next = call->deadline_ms;
        }
        call = following;
    }
    return next;
}

/* Refused by the buffering bounds: frees what the call holds now. */
static void refuse_hoarding(struct steep_rpc_call *call, const char *reason)
{
    call->server->refused_hoarding++;
    log_debug("rpc: %s: stream %d refused: %s", call->server->name, call->stream_id, reason);
    refuse(call, STEEP_GRPC_RESOURCE_EXHAUSTED, reason);
    steep_rpc_conn_mark_dirty(call->conn);
}

/* The call itself is over a bound. While its headers are being parsed the
 * answer waits for the end of the request (or the receive timeout). */
static bool refuse_self(struct steep_rpc_call *call, bool in_headers, const char *reason)
{
    if (in_headers) {
        call->server->refused_hoarding++;
        call->refused = STEEP_GRPC_RESOURCE_EXHAUSTED;
        call->refused_reason = reason;
    } else {
        refuse_hoarding(call, reason);
    }
    return false;
}

/*
 * Counts n more request bytes for call, making room under the server's
 * bound by refusing the oldest receiving calls. Returns false (the call
 * refused) when the call itself must go.
 */
static bool charge(struct steep_rpc_call *call, size_t n, bool in_headers)
{
    struct steep_rpc_server *server = call->server;
    struct steep_rpc_conn *conn = call->conn;
    if (conn->buffered + n > server->max_connection_buffered)
        return refuse_self(call, in_headers, "too much request data pending on this connection");
    while (server->buffered + n > server->max_buffered) {
        struct steep_rpc_call *oldest = server->receiving;
        if (!oldest || oldest == call)
            return refuse_self(call, in_headers, "too much request data pending on this server");
        refuse_hoarding(oldest, "request evicted: too much request data pending on this server");
    }
    conn->buffered += n;
    server->buffered += n;
    call->buffered += n;
    return true;
}

void steep_rpc_expire_receiving(struct steep_rpc_server *server, int64_t now_ms)
{
    while (server->receiving &&
           now_ms - server->receiving->started_ms >= server->receive_timeout_ms)
        refuse_hoarding(server->receiving, "request not received in time");
}

/* ---- request side ---- */

static void request_complete(struct steep_rpc_call *call)
{
    if (call->responded)
        return;
    if (call->refused) {
        refuse(call, call->refused, call->refused_reason);
        return;
    }
    if (!call->method) {
        refuse(call, STEEP_GRPC_UNIMPLEMENTED, "unknown method");
        return;
    }
    int status = steep_rpc_frame_finish(&call->reader);
    if (status != 0) {
        refuse(call, status, call->reader.reason);
        return;
    }
    release_buffered(call);
    call->in_worker = true;
    atomic_fetch_add(&call->server->in_flight, 1);
    steep_rpc_server_ready(call);
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct steep_rpc_conn *conn = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct steep_rpc_call *call = calloc(1, sizeof(*call));
    if (!call)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    call->server = conn->server;
    call->conn = conn;
    call->stream_id = frame->hd.stream_id;
    call->peer = conn->peer;
    atomic_fetch_add(&conn->peer->references, 1);
    steep_rpc_frame_reader_init(&call->reader, conn->server->max_message);
    call->started_ms = steep_rpc_now_ms();
    receiving_link(call);
    call->conn_next = conn->calls;
    if (conn->calls)
        conn->calls->conn_prev = call;
    conn->calls = call;
    nghttp2_session_set_stream_user_data(session, call->stream_id, call);
    return 0;
}

static const struct steep_rpc_method *find_method(const struct steep_rpc_server *server,
                                                  const uint8_t *path, size_t length)
{
    for (size_t i = 0; i < server->n_methods; i++) {
        const char *candidate = server->methods[i].path;
        if (strlen(candidate) == length && memcmp(candidate, path, length) == 0)
            return &server->methods[i];
    }
    return NULL;
}

static bool header_is(const uint8_t *name, size_t length, const char *literal)
{
    return strlen(literal) == length && memcmp(name, literal, length) == 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                     void *user_data)
{
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct steep_rpc_call *call =
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call || call->refused)
        return 0;
    if (name_len > 0 && name[0] == ':') {
        if (header_is(name, name_len, ":path")) {
            call->method = find_method(call->server, value, value_len);
        } else if (header_is(name, name_len, ":method") && !header_is(value, value_len, "POST")) {
            call->refused = STEEP_GRPC_UNIMPLEMENTED;
            call->refused_reason = "only POST is supported";
        }
        return 0;
    }
    if (header_is(name, name_len, "content-type")) {
        if (value_len < 16 || memcmp(value, "application/grpc", 16) != 0) {
            call->refused = STEEP_GRPC_INVALID_ARGUMENT;
            call->refused_reason = "content-type is not application/grpc";
        }
        return 0;
    }
    if (header_is(name, name_len, "grpc-timeout")) {
        int64_t ms;
        if (steep_rpc_timeout_parse((const char *)value, value_len, &ms) == 0)
            call->deadline_ms = steep_rpc_now_ms() + ms;
        return 0;
    }
    if (header_is(name, name_len, "te") || header_is(name, name_len, "grpc-accept-encoding") ||
        header_is(name, name_len, "grpc-encoding"))
        return 0;
    if (call->responded || !charge(call, name_len + value_len, true))
        return 0;
    call->metadata_bytes += name_len + value_len;
    if (call->metadata_bytes > MAX_METADATA_BYTES ||
        steep_rpc_headers_add(&call->metadata, (const char *)name, name_len, (const char *)value,
                              value_len) < 0) {
        call->refused = STEEP_GRPC_RESOURCE_EXHAUSTED;
        call->refused_reason = "request metadata too large";
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct steep_rpc_conn *conn = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    struct steep_rpc_call *call =
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call || call->conn != conn)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
        call->deadline_ms && !call->on_deadline_list && !call->responded) {
        deadline_link(call);
        if (conn->server->next_deadline_ms == 0 ||
            call->deadline_ms < conn->server->next_deadline_ms)
            conn->server->next_deadline_ms = call->deadline_ms;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        request_complete(call);
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t length, void *user_data)
{
    struct steep_rpc_conn *conn = user_data;
    struct steep_rpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call || call->responded || call->refused || !call->method)
        return 0;
    if (call->conn != conn || !charge(call, length, false))
        return 0;
    int status = steep_rpc_frame_feed(&call->reader, data, length);
    if (status != 0)
        refuse(call, status, call->reader.reason);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    struct steep_rpc_conn *conn = user_data;
    struct steep_rpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call || call->conn != conn)
        return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    detach(call);
    return 0;
}

int steep_rpc_session_callbacks_new(nghttp2_session_callbacks **callbacks)
{
    ENSURE(nghttp2_session_callbacks_new(callbacks) == 0, "out of memory");
    nghttp2_session_callbacks_set_on_begin_headers_callback(*callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(*callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(*callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(*callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(*callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(*callbacks, on_frame_send);
    return 0;
}

int steep_rpc_conn_open_session(struct steep_rpc_conn *conn)
{
    ENSURE(nghttp2_session_server_new(&conn->session, conn->server->callbacks, conn) == 0,
           "cannot create an HTTP/2 session");
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 2 * MAX_METADATA_BYTES},
    };
    ENSURE(nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings,
                                   sizeof(settings) / sizeof(settings[0])) == 0,
           "cannot submit HTTP/2 settings");
    ENSURE(nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0,
                                                 CONNECTION_WINDOW) == 0,
           "cannot set the HTTP/2 window");
    return 0;
}

void steep_rpc_conn_release(struct steep_rpc_conn *conn)
{
    while (conn->calls)
        detach(conn->calls);
    /* The calls are detached first: nghttp2_session_del calls no callbacks,
     * but no stream data may point at freed calls in any case. */
    nghttp2_session_del(conn->session);
    conn->session = NULL;
    steep_rpc_peer_release(conn->peer);
    conn->peer = NULL;
}
