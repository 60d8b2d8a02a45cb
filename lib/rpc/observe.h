/*
 * Hooks of the RPC layer for logs and metrics (observe.c): request ids
 * carried in gRPC metadata, per-method counters and latency histograms.
 * Called by call.c (server) and client.c; services need only the key and
 * steep_rpc_new_request_id.
 */
#ifndef STEEP_RPC_OBSERVE_H
#define STEEP_RPC_OBSERVE_H

#include <stdint.h>

#include "rpc/rpc.h"

/* The metadata key of a request's id, set by the first service a request
 * reaches and passed on by every internal call. */
#define STEEP_RPC_REQUEST_ID_KEY "x-request-id"

/* A fresh request id ("<16 hex>-<counter>"). */
void steep_rpc_new_request_id(char *out, size_t len);

/* Server side, around a handler. begin returns the start time. */
uint64_t steep_rpc_observe_begin(struct steep_rpc_call *call);
void steep_rpc_observe_request(const ProtobufCMessage *request);
void steep_rpc_observe_end(struct steep_rpc_call *call, uint64_t started_us);

/* Client side: 1 with *with_id = metadata plus the thread's request id
 * (free it), 0 when nothing is to add, -1 out of memory. */
int steep_rpc_observe_client_metadata(const struct steep_rpc_metadata *metadata, size_t count,
                                      struct steep_rpc_metadata **with_id);
void steep_rpc_observe_client_end(const char *path, int code, uint64_t started_us);

#endif
