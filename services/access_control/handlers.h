/*
 * The RPC handlers of steep-access-control: Teaclave's AuthorizeApi
 * (answered through the policy's `user_access_api` request) and Steep's
 * Authorize (any request of the policy, with fields and dynamic facts).
 * The service holds nothing but the loaded policy, which is immutable, so
 * handlers run concurrently without locks.
 */
#ifndef STEEP_ACCESS_CONTROL_HANDLERS_H
#define STEEP_ACCESS_CONTROL_HANDLERS_H

#include "policy/policy.h"
#include "rpc/rpc.h"

/* Registers both methods on server; policy must outlive the server. */
int steep_access_control_register(struct steep_rpc_server *server,
                                  const struct steep_policy *policy);

#endif
