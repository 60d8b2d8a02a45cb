/* Stub authentication, access-control and management backends (stubs.h). */
#include "stubs.h"

#include "core/buf.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "google/protobuf/empty.pb-c.h"
#include "entry.h"
#include "methods.h"
#include "teaclave_access_control_service.pb-c.h"
#include "teaclave_authentication_service.pb-c.h"
#include "teaclave_frontend_service.pb-c.h"
#include "teaclave_management_service.pb-c.h"

/* ---- authentication ---------------------------------------------------------- */

static const struct {
    const char *id, *token, *role;
} users[] = {
    {"alice", "token-alice", "DataOwner-org1"},
    {"admin", "token-admin", "PlatformAdmin"},
    {"fred", "token-fred", "FunctionOwner"},
    {"mallory", "token-mallory", "Invalid"},
};

static void user_authenticate(struct steep_rpc_call *call, const ProtobufCMessage *message,
                              void *arg)
{
    const TeaclaveAuthenticationServiceProto__UserAuthenticateRequest *request =
        (const void *)message;
    if (!request->credential) {
        steep_rpc_fail(call, STEEP_GRPC_UNAUTHENTICATED, "authentication failed");
        return;
    }
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        if (strcmp(users[i].id, request->credential->id) == 0 &&
            strcmp(users[i].token, request->credential->token) == 0) {
            TeaclaveAuthenticationServiceProto__UserAuthClaims claims =
                TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_AUTH_CLAIMS__INIT;
            claims.sub = (char *)users[i].id;
            claims.role = (char *)users[i].role;
            claims.iss = "Teaclave";
            claims.exp = 4102444800u;
            TeaclaveAuthenticationServiceProto__UserAuthenticateResponse response =
                TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_AUTHENTICATE_RESPONSE__INIT;
            response.claims = &claims;
            steep_rpc_reply(call, &response.base);
            return;
        }
    }
    steep_rpc_fail(call, STEEP_GRPC_UNAUTHENTICATED, "authentication failed");
}

/* ---- access control ---------------------------------------------------------- */

static bool allowed(const char *role, const char *api)
{
    static const char *const function_apis[] = {
        "register_function", "update_function", "delete_function",          "disable_function",
        "get_function",      "list_functions",  "get_function_usage_stats", NULL,
    };
    if (strcmp(role, "PlatformAdmin") == 0)
        return true;
    bool function_api = false;
    for (int i = 0; function_apis[i]; i++)
        function_api |= strcmp(function_apis[i], api) == 0;
    if (strcmp(role, "FunctionOwner") == 0)
        return function_api;
    if (strcmp(role, "DataOwner") == 0 || strcmp(role, "DataOwnerManager") == 0)
        return strcmp(api, "query_audit_logs") != 0 &&
               (!function_api || strcmp(api, "get_function") == 0 ||
                strcmp(api, "list_functions") == 0 || strcmp(api, "get_function_usage_stats") == 0);
    return false;
}

static void authorize_api(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct stubs *s = arg;
    const TeaclaveAccessControlServiceProto__AuthorizeApiRequest *request = (const void *)message;
    pthread_mutex_lock(&s->lock);
    snprintf(s->seen.acs_role, sizeof s->seen.acs_role, "%s", request->user_role);
    snprintf(s->seen.acs_api, sizeof s->seen.acs_api, "%s", request->api);
    bool fail = s->fail_acs;
    pthread_mutex_unlock(&s->lock);
    if (fail) {
        steep_rpc_fail(call, STEEP_GRPC_UNAVAILABLE, "access control down");
        return;
    }
    TeaclaveAccessControlServiceProto__AuthorizeApiResponse response =
        TEACLAVE_ACCESS_CONTROL_SERVICE_PROTO__AUTHORIZE_API_RESPONSE__INIT;
    response.accept = allowed(request->user_role, request->api);
    steep_rpc_reply(call, &response.base);
}

/* ---- management --------------------------------------------------------------- */

struct management_route {
    struct stubs *stubs;
    const struct steep_frontend_method *method;
    char path[160];
};

static struct management_route routes[64];

static void copy_metadata(struct steep_rpc_call *call, const char *key, char *out, size_t len)
{
    const char *value = steep_rpc_call_metadata(call, key);
    snprintf(out, len, "%s", value ? value : "<none>");
}

/* The entry the frontend sends with a request (steep-audit: hex of a
 * packed Entry): counted, and with audit_in_management appended here as
 * management appends it with the request's write. True when appended. */
static bool carried_entry(struct stubs *s, struct steep_rpc_call *call)
{
    const char *hex = steep_rpc_call_metadata(call, "steep-audit");
    size_t len = hex ? strlen(hex) : 0;
    uint8_t *packed = len && len % 2 == 0 ? malloc(len / 2) : NULL;
    TeaclaveCommonProto__Entry *entry =
        packed && steep_hex_decode(hex, packed, len / 2) == 0
            ? teaclave_common_proto__entry__unpack(NULL, len / 2, packed)
            : NULL;
    free(packed);
    if (!entry)
        return false;
    pthread_mutex_lock(&s->lock);
    s->carried_entries++;
    bool append = s->audit_in_management;
    pthread_mutex_unlock(&s->lock);
    entry->microsecond = steep_frontend_now_us(); /* management's time, as audit_attach.c */
    bool appended = append && steep_audit_append(s->audit, &entry, 1) == 0;
    teaclave_common_proto__entry__free_unpacked(entry, NULL);
    return appended;
}

static void management_method(struct steep_rpc_call *call, const ProtobufCMessage *message,
                              void *arg)
{
    struct management_route *route = arg;
    struct stubs *s = route->stubs;
    pthread_mutex_lock(&s->lock);
    s->management_calls++;
    pthread_cond_broadcast(&s->changed);
    snprintf(s->seen.path, sizeof s->seen.path, "%s", route->path);
    copy_metadata(call, "id", s->seen.id, sizeof s->seen.id);
    copy_metadata(call, "token", s->seen.token, sizeof s->seen.token);
    copy_metadata(call, "role", s->seen.role, sizeof s->seen.role);
    pthread_mutex_unlock(&s->lock);

    const char *wait = steep_rpc_call_metadata(call, "steep-wait-ms");
    if (wait && strcmp(route->method->name, "GetTask") == 0) /* a long poll: held that long */
        usleep((useconds_t)(atoi(wait) > 2000 ? 2000 : atoi(wait)) * 1000);
    if (strcmp(route->method->name, "QueryAuditLogs") == 0) {
        TeaclaveFrontendServiceProto__QueryAuditLogsResponse *response = NULL;
        int code = steep_audit_query_logs(s->audit, steep_rpc_call_metadata(call, "role"),
                                          (const void *)message, &response);
        if (code != 0) {
            steep_rpc_fail(call, code, "%s", steep_error_get());
            return;
        }
        steep_rpc_reply(call, &response->base);
        protobuf_c_message_free_unpacked(&response->base, NULL);
        return;
    }
    if (strcmp(route->method->name, "GetFunction") == 0) {
        const TeaclaveFrontendServiceProto__GetFunctionRequest *request = (const void *)message;
        if (strcmp(request->function_id, "function-missing") == 0) {
            steep_rpc_fail(call, STEEP_GRPC_INVALID_ARGUMENT, "invalid function id");
            return;
        }
        TeaclaveFrontendServiceProto__GetFunctionResponse response =
            TEACLAVE_FRONTEND_SERVICE_PROTO__GET_FUNCTION_RESPONSE__INIT;
        response.name = request->function_id;
        response.owner = "fred";
        if (carried_entry(s, call))
            steep_rpc_call_add_metadata(call, "steep-audited", "1");
        steep_rpc_reply(call, &response.base);
        return;
    }
    if (carried_entry(s, call))
        steep_rpc_call_add_metadata(call, "steep-audited", "1");
    const ProtobufCMessageDescriptor *type = route->method->response;
    ProtobufCMessage *response = calloc(1, type->sizeof_message);
    type->message_init(response);
    steep_rpc_reply(call, response);
    free(response);
}

static void save_logs(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct stubs *s = arg;
    const TeaclaveManagementServiceProto__SaveLogsRequest *request = (const void *)message;
    pthread_mutex_lock(&s->lock);
    if (s->save_logs_calls < 64)
        s->save_logs_sizes[s->save_logs_calls] = request->n_logs;
    s->save_logs_calls++;
    s->save_logs_waiting = true;
    pthread_cond_broadcast(&s->changed);
    while (s->hold_save_logs)
        pthread_cond_wait(&s->changed, &s->lock);
    s->save_logs_waiting = false;
    bool fail = s->fail_save_logs;
    pthread_mutex_unlock(&s->lock);
    if (fail) {
        steep_rpc_fail(call, STEEP_GRPC_INTERNAL, "service internal error");
        return;
    }
    int code = steep_audit_save_logs(s->audit, (const void *)message);
    if (code != 0) {
        steep_rpc_fail(call, code, "%s", steep_error_get());
        return;
    }
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    steep_rpc_reply(call, &empty.base);
}

/* ---- server ------------------------------------------------------------------- */

static int register_all(struct stubs *s)
{
    if (steep_rpc_server_add(
            s->server,
            "/teaclave_authentication_service_proto.TeaclaveAuthenticationInternal/"
            "UserAuthenticate",
            &teaclave_authentication_service_proto__user_authenticate_request__descriptor,
            user_authenticate, s) < 0 ||
        steep_rpc_server_add(
            s->server, "/teaclave_access_control_service_proto.TeaclaveAccessControl/AuthorizeApi",
            &teaclave_access_control_service_proto__authorize_api_request__descriptor,
            authorize_api, s) < 0 ||
        steep_rpc_server_add(
            s->server, "/teaclave_management_service_proto.TeaclaveManagement/SaveLogs",
            &teaclave_management_service_proto__save_logs_request__descriptor, save_logs, s) < 0)
        return -1;
    for (size_t i = 0; i < steep_frontend_method_count; i++) {
        routes[i].stubs = s;
        routes[i].method = &steep_frontend_methods[i];
        snprintf(routes[i].path, sizeof routes[i].path, "/%s/%s", STEEP_MANAGEMENT_SERVICE,
                 steep_frontend_methods[i].name);
        if (steep_rpc_server_add(s->server, routes[i].path, steep_frontend_methods[i].request,
                                 management_method, &routes[i]) < 0)
            return -1;
    }
    return 0;
}

int stubs_start(struct stubs *s)
{
    static const uint8_t key[STEEP_STORE_KEY_BYTES] = {42};
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    strcpy(s->store_dir, "/tmp/steep-frontend-test-XXXXXX");
    if (!mkdtemp(s->store_dir) ||
        steep_store_open(s->store_dir, key, STEEP_STORE_CREATE, &s->store) != 0)
        return -1;
    s->seam = steep_audit_store_over_engine(s->store);
    s->audit = steep_audit_open(&s->seam, NULL);
    if (!s->audit || test_tls_server_identity(&s->tls) < 0)
        return -1;
    struct steep_rpc_server_config config = {
        .listen = "127.0.0.1:0", .tls = s->tls, .workers = 48, .name = "stubs"};
    s->server = steep_rpc_server_new(&config);
    if (!s->server || register_all(s) < 0 || steep_rpc_server_start(s->server) < 0)
        return -1;
    s->port = steep_rpc_server_port(s->server);
    return 0;
}

void stubs_stop(struct stubs *s)
{
    if (s->server) {
        steep_rpc_server_stop(s->server, 1000);
        steep_rpc_server_free(s->server);
    }
    test_tls_server_identity_free(&s->tls);
    steep_audit_free(s->audit);
    steep_store_close(s->store);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", s->store_dir);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", s->store_dir);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
}
