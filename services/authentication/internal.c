/*
 * The internal API of steep-authentication (TeaclaveAuthenticationInternal),
 * reachable only by the attested frontend: UserAuthenticate validates a
 * credential exactly like the public API does and returns the claims.
 */
#include "authentication/service_internal.h"

#include "core/error.h"
#include "core/log.h"

#include "teaclave_authentication_service.pb-c.h"

#define PATH_AUTHENTICATE                                                                          \
    "/teaclave_authentication_service_proto.TeaclaveAuthenticationInternal/UserAuthenticate"

static void user_authenticate(struct steep_rpc_call *call, const ProtobufCMessage *message,
                              void *arg)
{
    struct steep_auth *auth = arg;
    const TeaclaveAuthenticationServiceProto__UserAuthenticateRequest *request =
        (const void *)message;
    const TeaclaveCommonProto__UserCredential *credential = request->credential;
    if (!credential || !credential->id || !credential->id[0]) {
        steep_auth_fail(call, MSG_MISSING_USER_ID);
        return;
    }
    if (!credential->token || !credential->token[0]) {
        steep_auth_fail(call, MSG_MISSING_TOKEN);
        return;
    }
    struct steep_auth_user user;
    struct steep_auth_claims claims;
    int rc = steep_auth_user_id_valid(credential->id)
                 ? steep_auth_check_token(auth, credential->id, credential->token, &user, &claims)
                 : -1;
    if (rc == -2) {
        log_warn("cannot check the credential of '%.64s': %s", credential->id, steep_error_get());
        steep_auth_fail_unavailable(call);
        return;
    }
    if (rc < 0) {
        log_info("rejected credential of '%.64s': %s", credential->id, steep_error_get());
        steep_auth_fail(call, MSG_AUTHENTICATION_FAILED);
        return;
    }
    TeaclaveAuthenticationServiceProto__UserAuthClaims out =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_AUTH_CLAIMS__INIT;
    out.sub = claims.sub;
    out.role = claims.role;
    out.iss = claims.iss;
    out.exp = (uint64_t)claims.exp;
    TeaclaveAuthenticationServiceProto__UserAuthenticateResponse response =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_AUTHENTICATE_RESPONSE__INIT;
    response.claims = &out;
    steep_rpc_reply(call, &response.base);
}

int steep_auth_register_internal(struct steep_rpc_server *server, struct steep_auth *auth)
{
    return steep_rpc_server_add(
        server, PATH_AUTHENTICATE,
        &teaclave_authentication_service_proto__user_authenticate_request__descriptor,
        user_authenticate, auth);
}
