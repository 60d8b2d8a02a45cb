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

int steep_management_register(struct steep_rpc_server *server,
                              struct steep_management_service *service);

#endif
