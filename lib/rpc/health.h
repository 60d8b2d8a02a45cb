/*
 * The standard gRPC health-checking protocol (grpc.health.v1.Health/Check)
 * on a Steep server, and a client probe for it.
 *
 * Check answers SERVING or NOT_SERVING as the server's owner decides
 * (serving(arg), called for each check: it must not block, the method runs
 * inline on the event loop) for the service "" (the whole server), the
 * owner's own name (e.g. "teaclave_storage_service") and every gRPC service
 * with methods on the server (e.g. "teaclave_storage_service_proto.
 * TeaclaveStorage", "grpc.health.v1.Health"); any other name is NOT_FOUND,
 * as the protocol says. Watch is a server-streaming method, which Steep's
 * unary RPC layer does not serve: it answers UNIMPLEMENTED, which the
 * protocol allows.
 */
#ifndef STEEP_RPC_HEALTH_H
#define STEEP_RPC_HEALTH_H

#include <stdbool.h>

#include "rpc/rpc.h"

#define STEEP_RPC_HEALTH_CHECK "/grpc.health.v1.Health/Check"

typedef bool (*steep_rpc_health_fn)(void *arg);

/* What Check consults; the caller's, living as long as the server. */
struct steep_rpc_health {
    const char *own_name;
    steep_rpc_health_fn serving;
    void *arg;
    struct steep_rpc_server *server; /* set by steep_rpc_health_add */
};

/* Registers Check on server. 0 or -1. */
int steep_rpc_health_add(struct steep_rpc_server *server, struct steep_rpc_health *health);

enum steep_rpc_health_status {
    STEEP_RPC_HEALTH_UNKNOWN = 0,
    STEEP_RPC_HEALTH_SERVING = 1,
    STEEP_RPC_HEALTH_NOT_SERVING = 2,
};

/* Asks a peer's Check for service. 0 with *serving set when the peer
 * answered, else -1 with status filled (unreachable, NOT_FOUND, …). */
int steep_rpc_health_check(struct steep_rpc_client *client, const char *service, int timeout_ms,
                           enum steep_rpc_health_status *serving, struct steep_rpc_status *status);

#endif
