/*
 * steep-frontend's core: Teaclave's TeaclaveFrontend service, independent
 * of how its backends were connected, so tests can run it against stubs.
 *
 * Every one of the 22 methods runs the same pipeline (Teaclave's
 * authentication_and_forward_to_management, spec §4.1):
 *   1. peer IP (IPv4 as ::a.b.c.d),
 *   2. metadata id/token (missing: UNAUTHENTICATED "missing user id" /
 *      "missing token") -> TeaclaveAuthenticationInternal/UserAuthenticate
 *      (any failure: UNAUTHENTICATED "incorrent credential", Teaclave's typo),
 *   3. TeaclaveAccessControl/AuthorizeApi{role before the first '-',
 *      snake_case method} (false or failure: PERMISSION_DENIED "permission denied"),
 *   4. the same request to TeaclaveManagement/<Method> with metadata id,
 *      token and role = the token's full role claim; management's answer or
 *      status goes back unchanged,
 *   5. one audit Entry per request, acknowledged by management (SaveLogs)
 *      BEFORE the answer is sent (shipper.h) -- except requests failing
 *      authentication beyond a few per window, which are counted into one
 *      summary entry per window (auth_audit.h). If the audit log cannot be
 *      written, a successful answer is replaced by UNAVAILABLE
 *      "audit log unavailable"; an error answer is sent as it is.
 * The backend clients multiplex concurrent calls; nothing is serialized.
 */
#ifndef STEEP_FRONTEND_FRONTEND_H
#define STEEP_FRONTEND_FRONTEND_H

#include <stdbool.h>

#include "rpc/rpc.h"

struct steep_frontend_backends {
    struct steep_rpc_client *authentication; /* internal endpoint (17776) */
    struct steep_rpc_client *access_control; /* 17779 */
    struct steep_rpc_client *management;     /* 17777 */
};

struct steep_frontend_options {
    int backend_timeout_ms;    /* UserAuthenticate, AuthorizeApi; 0: 5000 */
    int management_timeout_ms; /* forwarded calls without a client deadline; 0: 30000 */
    int audit_timeout_ms;      /* one SaveLogs; 0: 5000 */
    /* Failed authentications audited one by one per window, the rest only
     * counted (auth_audit.h); window 0: the defaults (20 per 60 s). */
    int audit_auth_failures_per_window;
    int audit_auth_failure_window_ms;
    /* Held GetTask calls (steep-wait-ms) at once, per user and in all; one
     * more is refused RESOURCE_EXHAUSTED. 0: the defaults below. */
    int max_holds_per_user;
    int max_holds;
};

#define STEEP_FRONTEND_MAX_HOLDS_PER_USER_DEFAULT 64
#define STEEP_FRONTEND_MAX_HOLDS_DEFAULT          256

struct steep_frontend;

/* The clients stay owned by the caller and must outlive the frontend. */
struct steep_frontend *steep_frontend_new(const struct steep_frontend_backends *backends,
                                          const struct steep_frontend_options *options);
/* Registers the 22 TeaclaveFrontend methods. */
int steep_frontend_register(struct steep_rpc_server *server, struct steep_frontend *frontend);
/* Ships what is pending to the audit log and frees; stop the server first. */
void steep_frontend_free(struct steep_frontend *frontend);

#endif
