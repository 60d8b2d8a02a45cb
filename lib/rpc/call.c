/*
 * What a handler sees of its call, and the worker side of a call's life:
 * decode the request, run the handler, record its answer. The answer is
 * only written into the call here; the event loop sends it once the call
 * is back on the loop (steep_rpc_call_completed).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/internal.h"
#include "rpc/observe.h"

const char *steep_rpc_call_metadata(const struct steep_rpc_call *call, const char *key)
{
    return steep_rpc_headers_get(&call->metadata, key);
}

void steep_rpc_call_add_metadata(struct steep_rpc_call *call, const char *key, const char *value)
{
    if (call->answered) {
        log_warn("rpc: metadata added after the answer is ignored");
        return;
    }
    if (steep_rpc_headers_add(&call->response_metadata, key, strlen(key), value, strlen(value)) < 0)
        log_warn("rpc: cannot add response metadata: %s", steep_error_get());
}

const char *steep_rpc_call_peer_name(const struct steep_rpc_call *call)
{
    return call->peer->name;
}

void steep_rpc_call_peer_addr(const struct steep_rpc_call *call, struct sockaddr_storage *addr,
                              socklen_t *len)
{
    memcpy(addr, &call->peer->addr, sizeof(*addr));
    *len = call->peer->addr_len;
}

int64_t steep_rpc_call_remaining_ms(const struct steep_rpc_call *call)
{
    if (!call->deadline_ms)
        return -1;
    int64_t left = call->deadline_ms - steep_rpc_now_ms();
    return left > 0 ? left : 0;
}

bool steep_rpc_call_cancelled(const struct steep_rpc_call *call)
{
    if (atomic_load(&call->cancelled) || atomic_load(&call->server->stopping))
        return true;
    return call->deadline_ms && steep_rpc_now_ms() >= call->deadline_ms;
}

static void set_status(struct steep_rpc_call *call, int code, const char *message)
{
    call->answered = true;
    call->status = code;
    free(call->status_message);
    call->status_message = message ? strdup(message) : NULL;
}

void steep_rpc_reply(struct steep_rpc_call *call, const ProtobufCMessage *response)
{
    if (call->answered) {
        log_warn("rpc: a handler answered twice; the second answer is ignored");
        return;
    }
    /* The server's bound on unsent answers is kept here, before the answer
     * is packed: handlers run in parallel, and a peer that reads nothing
     * must not make them all hold their answers at once. */
    size_t size = protobuf_c_message_get_packed_size(response) + STEEP_RPC_FRAME_PREFIX;
    if (!steep_rpc_reserve_unsent(call, size)) {
        set_status(call, STEEP_GRPC_RESOURCE_EXHAUSTED,
                   "too much response data unsent on this server");
        return;
    }
    if (steep_rpc_frame_encode(response, &call->response) < 0) {
        set_status(call, STEEP_GRPC_INTERNAL, "cannot encode the response");
        return;
    }
    size_t length = call->response.len - STEEP_RPC_FRAME_PREFIX;
    if (length > call->server->max_response) {
        char reason[96];
        snprintf(reason, sizeof reason,
                 "response of %zu bytes is larger than the limit of %zu bytes", length,
                 call->server->max_message);
        steep_buf_free(&call->response);
        set_status(call, STEEP_GRPC_RESOURCE_EXHAUSTED, reason);
        return;
    }
    set_status(call, STEEP_GRPC_OK, NULL);
}

void steep_rpc_fail(struct steep_rpc_call *call, int code, const char *fmt, ...)
{
    if (call->answered) {
        log_warn("rpc: a handler answered twice; the second answer is ignored");
        return;
    }
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (code <= STEEP_GRPC_OK || code > STEEP_GRPC_UNAUTHENTICATED)
        code = STEEP_GRPC_UNKNOWN;
    set_status(call, code, message);
}

/* A handler or continuation returned: a call it neither answered nor held
 * is answered INTERNAL. */
void steep_rpc_call_check_answered(struct steep_rpc_call *call)
{
    if (!call->answered) {
        log_error("rpc: handler of %s returned without answering", call->method->path);
        set_status(call, STEEP_GRPC_INTERNAL, "the handler did not answer");
    }
}

/* Worker side: runs on a pool thread, or on the loop for inline methods
 * (and every method when fuzzing). The caller checks the answer
 * (steep_rpc_call_check_answered) unless the handler held the call. */
void steep_rpc_call_run(struct steep_rpc_call *call)
{
    uint64_t started_us = steep_rpc_observe_begin(call);
    if (steep_rpc_call_cancelled(call)) {
        /* Nobody waits for it (issue 14, item 8): never start the handler. */
        atomic_fetch_add(&call->server->dropped_cancelled, 1);
        set_status(call, STEEP_GRPC_CANCELLED, "call cancelled");
    } else {
        atomic_fetch_add(&call->server->handled, 1);
        const struct steep_rpc_method *method = call->method;
        /* Strings from clients without an attested identity (the public
         * endpoints) must be UTF-8 without NUL: see strings.c. */
        char invalid[160] = "";
        ProtobufCMessage *request = NULL;
        if (call->peer->name[0] ||
            steep_rpc_check_strings(method->request_type, call->reader.message.data,
                                    call->reader.message.len, invalid, sizeof(invalid)) == 0)
            request = protobuf_c_message_unpack(
                method->request_type, NULL, call->reader.message.len, call->reader.message.data);
        steep_rpc_frame_reader_free(&call->reader);
        if (!request) {
            set_status(call, STEEP_GRPC_INVALID_ARGUMENT,
                       invalid[0] ? invalid : "cannot decode the request message");
        } else {
            call->request = request;
            steep_rpc_observe_request(request);
            method->handler(call, request, method->arg);
            call->request = NULL;
            protobuf_c_message_free_unpacked(request, NULL);
        }
    }
    steep_rpc_observe_end(call, started_us);
}
