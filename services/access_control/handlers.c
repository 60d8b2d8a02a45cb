/*
 * AuthorizeApi and Authorize (see handlers.h). A malformed Authorize is a
 * denial with a reason, never an accept; AuthorizeApi keeps Teaclave's
 * wire behaviour: accept true/false, PERMISSION_DENIED "access control
 * error" when the engine fails.
 */
#include "access_control/handlers.h"

#include "core/error.h"
#include "core/log.h"

#include "steep_access_control.pb-c.h"
#include "teaclave_access_control_service.pb-c.h"

#include <stdlib.h>

#define PATH_AUTHORIZE_API                                                                         \
    "/teaclave_access_control_service_proto.TeaclaveAccessControl/AuthorizeApi"
#define PATH_AUTHORIZE "/steep_access_control_proto.SteepAccessControl/Authorize"

static void authorize_api(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    const struct steep_policy *policy = arg;
    const TeaclaveAccessControlServiceProto__AuthorizeApiRequest *request =
        (const TeaclaveAccessControlServiceProto__AuthorizeApiRequest *)message;
    struct steep_policy_field fields[] = {{"role", request->user_role}, {"api", request->api}};
    bool accept = false;
    char reason[STEEP_POLICY_REASON_MAX];
    if (steep_policy_decide(policy, "user_access_api", fields, 2, NULL, 0, &accept, reason,
                            sizeof reason) < 0) {
        log_warn("AuthorizeApi failed: %s", reason);
        steep_rpc_fail(call, STEEP_GRPC_PERMISSION_DENIED, "access control error");
        return;
    }
    log_debug("AuthorizeApi role=%.64s api=%.64s -> %s", request->user_role, request->api,
              accept ? "accept" : "deny");
    TeaclaveAccessControlServiceProto__AuthorizeApiResponse response =
        TEACLAVE_ACCESS_CONTROL_SERVICE_PROTO__AUTHORIZE_API_RESPONSE__INIT;
    response.accept = accept;
    steep_rpc_reply(call, &response.base);
}

static void reply_authorize(struct steep_rpc_call *call, bool accept, const char *reason)
{
    SteepAccessControlProto__AuthorizeResponse response =
        STEEP_ACCESS_CONTROL_PROTO__AUTHORIZE_RESPONSE__INIT;
    response.accept = accept;
    response.reason = (char *)reason;
    steep_rpc_reply(call, &response.base);
}

static void authorize(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    const struct steep_policy *policy = arg;
    const SteepAccessControlProto__AuthorizeRequest *request =
        (const SteepAccessControlProto__AuthorizeRequest *)message;
    if (request->n_fields > STEEP_POLICY_MAX_COLUMNS ||
        request->n_facts > STEEP_POLICY_MAX_DYN_FACTS) {
        reply_authorize(call, false, "too many fields or facts");
        return;
    }
    struct steep_policy_field fields[STEEP_POLICY_MAX_COLUMNS];
    for (size_t i = 0; i < request->n_fields; i++)
        fields[i] =
            (struct steep_policy_field){request->fields[i]->name, request->fields[i]->value};
    struct steep_policy_fact *facts = calloc(request->n_facts + 1, sizeof *facts);
    if (!facts) {
        reply_authorize(call, false, "out of memory");
        return;
    }
    for (size_t i = 0; i < request->n_facts; i++)
        facts[i] = (struct steep_policy_fact){request->facts[i]->term,
                                              (const char *const *)request->facts[i]->values,
                                              request->facts[i]->n_values};
    bool accept = false;
    char reason[STEEP_POLICY_REASON_MAX];
    steep_policy_decide(policy, request->request, fields, request->n_fields, facts,
                        request->n_facts, &accept, reason, sizeof reason);
    free(facts);
    log_debug("Authorize %.64s with %zu facts -> %s%s%s", request->request, request->n_facts,
              accept ? "accept" : "deny", accept ? "" : ": ", reason);
    reply_authorize(call, accept, reason);
}

int steep_access_control_register(struct steep_rpc_server *server,
                                  const struct steep_policy *policy)
{
    void *arg = (void *)policy;
    /* AuthorizeApi (every frontend request asks it) is two fields against
     * the loaded, read-only policy: microseconds, no lock, no I/O, so it
     * runs on the event loop without a trip through the worker pool.
     * Authorize carries caller-sized facts and stays on the workers. */
    GUARD(steep_rpc_server_add_inline(
        server, PATH_AUTHORIZE_API,
        &teaclave_access_control_service_proto__authorize_api_request__descriptor, authorize_api,
        arg));
    GUARD(steep_rpc_server_add(server, PATH_AUTHORIZE,
                               &steep_access_control_proto__authorize_request__descriptor,
                               authorize, arg));
    return 0;
}
