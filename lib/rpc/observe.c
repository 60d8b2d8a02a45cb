/*
 * What the RPC layer tells the operator about each call (issue 18, items 4
 * and 5), kept out of the call path's own files: call.c and client.c only
 * call these hooks.
 *
 * Server side, around each handler: the call's request id (its
 * x-request-id metadata when well formed, else a new one) and the task id
 * of its request (a string field named task_id, when the message has one)
 * become the thread's log context, the request id goes back in the
 * response metadata, and the call is counted by method and status with its
 * handling time in a fixed-bucket histogram (lib/core/metrics: atomics, no
 * lock). Client side, a call made from a handler's thread carries that
 * thread's request id on, so one request's lines can be found in every
 * service it crossed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "rpc/internal.h"
#include "rpc/observe.h"

#define REQUEST_ID_MAX 64

static char id_prefix[17];
static pthread_once_t id_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t id_counter;

static void make_prefix(void)
{
    uint8_t random[8] = {0};
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        uint64_t fallback = steep_metrics_now_us() ^ (uint64_t)getpid() << 32;
        memcpy(random, &fallback, sizeof random);
    }
    steep_hex_encode(random, sizeof random, id_prefix);
}

/* Letters, digits and "-_.:", 1..64 bytes: anything else is replaced, so a
 * caller cannot put quotes or controls into every service's logs. */
static bool request_id_valid(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > REQUEST_ID_MAX)
        return false;
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

void steep_rpc_new_request_id(char *out, size_t len)
{
    pthread_once(&id_once, make_prefix);
    snprintf(out, len, "%s-%llx", id_prefix,
             (unsigned long long)atomic_fetch_add(&id_counter, 1) + 1);
}

uint64_t steep_rpc_observe_begin(struct steep_rpc_call *call)
{
    const char *given = steep_rpc_call_metadata(call, STEEP_RPC_REQUEST_ID_KEY);
    char fresh[REQUEST_ID_MAX + 1];
    if (!request_id_valid(given)) {
        steep_rpc_new_request_id(fresh, sizeof fresh);
        given = fresh;
    }
    steep_log_set_request_id(given);
    steep_log_set_task_id(NULL);
    steep_rpc_call_add_metadata(call, STEEP_RPC_REQUEST_ID_KEY, given);
    return steep_metrics_now_us();
}

void steep_rpc_observe_request(const ProtobufCMessage *request)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name(request->descriptor, "task_id");
    if (!field || field->type != PROTOBUF_C_TYPE_STRING ||
        field->label == PROTOBUF_C_LABEL_REPEATED)
        return;
    const char *task = *(const char *const *)((const char *)request + field->offset);
    if (task && task[0])
        steep_log_set_task_id(task);
}

/* Appends text to out[*len] while it fits (room includes the NUL). */
static bool append(char *out, size_t *len, size_t room, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > room)
        return false;
    memcpy(out + *len, text, n + 1);
    *len += n;
    return true;
}

struct call_metrics {
    const char *counter, *counter_help, *histogram, *histogram_help;
};

/* Counts a call by method and status and its time by method. The labels
 * are assembled with memcpy, not printf: this runs on every call. */
static void record(const struct call_metrics *m, const char *path, int code, uint64_t elapsed_us)
{
    char labels[STEEP_RPC_NAME_MAX + 64];
    size_t len = 0;
    if (!append(labels, &len, sizeof labels, "method=\"") ||
        !append(labels, &len, sizeof labels, path) || !append(labels, &len, sizeof labels, "\""))
        return;
    steep_metrics_observe(m->histogram, m->histogram_help, labels, STEEP_METRICS_SECONDS,
                          elapsed_us);
    if (append(labels, &len, sizeof labels, ",code=\"") &&
        append(labels, &len, sizeof labels, steep_grpc_code_name(code)) &&
        append(labels, &len, sizeof labels, "\""))
        steep_metrics_count(m->counter, m->counter_help, labels, 1);
}

static const struct call_metrics server_metrics = {
    "steep_rpc_server_handled_total", "Calls a handler answered, by method and gRPC status",
    "steep_rpc_server_handling_seconds", "Time from a call's decoding to its handler's answer"};
static const struct call_metrics client_metrics = {
    "steep_rpc_client_calls_total", "Calls made to other services, by method and gRPC status",
    "steep_rpc_client_call_seconds", "Time of a call to another service, answer included"};

void steep_rpc_observe_end(struct steep_rpc_call *call, uint64_t started_us)
{
    const char *path = call->method ? call->method->path : "unknown";
    uint64_t elapsed_us = steep_metrics_now_us() - started_us;
    record(&server_metrics, path, call->status, elapsed_us);
    /* One line per call at debug level, with the request (and task) id, so
     * a request can be followed through every service's log. */
    log_debug("rpc: %s from %s: %s in %.3f ms", path,
              call->peer->name[0] ? call->peer->name : "a client",
              steep_grpc_code_name(call->status), (double)elapsed_us / 1000.0);
    steep_log_set_request_id(NULL);
    steep_log_set_task_id(NULL);
}

int steep_rpc_observe_client_metadata(const struct steep_rpc_metadata *metadata, size_t count,
                                      struct steep_rpc_metadata **with_id)
{
    *with_id = NULL;
    const char *id = steep_log_request_id();
    if (!id[0])
        return 0;
    for (size_t i = 0; i < count; i++)
        if (!strcasecmp(metadata[i].key, STEEP_RPC_REQUEST_ID_KEY))
            return 0;
    *with_id = calloc(count + 1, sizeof(**with_id));
    ENSURE(*with_id, "out of memory");
    if (count)
        memcpy(*with_id, metadata, count * sizeof(*metadata));
    (*with_id)[count] = (struct steep_rpc_metadata){STEEP_RPC_REQUEST_ID_KEY, id};
    return 1;
}

void steep_rpc_observe_client_end(const char *path, int code, uint64_t started_us)
{
    record(&client_metrics, path, code, steep_metrics_now_us() - started_us);
}
