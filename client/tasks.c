/* libsteep: tasks (create, assign, approve, invoke, cancel, get, wait) and audit. */
#include "client_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "google/protobuf/empty.pb-c.h"
#include "task/status.h"
#include "teaclave_frontend_service.pb-c.h"

/* The platform's one status table (lib/task/status.c); enum
 * steep_task_status has Teaclave's TaskStatus numbers. */
const char *steep_task_status_name(enum steep_task_status status)
{
    const char *name = steep_task_status_text((int)status);
    return name ? name : "Unknown";
}

bool steep_task_status_terminal(enum steep_task_status status)
{
    return steep_task_status_is_terminal((int)status);
}

/* OwnerList messages for a request: one allocation holding the pointer
 * array followed by the messages; free() it once. */
static TeaclaveFrontendServiceProto__OwnerList **owner_lists(const struct steep_ownership *in,
                                                             size_t n)
{
    size_t pointers = (n + 1) * sizeof(TeaclaveFrontendServiceProto__OwnerList *);
    char *block = calloc(1, pointers + (n + 1) * sizeof(TeaclaveFrontendServiceProto__OwnerList));
    if (!block)
        return NULL;
    TeaclaveFrontendServiceProto__OwnerList **list = (void *)block;
    TeaclaveFrontendServiceProto__OwnerList *items = (void *)(block + pointers);
    for (size_t i = 0; i < n; i++) {
        teaclave_frontend_service_proto__owner_list__init(&items[i]);
        items[i].data_name = (char *)in[i].data_name;
        items[i].uids = (char **)in[i].owners;
        items[i].n_uids = in[i].n_owners;
        list[i] = &items[i];
    }
    return list;
}

int steep_create_task(steep_client *client, const struct steep_task_spec *spec, char **task_id,
                      struct steep_error *err)
{
    if (!spec || !spec->function_id || !spec->executor)
        return client_error(err, "a task needs a function id and an executor");
    TeaclaveFrontendServiceProto__OwnerList **inputs = owner_lists(spec->inputs, spec->n_inputs);
    TeaclaveFrontendServiceProto__OwnerList **outputs = owner_lists(spec->outputs, spec->n_outputs);
    if (!inputs || !outputs) {
        free(inputs);
        free(outputs);
        return client_error(err, "out of memory");
    }
    TeaclaveFrontendServiceProto__CreateTaskRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__CREATE_TASK_REQUEST__INIT;
    request.function_id = (char *)spec->function_id;
    request.function_arguments = (char *)(spec->arguments_json ? spec->arguments_json : "{}");
    request.executor = (char *)spec->executor;
    request.inputs_ownership = inputs;
    request.n_inputs_ownership = spec->n_inputs;
    request.outputs_ownership = outputs;
    request.n_outputs_ownership = spec->n_outputs;
    ProtobufCMessage *message = NULL;
    int rc = client_call(client, CLIENT_FRONTEND, "CreateTask", &request.base,
                         &teaclave_frontend_service_proto__create_task_response__descriptor,
                         &message, true, err);
    free(inputs);
    free(outputs);
    if (rc < 0)
        return -1;
    TeaclaveFrontendServiceProto__CreateTaskResponse *response = (void *)message;
    *task_id = client_strdup(response->task_id, err);
    protobuf_c_message_free_unpacked(message, NULL);
    return *task_id ? 0 : -1;
}

static TeaclaveFrontendServiceProto__DataMap **
data_maps(const struct steep_data_map *in, size_t n, TeaclaveFrontendServiceProto__DataMap *items)
{
    TeaclaveFrontendServiceProto__DataMap **list = calloc(n + 1, sizeof(*list));
    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        teaclave_frontend_service_proto__data_map__init(&items[i]);
        items[i].data_name = (char *)in[i].data_name;
        items[i].data_id = (char *)in[i].data_id;
        list[i] = &items[i];
    }
    return list;
}

int steep_assign_data(steep_client *client, const char *task_id,
                      const struct steep_data_map *inputs, size_t n_inputs,
                      const struct steep_data_map *outputs, size_t n_outputs,
                      struct steep_error *err)
{
    TeaclaveFrontendServiceProto__DataMap *items = calloc(n_inputs + n_outputs + 1, sizeof(*items));
    TeaclaveFrontendServiceProto__DataMap **in = items ? data_maps(inputs, n_inputs, items) : NULL;
    TeaclaveFrontendServiceProto__DataMap **out =
        items ? data_maps(outputs, n_outputs, items + n_inputs) : NULL;
    int rc = -1;
    if (!in || !out) {
        client_error(err, "out of memory");
        goto done;
    }
    TeaclaveFrontendServiceProto__AssignDataRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__ASSIGN_DATA_REQUEST__INIT;
    request.task_id = (char *)task_id;
    request.inputs = in;
    request.n_inputs = n_inputs;
    request.outputs = out;
    request.n_outputs = n_outputs;
    ProtobufCMessage *message = NULL;
    rc = client_call(client, CLIENT_FRONTEND, "AssignData", &request.base,
                     &google__protobuf__empty__descriptor, &message, true, err);
    if (rc == 0)
        protobuf_c_message_free_unpacked(message, NULL);
done:
    free(in);
    free(out);
    free(items);
    return rc;
}

/* Approve, Invoke and Cancel requests are all {string task_id = 1;}. */
static int task_id_call(steep_client *client, const char *method,
                        const ProtobufCMessageDescriptor *request_type, const char *task_id,
                        struct steep_error *err)
{
    TeaclaveFrontendServiceProto__ApproveTaskRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__APPROVE_TASK_REQUEST__INIT;
    request.base.descriptor = request_type;
    request.task_id = (char *)task_id;
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_FRONTEND, method, &request.base,
                    &google__protobuf__empty__descriptor, &message, true, err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(message, NULL);
    return 0;
}

int steep_approve_task(steep_client *client, const char *task_id, struct steep_error *err)
{
    return task_id_call(client, "ApproveTask",
                        &teaclave_frontend_service_proto__approve_task_request__descriptor, task_id,
                        err);
}

int steep_invoke_task(steep_client *client, const char *task_id, struct steep_error *err)
{
    return task_id_call(client, "InvokeTask",
                        &teaclave_frontend_service_proto__invoke_task_request__descriptor, task_id,
                        err);
}

int steep_cancel_task(steep_client *client, const char *task_id, struct steep_error *err)
{
    return task_id_call(client, "CancelTask",
                        &teaclave_frontend_service_proto__cancel_task_request__descriptor, task_id,
                        err);
}

void steep_task_free(struct steep_task *t)
{
    if (!t)
        return;
    free(t->task_id);
    free(t->creator);
    free(t->function_id);
    free(t->function_owner);
    free(t->function_arguments);
    for (size_t i = 0; i < t->n_inputs_ownership; i++) {
        free(t->inputs_ownership[i].data_name);
        steep_string_list_free(&t->inputs_ownership[i].owners);
    }
    free(t->inputs_ownership);
    for (size_t i = 0; i < t->n_outputs_ownership; i++) {
        free(t->outputs_ownership[i].data_name);
        steep_string_list_free(&t->outputs_ownership[i].owners);
    }
    free(t->outputs_ownership);
    steep_string_list_free(&t->participants);
    steep_string_list_free(&t->approved_users);
    for (size_t i = 0; i < t->n_assigned_inputs; i++) {
        free(t->assigned_inputs[i].data_name);
        free(t->assigned_inputs[i].data_id);
    }
    free(t->assigned_inputs);
    for (size_t i = 0; i < t->n_assigned_outputs; i++) {
        free(t->assigned_outputs[i].data_name);
        free(t->assigned_outputs[i].data_id);
    }
    free(t->assigned_outputs);
    free(t->return_value);
    for (size_t i = 0; i < t->n_tags; i++)
        free(t->tags[i].output_name);
    free(t->tags);
    steep_string_list_free(&t->log);
    free(t->failure_reason);
    free(t);
}

static int copy_ownership(TeaclaveFrontendServiceProto__OwnerList **in, size_t n,
                          struct steep_task_ownership **out, size_t *n_out, struct steep_error *err)
{
    if (!(*out = calloc(n + 1, sizeof(**out))))
        return client_error(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        (*n_out)++;
        if (!((*out)[i].data_name = client_strdup(in[i]->data_name, err)) ||
            client_copy_strings(in[i]->uids, in[i]->n_uids, &(*out)[i].owners, err) < 0)
            return -1;
    }
    return 0;
}

static int copy_assignments(TeaclaveFrontendServiceProto__DataMap **in, size_t n,
                            struct steep_task_assignment **out, size_t *n_out,
                            struct steep_error *err)
{
    if (!(*out = calloc(n + 1, sizeof(**out))))
        return client_error(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        (*n_out)++;
        if (!((*out)[i].data_name = client_strdup(in[i]->data_name, err)) ||
            !((*out)[i].data_id = client_strdup(in[i]->data_id, err)))
            return -1;
    }
    return 0;
}

static int copy_result(const TeaclaveCommonProto__TaskResult *result, struct steep_task *t,
                       struct steep_error *err)
{
    if (!result || result->result_case == TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT__NOT_SET)
        return 0;
    if (result->result_case == TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_ERR) {
        t->failure_reason = client_strdup(result->err ? result->err->reason : "", err);
        return t->failure_reason ? 0 : -1;
    }
    const TeaclaveCommonProto__TaskOutputs *ok = result->ok;
    t->has_result = true;
    if (!ok)
        return 0;
    if (!(t->return_value = malloc(ok->return_value.len + 1)))
        return client_error(err, "out of memory");
    if (ok->return_value.len)
        memcpy(t->return_value, ok->return_value.data, ok->return_value.len);
    t->return_value[ok->return_value.len] = '\0';
    t->return_value_len = ok->return_value.len;
    if (!(t->tags = calloc(ok->n_tags_map + 1, sizeof(*t->tags))))
        return client_error(err, "out of memory");
    for (size_t i = 0; i < ok->n_tags_map; i++) {
        t->n_tags++;
        if (!(t->tags[i].output_name = client_strdup(ok->tags_map[i]->key, err)))
            return -1;
        if (ok->tags_map[i]->value.len == 16)
            memcpy(t->tags[i].cmac, ok->tags_map[i]->value.data, 16);
    }
    return client_copy_strings(ok->log, ok->n_log, &t->log, err);
}

static int convert_task(const TeaclaveFrontendServiceProto__GetTaskResponse *r,
                        struct steep_task *t, struct steep_error *err)
{
    if (!(t->task_id = client_strdup(r->task_id, err)) ||
        !(t->creator = client_strdup(r->creator, err)) ||
        !(t->function_id = client_strdup(r->function_id, err)) ||
        !(t->function_owner = client_strdup(r->function_owner, err)) ||
        !(t->function_arguments = client_strdup(r->function_arguments, err)))
        return -1;
    t->status = (enum steep_task_status)r->status;
    if (copy_ownership(r->inputs_ownership, r->n_inputs_ownership, &t->inputs_ownership,
                       &t->n_inputs_ownership, err) < 0 ||
        copy_ownership(r->outputs_ownership, r->n_outputs_ownership, &t->outputs_ownership,
                       &t->n_outputs_ownership, err) < 0 ||
        client_copy_strings(r->participants, r->n_participants, &t->participants, err) < 0 ||
        client_copy_strings(r->approved_users, r->n_approved_users, &t->approved_users, err) < 0 ||
        copy_assignments(r->assigned_inputs, r->n_assigned_inputs, &t->assigned_inputs,
                         &t->n_assigned_inputs, err) < 0 ||
        copy_assignments(r->assigned_outputs, r->n_assigned_outputs, &t->assigned_outputs,
                         &t->n_assigned_outputs, err) < 0)
        return -1;
    return copy_result(r->result, t, err);
}

/* GetTask; wait_ms > 0 asks the platform to hold the answer until the task
 * is terminal or wait_ms passes (Steep's steep-wait-ms; Teaclave ignores it). */
static int get_task(steep_client *client, const char *task_id, int wait_ms,
                    struct steep_task **task, struct steep_error *err)
{
    TeaclaveFrontendServiceProto__GetTaskRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_TASK_REQUEST__INIT;
    request.task_id = (char *)task_id;
    ProtobufCMessage *message = NULL;
    if (client_call_waiting(client, CLIENT_FRONTEND, "GetTask", &request.base,
                            &teaclave_frontend_service_proto__get_task_response__descriptor,
                            &message, true, wait_ms, err) < 0)
        return -1;
    struct steep_task *t = calloc(1, sizeof(*t));
    int rc = t ? convert_task((void *)message, t, err) : client_error(err, "out of memory");
    protobuf_c_message_free_unpacked(message, NULL);
    if (rc < 0) {
        steep_task_free(t);
        return -1;
    }
    *task = t;
    return 0;
}

int steep_get_task(steep_client *client, const char *task_id, struct steep_task **task,
                   struct steep_error *err)
{
    return get_task(client, task_id, 0, task, err);
}

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The longest single held GetTask (the platform caps it at 5 s). */
#define WAIT_SLICE_MS 5000

int steep_wait_task(steep_client *client, const char *task_id, int timeout_ms,
                    struct steep_task **task, struct steep_error *err)
{
    long long deadline = monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int delay_ms = 2;
    for (;;) {
        struct steep_task *t = NULL;
        long long left = deadline - monotonic_ms();
        int wait_ms = left > WAIT_SLICE_MS ? WAIT_SLICE_MS : left > 0 ? (int)left : 0;
        long long asked = monotonic_ms();
        if (get_task(client, task_id, wait_ms, &t, err) < 0) {
            /* Over the platform's limit of held calls (RESOURCE_EXHAUSTED):
             * poll with the backoff below instead. */
            if (wait_ms == 0 || !err || err->code != 8 || get_task(client, task_id, 0, &t, err) < 0)
                return -1;
            wait_ms = 0;
        }
        if (steep_task_status_terminal(t->status)) {
            *task = t;
            return 0;
        }
        enum steep_task_status status = t->status;
        steep_task_free(t);
        if (monotonic_ms() >= deadline) {
            if (err) {
                err->code = 4; /* DEADLINE_EXCEEDED */
                snprintf(err->message, sizeof(err->message), "task %s is still %s after %d ms",
                         task_id, steep_task_status_name(status), timeout_ms);
            }
            return -1;
        }
        /* A platform that held the call already waited; one that answered
         * at once (no steep-wait-ms support) is polled with a backoff. */
        if (monotonic_ms() - asked >= wait_ms / 2)
            continue;
        usleep((useconds_t)delay_ms * 1000);
        if (delay_ms < 100)
            delay_ms *= 2;
    }
}

void steep_audit_entries_free(struct steep_audit_entry *entries, size_t n_entries)
{
    for (size_t i = 0; i < n_entries; i++) {
        free(entries[i].user);
        free(entries[i].message);
    }
    free(entries);
}

int steep_query_audit_logs(steep_client *client, const char *query, uint64_t limit,
                           struct steep_audit_entry **entries, size_t *n_entries,
                           struct steep_error *err)
{
    TeaclaveFrontendServiceProto__QueryAuditLogsRequest request =
        TEACLAVE_FRONTEND_SERVICE_PROTO__QUERY_AUDIT_LOGS_REQUEST__INIT;
    request.query = (char *)(query ? query : "*");
    request.limit = limit;
    ProtobufCMessage *message = NULL;
    if (client_call(client, CLIENT_FRONTEND, "QueryAuditLogs", &request.base,
                    &teaclave_frontend_service_proto__query_audit_logs_response__descriptor,
                    &message, true, err) < 0)
        return -1;
    TeaclaveFrontendServiceProto__QueryAuditLogsResponse *response = (void *)message;
    struct steep_audit_entry *out = calloc(response->n_logs + 1, sizeof(*out));
    size_t n = 0;
    int rc = out ? 0 : client_error(err, "out of memory");
    for (size_t i = 0; rc == 0 && i < response->n_logs; i++, n++) {
        const TeaclaveCommonProto__Entry *e = response->logs[i];
        out[i].microsecond = e->microsecond;
        if (e->ip.len == 16)
            memcpy(out[i].ip, e->ip.data, 16);
        out[i].result = e->result;
        if (!(out[i].user = client_strdup(e->user, err)) ||
            !(out[i].message = client_strdup(e->message, err)))
            rc = -1;
    }
    protobuf_c_message_free_unpacked(message, NULL);
    if (rc < 0) {
        steep_audit_entries_free(out, n); /* n covers the entry that failed */
        return -1;
    }
    *entries = out;
    *n_entries = n;
    return 0;
}
