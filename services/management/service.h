/*
 * The management service's RPC surface: every TeaclaveManagement method
 * (the 22 frontend methods and SaveLogs) on a server, the caller taken from
 * metadata `id` and `role` (set by the attested frontend).
 */
#ifndef STEEP_MANAGEMENT_SERVICE_H
#define STEEP_MANAGEMENT_SERVICE_H

#include "audit.h"
#include "management.h"
#include "rpc/rpc.h"

struct steep_management_service {
    struct steep_management *management;
    struct steep_audit *audit;
};

/* Held GetTasks (steep-wait-ms) at once, per user and in all; more are
 * refused RESOURCE_EXHAUSTED. The frontend's own bounds are lower. */
#define STEEP_MANAGEMENT_MAX_WAITS_PER_USER 256
#define STEEP_MANAGEMENT_MAX_WAITS          1024

int steep_management_register(struct steep_rpc_server *server,
                              struct steep_management_service *service);

#endif
