/*
 * The request pipeline shared by all 22 TeaclaveFrontend methods
 * (frontend.h): authenticate, authorize, forward, audit, answer.
 *
 * Each step either yields what the next needs or decides the answer and the
 * audit entry of a failure, in Teaclave's texts. The answer is sent only
 * after the entry was acknowledged by the audit log. The entry of a
 * success goes to management with the request (metadata steep-audit,
 * services/management/audit_attach.h): when management wrote it in the
 * request's own storage write it answers steep-audited and the request
 * costs one durable write, not two; otherwise (reads, failures, long
 * polls) the entry is shipped by SaveLogs here.
 *
 * Long polls (GetTask with steep-wait-ms, issue 14 item 7) hold no thread
 * here: after authorization the call is held (steep_rpc_call_hold), the
 * forward to management is asynchronous, and its answer resumes the call
 * on a worker for the audit and the answer. Holds are counted per user and
 * in total; one over either limit is refused RESOURCE_EXHAUSTED, so one
 * user cannot crowd out the others (management and storage park their
 * waits too, and bound them per caller).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_audit.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/quota.h"
#include "entry.h"
#include "frontend.h"
#include "methods.h"
#include "shipper.h"
#include "teaclave_access_control_service.pb-c.h"
#include "teaclave_authentication_service.pb-c.h"

#define USER_AUTHENTICATE_PATH                                                                     \
    "/teaclave_authentication_service_proto.TeaclaveAuthenticationInternal/UserAuthenticate"
#define AUTHORIZE_API_PATH                                                                         \
    "/teaclave_access_control_service_proto.TeaclaveAccessControl/AuthorizeApi"
#define CLAIM_MAX 256
/* services/management/audit_attach.h */
#define STEEP_FRONTEND_AUDIT_METADATA "steep-audit"

struct route {
    struct steep_frontend *frontend;
    const struct steep_frontend_method *method;
    char management_path[128];
};

struct steep_frontend {
    struct steep_frontend_backends backends;
    struct steep_frontend_options options;
    struct steep_frontend_shipper *shipper;
    struct steep_frontend_auth_audit *auth_audit;
    struct route *routes;
    struct steep_quota holds; /* held calls per user, at most max_holds */
};

/* What one request learned on its way through the pipeline. */
struct request_state {
    const char *id;
    const char *token;
    char sub[CLAIM_MAX];
    char role[CLAIM_MAX];
    /* the audit entry */
    uint8_t ip[16];
    char user[2 * CLAIM_MAX];
    char message[1024];
};

/* ---- steps ----------------------------------------------------------------- */

/* 0, or a status code with *error set to the client-facing text. */
static int authenticate(struct steep_frontend *fe, struct steep_rpc_call *call,
                        struct request_state *rs, const char **error)
{
    rs->id = steep_rpc_call_metadata(call, "id");
    rs->token = steep_rpc_call_metadata(call, "token");
    if (!rs->id) {
        *error = "missing user id";
        return STEEP_GRPC_UNAUTHENTICATED;
    }
    if (!rs->token) {
        *error = "missing token";
        return STEEP_GRPC_UNAUTHENTICATED;
    }
    TeaclaveCommonProto__UserCredential credential = TEACLAVE_COMMON_PROTO__USER_CREDENTIAL__INIT;
    credential.id = (char *)rs->id;
    credential.token = (char *)rs->token;
    TeaclaveAuthenticationServiceProto__UserAuthenticateRequest request =
        TEACLAVE_AUTHENTICATION_SERVICE_PROTO__USER_AUTHENTICATE_REQUEST__INIT;
    request.credential = &credential;
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    *error = "incorrent credential"; /* sic: Teaclave's text, kept for compatibility */
    if (steep_rpc_call(
            fe->backends.authentication, USER_AUTHENTICATE_PATH, &request.base,
            &teaclave_authentication_service_proto__user_authenticate_response__descriptor,
            &response, NULL, 0, fe->options.backend_timeout_ms, &status) < 0) {
        if (status.code != STEEP_GRPC_UNAUTHENTICATED)
            log_warn("UserAuthenticate failed: %s: %s", steep_grpc_code_name(status.code),
                     status.message);
        return STEEP_GRPC_UNAUTHENTICATED;
    }
    const TeaclaveAuthenticationServiceProto__UserAuthenticateResponse *answer =
        (const void *)response;
    int code = STEEP_GRPC_UNAUTHENTICATED;
    if (answer->claims && answer->claims->sub && answer->claims->role &&
        strlen(answer->claims->sub) < CLAIM_MAX && strlen(answer->claims->role) < CLAIM_MAX) {
        snprintf(rs->sub, sizeof rs->sub, "%s", answer->claims->sub);
        snprintf(rs->role, sizeof rs->role, "%s", answer->claims->role);
        code = 0;
    }
    protobuf_c_message_free_unpacked(response, NULL);
    return code;
}

static bool authorize(struct steep_frontend *fe, const struct steep_frontend_method *method,
                      const struct request_state *rs)
{
    char role[CLAIM_MAX];
    steep_frontend_acs_role(rs->role, role, sizeof role);
    TeaclaveAccessControlServiceProto__AuthorizeApiRequest request =
        TEACLAVE_ACCESS_CONTROL_SERVICE_PROTO__AUTHORIZE_API_REQUEST__INIT;
    request.user_role = role;
    request.api = (char *)method->api;
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    if (steep_rpc_call(fe->backends.access_control, AUTHORIZE_API_PATH, &request.base,
                       &teaclave_access_control_service_proto__authorize_api_response__descriptor,
                       &response, NULL, 0, fe->options.backend_timeout_ms, &status) < 0) {
        log_warn("AuthorizeApi failed: %s: %s", steep_grpc_code_name(status.code), status.message);
        return false;
    }
    bool accept =
        ((const TeaclaveAccessControlServiceProto__AuthorizeApiResponse *)response)->accept;
    protobuf_c_message_free_unpacked(response, NULL);
    return accept;
}

static int forward_timeout(struct steep_frontend *fe, struct steep_rpc_call *call)
{
    int64_t remaining = steep_rpc_call_remaining_ms(call);
    if (remaining < 0 || remaining > fe->options.management_timeout_ms)
        return fe->options.management_timeout_ms;
    return remaining > 0 ? (int)remaining : 1;
}

/* ---- audit and answer ------------------------------------------------------- */

/* The request's audit entry, now; its strings point into rs. */
static TeaclaveCommonProto__Entry request_entry(struct request_state *rs, bool result)
{
    TeaclaveCommonProto__Entry entry = TEACLAVE_COMMON_PROTO__ENTRY__INIT;
    entry.microsecond = steep_frontend_now_us();
    entry.ip.data = rs->ip;
    entry.ip.len = sizeof rs->ip;
    entry.user = rs->user;
    entry.message = rs->message;
    entry.result = result;
    return entry;
}

static int audit(struct steep_frontend *fe, struct request_state *rs, bool result)
{
    TeaclaveCommonProto__Entry entry = request_entry(rs, result);
    return steep_frontend_shipper_log(fe->shipper, &entry);
}

/* Audits a failure and sends it (an audit failure does not change an error). */
static void fail(struct steep_frontend *fe, struct steep_rpc_call *call, struct request_state *rs,
                 int code, const char *text)
{
    if (audit(fe, rs, false) < 0)
        log_error("audit entry for a failed request was not saved: %s", rs->message);
    steep_rpc_fail(call, code, "%s", text);
}

/* Step timings for the debug log: authenticate, authorize, management, audit. */
struct timings {
    int64_t since;
    double ms[4];
};

static void lap(struct timings *t, int step)
{
    int64_t now = steep_frontend_now_us();
    t->ms[step] = (double)(now - t->since) / 1000.0;
    t->since = now;
}

static void log_timings(const struct timings *t, const char *api, bool ok)
{
    log_debug("%s%s: authenticate %.3f ms, authorize %.3f ms, management %.3f ms, audit %.3f ms",
              api, ok ? "" : " (failed)", t->ms[0], t->ms[1], t->ms[2], t->ms[3]);
}

/* A transport failure's text names internal hosts: say only what happened. */
static const char *client_text(const struct steep_rpc_status *status)
{
    switch (status->code) {
    case STEEP_GRPC_UNAVAILABLE:
        return "service unavailable";
    case STEEP_GRPC_DEADLINE_EXCEEDED:
        return "deadline exceeded";
    case STEEP_GRPC_CANCELLED:
        return "cancelled";
    default:
        return status->message;
    }
}

/* ---- held calls (long polls) ---------------------------------------------- */

/* Counts one more hold for user: false when the user or the frontend is at
 * its limit. */
static bool hold_acquire(struct steep_frontend *fe, const char *user)
{
    return steep_quota_acquire(&fe->holds, user);
}

static void hold_release(struct steep_frontend *fe, const char *user)
{
    steep_quota_release(&fe->holds, user);
}

/* ---- forwarding to management ---------------------------------------------- */

/* Step 5: management's answer (rc 0: response) or its failure, audited,
 * goes back unchanged. */
static void answer_forwarded(struct steep_frontend *fe, const struct route *route,
                             struct steep_rpc_call *call, struct request_state *rs,
                             struct timings *t, int rc, ProtobufCMessage *response,
                             const struct steep_rpc_status *status, bool audited)
{
    const struct steep_frontend_method *method = route->method;
    lap(t, 2);
    if (rc < 0) {
        const char *text = client_text(status);
        if (text != status->message)
            log_warn("%s: management: %s: %s", method->api, steep_grpc_code_name(status->code),
                     status->message);
        char display[700];
        steep_frontend_entry_status(status->code, text, display, sizeof display);
        snprintf(rs->message, sizeof rs->message, "%s:%s", method->api, display);
        fail(fe, call, rs, status->code, text);
        lap(t, 3);
        log_timings(t, method->api, false);
        return;
    }
    snprintf(rs->message, sizeof rs->message, "%s", method->api);
    int logged = audited ? 0 : audit(fe, rs, true);
    lap(t, 3);
    log_timings(t, method->api, true);
    if (logged < 0) {
        log_error("audit log unavailable: answering %s with UNAVAILABLE", method->api);
        steep_rpc_fail(call, STEEP_GRPC_UNAVAILABLE, "audit log unavailable");
    } else {
        steep_rpc_reply(call, response);
    }
    protobuf_c_message_free_unpacked(response, NULL);
}

/* Hex of the packed entry a success would log, or NULL (then the frontend
 * logs it itself). */
static char *success_entry_hex(struct request_state *rs, const char *api)
{
    TeaclaveCommonProto__Entry entry = TEACLAVE_COMMON_PROTO__ENTRY__INIT;
    entry.ip.data = rs->ip;
    entry.ip.len = sizeof rs->ip;
    entry.user = rs->user;
    entry.message = (char *)api;
    entry.result = true;
    size_t size = teaclave_common_proto__entry__get_packed_size(&entry);
    uint8_t *packed = malloc(size ? size : 1);
    char *hex = malloc(2 * size + 1);
    if (packed && hex) {
        teaclave_common_proto__entry__pack(&entry, packed);
        steep_hex_encode(packed, size, hex);
    } else {
        free(hex);
        hex = NULL;
    }
    free(packed);
    return hex;
}

/* A long poll on its way: what the continuation needs once management
 * answers. */
struct held {
    struct steep_frontend *fe;
    const struct route *route;
    struct request_state rs; /* id and token point into the call's metadata */
    struct timings t;
    struct steep_rpc_call *call;
    ProtobufCMessage *response;
    struct steep_rpc_status status;
    TeaclaveCommonProto__Entry entry; /* the success entry, while it ships */
    int audit_rc;
};

/* On a worker, once the success entry is durable (or failed): answer. */
static void reply_held(struct steep_rpc_call *call, void *arg)
{
    struct held *h = arg;
    const char *api = h->route->method->api;
    lap(&h->t, 3);
    log_timings(&h->t, api, true);
    if (h->audit_rc < 0) {
        log_error("audit log unavailable: answering %s with UNAVAILABLE", api);
        steep_rpc_fail(call, STEEP_GRPC_UNAVAILABLE, "audit log unavailable");
    } else {
        steep_rpc_reply(call, h->response);
    }
    protobuf_c_message_free_unpacked(h->response, NULL);
    hold_release(h->fe, h->rs.id);
    free(h);
}

/* On the shipper thread: must not block. */
static void held_audited(void *arg, int rc)
{
    struct held *h = arg;
    h->audit_rc = rc;
    steep_rpc_call_resume(h->call, reply_held, h);
}

/* On a worker: management answered. A success waits for its audit entry
 * with the call held again, so answers that come together (a change that
 * ends many long polls) share SaveLogs batches instead of a worker each;
 * a failure is audited and answered here. */
static void finish_held(struct steep_rpc_call *call, void *arg)
{
    struct held *h = arg;
    if (h->response) {
        lap(&h->t, 2);
        snprintf(h->rs.message, sizeof h->rs.message, "%s", h->route->method->api);
        h->entry = request_entry(&h->rs, true);
        steep_rpc_call_hold(call);
        if (steep_frontend_shipper_log_async(h->fe->shipper, &h->entry, held_audited, h) == 0)
            return;
        h->audit_rc = -1; /* stopping: answered UNAVAILABLE */
        steep_rpc_call_resume(call, reply_held, h);
        return;
    }
    hold_release(h->fe, h->rs.id);
    answer_forwarded(h->fe, h->route, call, &h->rs, &h->t, -1, NULL, &h->status, false);
    free(h);
}

/* On the management client's loop thread: must not block. */
static void forwarded(void *arg, ProtobufCMessage *response, const struct steep_rpc_status *status)
{
    struct held *h = arg;
    h->response = response;
    h->status = *status;
    steep_rpc_call_resume(h->call, finish_held, h);
}

/* Step 4 and 5: management's answer, audited, goes back unchanged. */
static void forward(struct steep_frontend *fe, const struct route *route,
                    struct steep_rpc_call *call, const ProtobufCMessage *request,
                    struct request_state *rs, struct timings *t)
{
    const struct steep_frontend_method *method = route->method;
    struct steep_rpc_metadata metadata[] = {
        {"id", rs->id},
        {"token", rs->token},
        {"role", rs->role},
        {"steep-wait-ms", NULL},
    };
    size_t n_metadata = 3;
    /* Steep's long-poll hint (GetTask); management bounds and parses it. */
    const char *wait = steep_rpc_call_metadata(call, "steep-wait-ms");
    if (wait && wait[0] && strlen(wait) <= 9 && strspn(wait, "0123456789") == strlen(wait) &&
        strspn(wait, "0") != strlen(wait)) {
        metadata[n_metadata++].value = wait;
        if (!hold_acquire(fe, rs->id)) {
            struct steep_rpc_status refused = {STEEP_GRPC_RESOURCE_EXHAUSTED, ""};
            snprintf(refused.message, sizeof refused.message,
                     "too many held calls (steep-wait-ms): at most %d per user, %d in all",
                     fe->options.max_holds_per_user, fe->options.max_holds);
            answer_forwarded(fe, route, call, rs, t, -1, NULL, &refused, false);
            return;
        }
        struct held *h = calloc(1, sizeof *h);
        if (!h) {
            hold_release(fe, rs->id);
            struct steep_rpc_status failed = {STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory"};
            answer_forwarded(fe, route, call, rs, t, -1, NULL, &failed, false);
            return;
        }
        *h = (struct held){.fe = fe, .route = route, .rs = *rs, .t = *t, .call = call};
        steep_rpc_call_hold(call);
        if (steep_rpc_call_async(fe->backends.management, route->management_path, request,
                                 method->response, metadata, n_metadata, forward_timeout(fe, call),
                                 forwarded, h) < 0) {
            h->status = (struct steep_rpc_status){STEEP_GRPC_RESOURCE_EXHAUSTED, ""};
            snprintf(h->status.message, sizeof h->status.message, "%s", steep_error_get());
            steep_rpc_call_resume(call, finish_held, h);
        }
        return;
    }
    /* The success entry, for management to write with the request's
     * records (its time is management's). */
    char *carried = success_entry_hex(rs, method->api);
    struct steep_rpc_metadata with_entry[] = {
        metadata[0], metadata[1], metadata[2], {STEEP_FRONTEND_AUDIT_METADATA, carried}};
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    struct steep_rpc_received_metadata received = {0};
    int rc = steep_rpc_call_with_metadata(fe->backends.management, route->management_path, request,
                                          method->response, &response, with_entry, carried ? 4 : 3,
                                          forward_timeout(fe, call), &status, &received);
    bool audited = rc == 0 && steep_rpc_received_metadata_get(&received, "steep-audited") != NULL;
    steep_rpc_received_metadata_free(&received);
    free(carried);
    answer_forwarded(fe, route, call, rs, t, rc, response, &status, audited);
}

static void handle(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    const struct route *route = arg;
    struct steep_frontend *fe = route->frontend;
    const char *api = route->method->api;
    struct request_state rs = {0};
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    steep_rpc_call_peer_addr(call, &addr, &addr_len);
    steep_frontend_entry_ip(&addr, addr_len, rs.ip);
    struct timings t = {.since = steep_frontend_now_us()};

    const char *error = NULL;
    int code = authenticate(fe, call, &rs, &error);
    lap(&t, 0);
    if (code != 0) {
        snprintf(rs.message, sizeof rs.message, "authenticate to %s: %s", api, error);
        /* No credentials needed to get here: beyond a few per window, only
         * counted (auth_audit.h). */
        if (steep_frontend_auth_audit_admit(fe->auth_audit, rs.ip, rs.message))
            fail(fe, call, &rs, code, error);
        else
            steep_rpc_fail(call, code, "%s", error);
        return;
    }
    bool allowed = authorize(fe, route->method, &rs);
    lap(&t, 1);
    if (!allowed) {
        snprintf(rs.message, sizeof rs.message, "authenticate to %s", api);
        fail(fe, call, &rs, STEEP_GRPC_PERMISSION_DENIED, "permission denied");
        return;
    }
    steep_frontend_entry_user(rs.sub, rs.role, rs.user, sizeof rs.user);
    forward(fe, route, call, request, &rs, &t);
}

/* ---- lifecycle --------------------------------------------------------------- */

struct steep_frontend *steep_frontend_new(const struct steep_frontend_backends *backends,
                                          const struct steep_frontend_options *options)
{
    struct steep_frontend *fe = calloc(1, sizeof *fe);
    if (!fe)
        return NULL;
    fe->backends = *backends;
    if (options)
        fe->options = *options;
    if (fe->options.backend_timeout_ms <= 0)
        fe->options.backend_timeout_ms = 5000;
    if (fe->options.management_timeout_ms <= 0)
        fe->options.management_timeout_ms = 30000;
    if (fe->options.audit_auth_failure_window_ms <= 0) {
        /* unset (tests): the defaults of auth_audit.h */
        fe->options.audit_auth_failure_window_ms = STEEP_FRONTEND_AUDIT_AUTH_WINDOW_MS_DEFAULT;
        fe->options.audit_auth_failures_per_window = STEEP_FRONTEND_AUDIT_AUTH_FAILURES_DEFAULT;
    }
    if (fe->options.max_holds <= 0)
        fe->options.max_holds = STEEP_FRONTEND_MAX_HOLDS_DEFAULT;
    if (fe->options.max_holds_per_user <= 0)
        fe->options.max_holds_per_user = STEEP_FRONTEND_MAX_HOLDS_PER_USER_DEFAULT;
    steep_quota_init(&fe->holds, fe->options.max_holds, fe->options.max_holds_per_user);
    fe->routes = calloc(steep_frontend_method_count, sizeof *fe->routes);
    fe->shipper = steep_frontend_shipper_start(backends->management, fe->options.audit_timeout_ms);
    if (fe->shipper)
        fe->auth_audit =
            steep_frontend_auth_audit_start(fe->shipper, fe->options.audit_auth_failures_per_window,
                                            fe->options.audit_auth_failure_window_ms);
    if (!fe->routes || !fe->shipper || !fe->auth_audit) {
        steep_frontend_free(fe);
        return NULL;
    }
    for (size_t i = 0; i < steep_frontend_method_count; i++) {
        fe->routes[i].frontend = fe;
        fe->routes[i].method = &steep_frontend_methods[i];
        snprintf(fe->routes[i].management_path, sizeof fe->routes[i].management_path, "/%s/%s",
                 STEEP_MANAGEMENT_SERVICE, steep_frontend_methods[i].name);
    }
    return fe;
}

int steep_frontend_register(struct steep_rpc_server *server, struct steep_frontend *fe)
{
    for (size_t i = 0; i < steep_frontend_method_count; i++) {
        char path[128];
        snprintf(path, sizeof path, "/%s/%s", STEEP_FRONTEND_SERVICE,
                 steep_frontend_methods[i].name);
        if (steep_rpc_server_add(server, path, steep_frontend_methods[i].request, handle,
                                 &fe->routes[i]) < 0)
            return -1;
    }
    return 0;
}

void steep_frontend_free(struct steep_frontend *fe)
{
    if (!fe)
        return;
    steep_frontend_auth_audit_stop(fe->auth_audit); /* ships its last summary */
    steep_frontend_shipper_stop(fe->shipper);
    steep_quota_free(&fe->holds); /* empty once the server is freed: it waits for held calls */
    free(fe->routes);
    free(fe);
}
