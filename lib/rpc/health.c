/*
 * grpc.health.v1.Health/Check (see health.h). The names a check may ask
 * for are read from the server's method table at each check: methods are
 * registered before the server starts and never change after, so the
 * table is read without a lock, and a service's own gRPC services are
 * known without the service listing them twice.
 */
#include "rpc/health.h"

#include <string.h>

#include "core/error.h"
#include "grpc_health_v1.pb-c.h"
#include "rpc/internal.h"

/* True when "/pkg.Service/Method" is a method of the service named name. */
static bool method_of(const char *path, const char *name)
{
    size_t len = strlen(name);
    return path[0] == '/' && !strncmp(path + 1, name, len) && path[1 + len] == '/';
}

static bool known(const struct steep_rpc_health *health, const char *name)
{
    if (!name[0] || (health->own_name && !strcmp(name, health->own_name)))
        return true;
    const struct steep_rpc_server *server = health->server;
    for (size_t i = 0; i < server->n_methods; i++)
        if (method_of(server->methods[i].path, name))
            return true;
    return false;
}

static void check(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    const Grpc__Health__V1__HealthCheckRequest *request = (const void *)message;
    struct steep_rpc_health *health = arg;
    const char *name = request->service ? request->service : "";
    if (!known(health, name)) {
        steep_rpc_fail(call, STEEP_GRPC_NOT_FOUND, "unknown service '%.200s'", name);
        return;
    }
    Grpc__Health__V1__HealthCheckResponse reply = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    reply.status = health->serving(health->arg)
                       ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                       : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    steep_rpc_reply(call, &reply.base);
}

int steep_rpc_health_add(struct steep_rpc_server *server, struct steep_rpc_health *health)
{
    ENSURE(health->serving, "health: no serving function");
    health->server = server;
    /* serving() reads flags: never blocks, so the check runs on the loop
     * and answers even while every worker is busy. */
    return steep_rpc_server_add_inline(server, STEEP_RPC_HEALTH_CHECK,
                                       &grpc__health__v1__health_check_request__descriptor, check,
                                       health);
}

int steep_rpc_health_check(struct steep_rpc_client *client, const char *service, int timeout_ms,
                           enum steep_rpc_health_status *serving, struct steep_rpc_status *status)
{
    Grpc__Health__V1__HealthCheckRequest request = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    request.service = (char *)service;
    ProtobufCMessage *response = NULL;
    if (steep_rpc_call(client, STEEP_RPC_HEALTH_CHECK, &request.base,
                       &grpc__health__v1__health_check_response__descriptor, &response, NULL, 0,
                       timeout_ms, status) < 0)
        return -1;
    const Grpc__Health__V1__HealthCheckResponse *reply = (const void *)response;
    *serving =
        reply->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
            ? STEEP_RPC_HEALTH_SERVING
        : reply->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
            ? STEEP_RPC_HEALTH_NOT_SERVING
            : STEEP_RPC_HEALTH_UNKNOWN;
    protobuf_c_message_free_unpacked(response, NULL);
    return 0;
}
