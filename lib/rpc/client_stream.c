/*
 * Server-streaming calls on the client (rpc.h, steep_rpc_stream_*): one
 * request message, sent with END_STREAM, then any number of response
 * messages until the server's trailers. etcd's Watch is the user: a client
 * that sends one create request and half-closes gets the watch's events as
 * they happen.
 *
 * The call rides the ordinary client machinery (client_loop.c): the loop
 * thread splits the DATA of the stream into gRPC messages and queues each
 * complete one on the call under the call's lock; the reading thread takes
 * them one by one, decoding on its own thread as unary calls do. A reader
 * that falls behind by more than MAX_QUEUED_MESSAGES times the message limit
 * loses the stream (RESOURCE_EXHAUSTED) rather than the process its memory.
 * Closing a stream still open asks the loop to reset it (RST_STREAM CANCEL)
 * and waits until the loop is done with the call before freeing it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/client_internal.h"

#define MAX_QUEUED_MESSAGES 4

struct stream_message {
    struct stream_message *next;
    size_t len;
    uint8_t data[];
};

struct client_stream {
    struct steep_buf pending; /* loop thread: the bytes of a message still arriving */
    /* guarded by the call's lock */
    struct stream_message *head, *tail;
    size_t queued_bytes;
};

struct steep_rpc_stream {
    struct steep_rpc_client *client;
    struct client_call call;
    struct client_stream stream;
};

static int refuse(struct client_call *call, int code, const char *reason)
{
    call->reader.status = code;
    call->reader.reason = reason;
    return code;
}

/* Queues one complete message; 0 or a gRPC code. */
static int queue_message(struct steep_rpc_client *client, struct client_call *call,
                         const uint8_t *data, size_t len)
{
    struct client_stream *stream = call->stream;
    struct stream_message *message = malloc(sizeof *message + len);
    if (!message)
        return refuse(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    message->next = NULL;
    message->len = len;
    memcpy(message->data, data, len);
    pthread_mutex_lock(&call->lock);
    bool too_much = stream->queued_bytes + len > MAX_QUEUED_MESSAGES * client->max_message;
    if (!too_much) {
        if (stream->tail)
            stream->tail->next = message;
        else
            stream->head = message;
        stream->tail = message;
        stream->queued_bytes += len;
        pthread_cond_signal(&call->cond);
    }
    pthread_mutex_unlock(&call->lock);
    if (too_much) {
        free(message);
        return refuse(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "the stream's reader fell behind");
    }
    return 0;
}

int steep_rpc_client_stream_feed(struct steep_rpc_client *client, struct client_call *call,
                                 const uint8_t *data, size_t len)
{
    struct steep_buf *pending = &call->stream->pending;
    if (steep_buf_append(pending, data, len) < 0)
        return refuse(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    size_t used = 0;
    for (;;) {
        struct steep_cursor cursor = steep_cursor_make(pending->data + used, pending->len - used);
        uint8_t flags;
        uint32_t length;
        const uint8_t *body;
        if (steep_cursor_read_u8(&cursor, &flags) < 0 ||
            steep_cursor_read_u32be(&cursor, &length) < 0)
            break;
        if (flags != 0)
            return refuse(call, flags == 1 ? STEEP_GRPC_UNIMPLEMENTED : STEEP_GRPC_INTERNAL,
                          flags == 1 ? "compressed messages are not supported"
                                     : "invalid message flags");
        if (length > client->max_message)
            return refuse(call, STEEP_GRPC_RESOURCE_EXHAUSTED,
                          "a streamed message is larger than the limit");
        if (steep_cursor_read_span(&cursor, &body, length) < 0)
            break;
        int rc = queue_message(client, call, body, length);
        if (rc != 0)
            return rc;
        used += STEEP_RPC_FRAME_PREFIX + length;
    }
    if (used > 0) {
        memmove(pending->data, pending->data + used, pending->len - used);
        pending->len -= used;
    }
    return 0;
}

int steep_rpc_client_stream_finish(struct client_call *call)
{
    if (call->stream->pending.len != 0)
        return refuse(call, STEEP_GRPC_INTERNAL, "truncated message");
    return 0;
}

static void set_status(struct steep_rpc_status *status, int code, const char *message)
{
    if (!status)
        return;
    status->code = code;
    snprintf(status->message, sizeof status->message, "%s", message);
}

int steep_rpc_stream_open(struct steep_rpc_client *client, const char *path,
                          const ProtobufCMessage *request, int timeout_ms,
                          struct steep_rpc_stream **out, struct steep_rpc_status *status)
{
    *out = NULL;
    if (client->members) /* replicas: the current one (client_failover.c) */
        client = steep_rpc_failover_member(client);
    struct steep_rpc_stream *stream = calloc(1, sizeof *stream);
    if (!stream) {
        set_status(status, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    stream->client = client;
    struct client_call *call = &stream->call;
    call->path = path;
    call->timeout_ms = timeout_ms;
    call->stream = &stream->stream;
    if (steep_rpc_frame_encode(request, &call->request) < 0) {
        set_status(status, STEEP_GRPC_INTERNAL, steep_error_get());
        steep_buf_free(&call->request);
        free(stream);
        return -1;
    }
    if (timeout_ms > 0)
        call->deadline_ms = steep_rpc_now_ms() + timeout_ms;
    steep_rpc_frame_reader_init(&call->reader, client->max_message);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&call->lock, NULL);
    pthread_cond_init(&call->cond, &attr);
    pthread_condattr_destroy(&attr);
    steep_rpc_client_submit(client, call);
    *out = stream;
    return 0;
}

static struct timespec deadline_after(int wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

int steep_rpc_stream_next(struct steep_rpc_stream *stream, const ProtobufCMessageDescriptor *type,
                          ProtobufCMessage **message, int wait_ms, struct steep_rpc_status *status)
{
    struct client_call *call = &stream->call;
    struct timespec until = deadline_after(wait_ms > 0 ? wait_ms : 0);
    *message = NULL;
    pthread_mutex_lock(&call->lock);
    while (!stream->stream.head && !call->done) {
        if (pthread_cond_timedwait(&call->cond, &call->lock, &until) == ETIMEDOUT)
            break;
    }
    struct stream_message *taken = stream->stream.head;
    if (taken) {
        stream->stream.head = taken->next;
        if (!stream->stream.head)
            stream->stream.tail = NULL;
        stream->stream.queued_bytes -= taken->len;
    }
    bool done = call->done;
    pthread_mutex_unlock(&call->lock);
    if (taken) {
        *message = protobuf_c_message_unpack(type, NULL, taken->len, taken->data);
        free(taken);
        if (!*message) {
            set_status(status, STEEP_GRPC_INTERNAL, "cannot decode a streamed message");
            return -1;
        }
        set_status(status, STEEP_GRPC_OK, "");
        return STEEP_RPC_STREAM_MESSAGE;
    }
    if (!done)
        return STEEP_RPC_STREAM_WAITING;
    set_status(status, call->code, call->code == STEEP_GRPC_OK ? "" : call->message);
    return call->code == STEEP_GRPC_OK ? STEEP_RPC_STREAM_END : -1;
}

void steep_rpc_stream_close(struct steep_rpc_stream *stream)
{
    if (!stream)
        return;
    struct client_call *call = &stream->call;
    struct steep_rpc_client *client = stream->client;
    pthread_mutex_lock(&call->lock);
    bool done = call->done;
    pthread_mutex_unlock(&call->lock);
    if (!done) {
        pthread_mutex_lock(&client->lock);
        call->cancel_requested = true;
        client->cancel_pending = true;
        pthread_mutex_unlock(&client->lock);
        uint64_t one = 1;
        if (write(client->event_fd, &one, sizeof one) < 0)
            log_warn("rpc: cannot wake the client thread: %s", strerror(errno));
        pthread_mutex_lock(&call->lock);
        while (!call->done)
            pthread_cond_wait(&call->cond, &call->lock);
        pthread_mutex_unlock(&call->lock);
    }
    for (struct stream_message *m = stream->stream.head, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    pthread_mutex_destroy(&call->lock);
    pthread_cond_destroy(&call->cond);
    steep_buf_free(&call->request);
    steep_buf_free(&stream->stream.pending);
    steep_rpc_headers_free(&call->received);
    steep_rpc_frame_reader_free(&call->reader);
    free(stream);
}
