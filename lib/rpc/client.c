/*
 * The client: one HTTP/2 connection per steep_rpc_client, shared by calls
 * from any number of threads.
 *
 * A calling thread frames its request, queues the call to the client's
 * event-loop thread (client_loop.c; mutex + eventfd) and sleeps on the
 * call's condition variable until the loop completes it. The response
 * message is decoded on the calling thread, so the loop only moves bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

#include "core/metrics.h"
#include "rpc/client_internal.h"
#include "rpc/observe.h"

#define DEFAULT_MAX_PENDING 4096

/* ---- public API ---- */

struct steep_rpc_client *steep_rpc_client_new(const struct steep_rpc_client_config *config)
{
    if (config->address && strchr(config->address, ','))
        return steep_rpc_failover_new(config); /* replicas: client_failover.c */
    struct steep_rpc_client *client = calloc(1, sizeof(*client));
    if (!client) {
        steep_error_set("out of memory");
        return NULL;
    }
    steep_rpc_ignore_sigpipe();
    client->config = *config;
    client->transport.fd = client->epoll_fd = client->event_fd = -1;
    pthread_mutex_init(&client->lock, NULL);
    client->address = strdup(config->address ? config->address : "");
    const char *colon = client->address ? strrchr(client->address, ':') : NULL;
    if (!client->address || !colon || colon == client->address) {
        steep_error_set("client address '%s' is not host:port",
                        config->address ? config->address : "");
        goto fail;
    }
    if (config->server_name) {
        client->server_name = strdup(config->server_name);
        client->check_host = config->tls.ca_file && !config->tls.verify_peer;
    } else {
        const char *host = client->address;
        size_t length = (size_t)(colon - host);
        if (host[0] == '[' && length >= 2) {
            host++;
            length -= 2;
        }
        client->server_name = strndup(host, length);
    }
    if (config->tls.ca_file)
        client->config.tls.ca_file = client->ca_file = strdup(config->tls.ca_file);
    snprintf(client->authority, sizeof(client->authority), "%s", client->address);
    client->max_message = config->max_message ? config->max_message : STEEP_RPC_DEFAULT_MAX_MESSAGE;
    client->connect_timeout_ms = config->connect_timeout_ms > 0 ? config->connect_timeout_ms : 5000;
    client->max_pending = config->max_pending > 0 ? config->max_pending : DEFAULT_MAX_PENDING;
    if (!client->server_name || steep_rpc_client_callbacks_new(client) < 0)
        goto fail;
    client->ssl_ctx = steep_rpc_tls_context(&client->config.tls, false);
    if (!client->ssl_ctx)
        goto fail;
    client->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    client->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (client->epoll_fd < 0 || client->event_fd < 0) {
        steep_error_set("epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = &client->event_fd};
    epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, client->event_fd, &event);
    int rc = pthread_create(&client->thread, NULL, steep_rpc_client_loop, client);
    if (rc != 0) {
        steep_error_set("cannot start the client thread: %s", strerror(rc));
        goto fail;
    }
    return client;
fail:
    if (client->epoll_fd >= 0)
        close(client->epoll_fd);
    if (client->event_fd >= 0)
        close(client->event_fd);
    SSL_CTX_free(client->ssl_ctx);
    if (client->callbacks)
        nghttp2_session_callbacks_del(client->callbacks);
    free(client->address);
    free(client->server_name);
    free(client->ca_file);
    free(client);
    return NULL;
}

void steep_rpc_client_free(struct steep_rpc_client *client)
{
    if (!client)
        return;
    if (client->members) {
        steep_rpc_failover_free(client);
        return;
    }
    pthread_mutex_lock(&client->lock);
    client->stopping = true;
    pthread_mutex_unlock(&client->lock);
    uint64_t one = 1;
    if (write(client->event_fd, &one, sizeof(one)) < 0)
        log_warn("rpc: cannot wake the client thread: %s", strerror(errno));
    pthread_join(client->thread, NULL);
    /* Calls submitted after the loop's last look are failed here. */
    for (struct client_call *call = client->submitted_head; call;) {
        struct client_call *following = call->next;
        steep_rpc_client_call_complete(call, STEEP_GRPC_UNAVAILABLE, "client closed");
        call = following;
    }
    close(client->epoll_fd);
    close(client->event_fd);
    steep_buf_free(&client->transport.out);
    SSL_CTX_free(client->ssl_ctx);
    nghttp2_session_callbacks_del(client->callbacks);
    pthread_mutex_destroy(&client->lock);
    free(client->address);
    free(client->server_name);
    free(client->ca_file);
    free(client);
}

void steep_rpc_client_submit(struct steep_rpc_client *client, struct client_call *call)
{
    call->client = client;
    /* A ceiling on calls waiting for this peer (issue 14 item 8): a peer
     * that stopped answering must not collect callers without bound. */
    if (atomic_fetch_add(&client->pending, 1) >= client->max_pending) {
        steep_rpc_client_call_complete(call, STEEP_GRPC_RESOURCE_EXHAUSTED,
                                       "%d calls already pending to %s", client->max_pending,
                                       client->address);
        return;
    }
    pthread_mutex_lock(&client->lock);
    bool was_empty = client->submitted_head == NULL;
    if (client->stopping) {
        pthread_mutex_unlock(&client->lock);
        steep_rpc_client_call_complete(call, STEEP_GRPC_UNAVAILABLE, "client closed");
        return;
    }
    call->next = NULL;
    if (client->submitted_tail)
        client->submitted_tail->next = call;
    else
        client->submitted_head = call;
    client->submitted_tail = call;
    pthread_mutex_unlock(&client->lock);
    uint64_t one = 1;
    if (was_empty && write(client->event_fd, &one, sizeof(one)) < 0)
        log_warn("rpc: cannot wake the client thread: %s", strerror(errno));
}

void steep_rpc_client_reset_connection(struct steep_rpc_client *client)
{
    pthread_mutex_lock(&client->lock);
    client->reset_pending = true;
    pthread_mutex_unlock(&client->lock);
    uint64_t one = 1;
    if (write(client->event_fd, &one, sizeof(one)) < 0)
        log_warn("rpc: cannot wake the client thread: %s", strerror(errno));
}

static void set_status(struct steep_rpc_status *status, int code, const char *message)
{
    if (!status)
        return;
    status->code = code;
    snprintf(status->message, sizeof(status->message), "%s", message);
}

static void take_metadata(struct client_call *call, struct steep_rpc_received_metadata *received)
{
    received->items = NULL;
    received->count = 0;
    if (call->received.count == 0)
        return;
    received->items = calloc(call->received.count, sizeof(*received->items));
    if (!received->items)
        return;
    for (size_t i = 0; i < call->received.count; i++) {
        received->items[i].key = call->received.items[i].key;
        received->items[i].value = call->received.items[i].value;
    }
    received->count = call->received.count;
    free(call->received.items);
    memset(&call->received, 0, sizeof(call->received));
}

/* Runs one call whose request is already framed (call->request). */
static void run_call(struct steep_rpc_client *client, struct client_call *call)
{
    if (call->timeout_ms > 0)
        call->deadline_ms = steep_rpc_now_ms() + call->timeout_ms;
    steep_rpc_frame_reader_init(&call->reader, client->max_message);
    pthread_mutex_init(&call->lock, NULL);
    pthread_cond_init(&call->cond, NULL);
    steep_rpc_client_submit(client, call);
    pthread_mutex_lock(&call->lock);
    while (!call->done)
        pthread_cond_wait(&call->cond, &call->lock);
    pthread_mutex_unlock(&call->lock);
    pthread_mutex_destroy(&call->lock);
    pthread_cond_destroy(&call->cond);
    steep_buf_free(&call->request);
}

/* HTTP/2 header names are lowercase: when a key is not, *items becomes a
 * lowercased copy of metadata (backed by headers). */
static int lowercase_metadata(const struct steep_rpc_metadata *metadata, size_t count,
                              struct steep_rpc_headers *headers, struct steep_rpc_metadata **items)
{
    bool needed = false;
    for (size_t i = 0; i < count && !needed; i++) {
        for (const char *p = metadata[i].key; *p && !needed; p++)
            needed = *p >= 'A' && *p <= 'Z';
    }
    if (!needed)
        return 0;
    *items = calloc(count, sizeof(**items));
    ENSURE(*items, "out of memory");
    for (size_t i = 0; i < count; i++) {
        GUARD(steep_rpc_headers_add(headers, metadata[i].key, strlen(metadata[i].key),
                                    metadata[i].value, strlen(metadata[i].value)));
        (*items)[i] = (struct steep_rpc_metadata){headers->items[i].key, headers->items[i].value};
    }
    return 0;
}

int steep_rpc_call_with_metadata(struct steep_rpc_client *client, const char *path,
                                 const ProtobufCMessage *request,
                                 const ProtobufCMessageDescriptor *response_type,
                                 ProtobufCMessage **response,
                                 const struct steep_rpc_metadata *metadata, size_t n_metadata,
                                 int timeout_ms, struct steep_rpc_status *status,
                                 struct steep_rpc_received_metadata *received)
{
    if (client->members)
        return steep_rpc_failover_call(client, path, request, response_type, response, metadata,
                                       n_metadata, timeout_ms, status, received);
    struct client_call call = {
        .path = path,
        .metadata = metadata,
        .n_metadata = n_metadata,
        .timeout_ms = timeout_ms,
        .want_metadata = received != NULL,
    };
    *response = NULL;
    if (received) {
        received->items = NULL;
        received->count = 0;
    }
    struct steep_rpc_headers lowered = {0};
    struct steep_rpc_metadata *lowered_items = NULL;
    if (lowercase_metadata(metadata, n_metadata, &lowered, &lowered_items) < 0 ||
        steep_rpc_frame_encode(request, &call.request) < 0) {
        set_status(status, STEEP_GRPC_INTERNAL, steep_error_get());
        steep_buf_free(&call.request);
        steep_rpc_headers_free(&lowered);
        free(lowered_items);
        return -1;
    }
    if (lowered_items)
        call.metadata = lowered_items;
    struct steep_rpc_metadata *with_id = NULL;
    if (steep_rpc_observe_client_metadata(call.metadata, n_metadata, &with_id) > 0) {
        call.metadata = with_id;
        call.n_metadata = n_metadata + 1;
    }
    uint64_t started_us = steep_metrics_now_us();
    run_call(client, &call);
    steep_rpc_observe_client_end(path, call.code, started_us);
    steep_rpc_headers_free(&lowered);
    free(lowered_items);
    free(with_id);
    int rc = -1;
    if (call.code == STEEP_GRPC_OK) {
        *response = protobuf_c_message_unpack(response_type, NULL, call.reader.message.len,
                                              call.reader.message.data);
        if (*response) {
            rc = 0;
            set_status(status, STEEP_GRPC_OK, "");
        } else {
            set_status(status, STEEP_GRPC_INTERNAL, "cannot decode the response message");
        }
    } else {
        set_status(status, call.code, call.message);
    }
    if (received)
        take_metadata(&call, received);
    steep_rpc_headers_free(&call.received);
    steep_rpc_frame_reader_free(&call.reader);
    return rc;
}

/* ---- asynchronous calls ---- */

struct async_call {
    struct client_call call; /* first: the loop completes &call */
    const ProtobufCMessageDescriptor *response_type;
    steep_rpc_done_fn done;
    void *arg;
    char *path;
    struct steep_rpc_headers metadata; /* lowercased copies */
    struct steep_rpc_metadata *items;
};

static void async_free(struct async_call *async)
{
    steep_buf_free(&async->call.request);
    steep_rpc_headers_free(&async->call.received);
    steep_rpc_frame_reader_free(&async->call.reader);
    steep_rpc_headers_free(&async->metadata);
    free(async->items);
    free(async->path);
    free(async);
}

/* On the client's loop thread (or the submitting one for a call refused at
 * once): decode, hand over, free. */
static void async_done(struct client_call *call)
{
    struct async_call *async = (struct async_call *)call;
    struct steep_rpc_status status;
    ProtobufCMessage *response = NULL;
    if (call->code == STEEP_GRPC_OK) {
        response = protobuf_c_message_unpack(async->response_type, NULL, call->reader.message.len,
                                             call->reader.message.data);
        set_status(&status, response ? STEEP_GRPC_OK : STEEP_GRPC_INTERNAL,
                   response ? "" : "cannot decode the response message");
    } else {
        set_status(&status, call->code, call->message);
    }
    async->done(async->arg, response, &status);
    async_free(async);
}

int steep_rpc_call_async(struct steep_rpc_client *client, const char *path,
                         const ProtobufCMessage *request,
                         const ProtobufCMessageDescriptor *response_type,
                         const struct steep_rpc_metadata *metadata, size_t n_metadata,
                         int timeout_ms, steep_rpc_done_fn done, void *arg)
{
    if (client->members)
        return steep_rpc_failover_call_async(client, path, request, response_type, metadata,
                                             n_metadata, timeout_ms, done, arg);
    struct async_call *async = calloc(1, sizeof(*async));
    ENSURE(async, "out of memory");
    async->response_type = response_type;
    async->done = done;
    async->arg = arg;
    async->path = strdup(path);
    async->items = calloc(n_metadata ? n_metadata : 1, sizeof(*async->items));
    int rc = async->path && async->items ? 0 : steep_error_set("out of memory");
    for (size_t i = 0; rc == 0 && i < n_metadata; i++)
        rc = steep_rpc_headers_add(&async->metadata, metadata[i].key, strlen(metadata[i].key),
                                   metadata[i].value, strlen(metadata[i].value));
    if (rc == 0)
        rc = steep_rpc_frame_encode(request, &async->call.request);
    if (rc < 0) {
        async_free(async);
        return -1;
    }
    for (size_t i = 0; i < n_metadata; i++) {
        for (char *p = async->metadata.items[i].key; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        async->items[i] = (struct steep_rpc_metadata){async->metadata.items[i].key,
                                                      async->metadata.items[i].value};
    }
    struct client_call *call = &async->call;
    call->path = async->path;
    call->metadata = async->items;
    call->n_metadata = n_metadata;
    call->timeout_ms = timeout_ms;
    call->on_done = async_done;
    if (timeout_ms > 0)
        call->deadline_ms = steep_rpc_now_ms() + timeout_ms;
    steep_rpc_frame_reader_init(&call->reader, client->max_message);
    steep_rpc_client_submit(client, call);
    return 0;
}

int steep_rpc_call_raw(struct steep_rpc_client *client, const char *path, const uint8_t *body,
                       size_t len, int timeout_ms, struct steep_rpc_status *status)
{
    if (client->members) {
        struct steep_rpc_client *member = steep_rpc_failover_member(client);
        int rc = steep_rpc_call_raw(member, path, body, len, timeout_ms, status);
        if (rc < 0 && status && status->code == STEEP_GRPC_UNAVAILABLE)
            steep_rpc_failover_unavailable(client, member);
        return rc;
    }
    struct client_call call = {.path = path, .timeout_ms = timeout_ms};
    if (steep_buf_append(&call.request, body, len) < 0) {
        set_status(status, STEEP_GRPC_INTERNAL, steep_error_get());
        return -1;
    }
    run_call(client, &call);
    set_status(status, call.code, call.code == STEEP_GRPC_OK ? "" : call.message);
    steep_rpc_frame_reader_free(&call.reader);
    return call.code == STEEP_GRPC_OK ? 0 : -1;
}

int steep_rpc_call(struct steep_rpc_client *client, const char *path,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                   ProtobufCMessage **response, const struct steep_rpc_metadata *metadata,
                   size_t n_metadata, int timeout_ms, struct steep_rpc_status *status)
{
    return steep_rpc_call_with_metadata(client, path, request, response_type, response, metadata,
                                        n_metadata, timeout_ms, status, NULL);
}

const char *steep_rpc_received_metadata_get(const struct steep_rpc_received_metadata *received,
                                            const char *key)
{
    for (size_t i = 0; i < received->count; i++) {
        if (strcasecmp(received->items[i].key, key) == 0)
            return received->items[i].value;
    }
    return NULL;
}

void steep_rpc_received_metadata_free(struct steep_rpc_received_metadata *received)
{
    for (size_t i = 0; i < received->count; i++)
        free((char *)received->items[i].key);
    free(received->items);
    received->items = NULL;
    received->count = 0;
}
