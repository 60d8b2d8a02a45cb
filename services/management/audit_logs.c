/*
 * SaveLogs and QueryAuditLogs in the shape of the management service's
 * handlers: decoded request in, 0 or a gRPC code out (message in
 * steep_error_get(), Teaclave's texts).
 */
#include <stdlib.h>
#include <string.h>

#include "audit_internal.h"
#include "core/error.h"
#include "rpc/rpc.h"

int steep_audit_save_logs(struct steep_audit *audit,
                          const TeaclaveManagementServiceProto__SaveLogsRequest *request)
{
    if (steep_audit_append(audit, request->logs, request->n_logs) < 0)
        return steep_audit_last_code();
    return 0;
}

int steep_audit_query_logs(struct steep_audit *audit, const char *role,
                           const TeaclaveFrontendServiceProto__QueryAuditLogsRequest *request,
                           TeaclaveFrontendServiceProto__QueryAuditLogsResponse **response)
{
    if (!role || !*role) {
        audit_fail(STEEP_GRPC_UNKNOWN, "missing user role");
        return STEEP_GRPC_UNKNOWN;
    }
    if (strcmp(role, "PlatformAdmin") != 0) {
        audit_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
        return STEEP_GRPC_PERMISSION_DENIED;
    }
    TeaclaveFrontendServiceProto__QueryAuditLogsResponse *out = malloc(sizeof *out);
    if (!out) {
        audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
        return STEEP_GRPC_INTERNAL;
    }
    teaclave_frontend_service_proto__query_audit_logs_response__init(out);
    if (steep_audit_query(audit, request->query, request->limit, &out->logs, &out->n_logs) < 0) {
        free(out);
        return steep_audit_last_code();
    }
    *response = out;
    return 0;
}
