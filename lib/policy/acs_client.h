/*
 * Client helper for the access-control service (steep-access-control).
 *
 * Both calls go over an already configured struct steep_rpc_client (the
 * caller builds it with the attested TLS config pinned to
 * teaclave_access_control_service, and keeps one per process). A call
 * returns 0 when the service answered — the decision is then in *accept —
 * and -1 with steep_error_get() set when the RPC failed; callers must treat
 * -1 as "denied". Target: steep_acs_client.
 */
#ifndef STEEP_POLICY_ACS_CLIENT_H
#define STEEP_POLICY_ACS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "rpc/rpc.h"

#define STEEP_ACS_PATH_AUTHORIZE_API                                                               \
    "/teaclave_access_control_service_proto.TeaclaveAccessControl/AuthorizeApi"
#define STEEP_ACS_PATH_AUTHORIZE "/steep_access_control_proto.SteepAccessControl/Authorize"

/* Per-call deadline used by both helpers. */
#define STEEP_ACS_TIMEOUT_MS 5000

/* One field of a request, e.g. {"task", "task-..."}. */
struct steep_acs_field {
    const char *name;
    const char *value;
};

/* One dynamic fact: term(values[0], ..., values[nvalues-1]). */
struct steep_acs_fact {
    const char *term;
    const char *const *values;
    size_t nvalues;
};

/* Teaclave's AuthorizeApi: may `role` (e.g. "DataOwner", no attribute) call
 * `api` (snake_case, e.g. "create_task")? */
int steep_acs_authorize_api(struct steep_rpc_client *client, const char *role, const char *api,
                            bool *accept);

/* Steep's Authorize: evaluates the matcher of `request` with the given fields
 * and facts. reason (may be NULL) receives the service's reason for a denial,
 * or the RPC error; reason_len includes the NUL. */
int steep_acs_authorize(struct steep_rpc_client *client, const char *request,
                        const struct steep_acs_field *fields, size_t nfields,
                        const struct steep_acs_fact *facts, size_t nfacts, bool *accept,
                        char *reason, size_t reason_len);

#endif
