/*
 * Tasks (teaclave-api.md §5.2, §5.5, §5.6): creation with Teaclave's
 * argument and ownership rules, reads, data assignment, approval,
 * invocation (a durable "staged-<uuid>" record for the scheduler, then the
 * task record moves to Staged by compare-and-swap, then a wake-up) and
 * cancellation in every state. Who may do what is asked of the policy
 * (task_access, task_assign_data, task_access_data, task_invoke,
 * task_cancel) with the task's participants, creator and declared owners
 * as facts; the state machine itself is task_state.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "ids.h"
#include "integrity.h"
#include "management.h"
#include "records.h"
#include "rpc/rpc.h"
#include "task_state.h"

static const struct {
    const char *wire;
    const char *stored;
} executors[] = {{"builtin", "Builtin"}, {"mesapy", "MesaPy"}, {"wamr", "WAMicroRuntime"}};

static int empty_response(ProtobufCMessage **response)
{
    Google__Protobuf__Empty *empty = malloc(sizeof *empty);
    if (!empty)
        return steep_management_internal("allocation");
    google__protobuf__empty__init(empty);
    *response = &empty->base;
    return 0;
}

/* ---- CreateTask ---- */

/* May this role create a task on this function (Teaclave: the role's
 * attribute, not the user id, is looked up in the allowlist)? */
static bool role_may_use(const char *role, const json_t *function)
{
    const char *attribute = NULL;
    if (role && strcmp(role, "PlatformAdmin") == 0)
        return true;
    if (role && strncmp(role, "DataOwner-", 10) == 0)
        attribute = role + 10;
    else if (role && strncmp(role, "DataOwnerManager-", 17) == 0)
        attribute = role + 17;
    if (!attribute)
        return false;
    if (json_is_true(json_object_get(function, "public")))
        return true;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(function, "user_allowlist"), i, item)
    {
        if (strcmp(json_string_value(item) ?: "", attribute) == 0)
            return true;
    }
    return false;
}

/* Request keys == overwritable arguments exactly; then every other argument
 * gets its default as a JSON string. */
static int task_arguments(const char *text, const json_t *function, json_t **out)
{
    json_error_t error;
    json_t *arguments = json_loads(text ? text : "", 0, &error);
    if (!json_is_object(arguments)) {
        const char *why = arguments ? "not a JSON object" : error.text;
        json_decref(arguments);
        return steep_management_fail(STEEP_GRPC_INTERNAL, "invalid function_arguments: %s", why);
    }
    size_t overwritable = 0, i;
    json_t *declared;
    bool match = true;
    json_t *declared_list = json_object_get(function, "arguments");
    json_array_foreach(declared_list, i, declared)
    {
        if (json_is_true(json_object_get(declared, "allow_overwrite"))) {
            overwritable++;
            match = match && json_object_get(arguments, steep_record_string(declared, "key"));
        }
    }
    /* The request's keys are exactly the overwritable arguments. */
    if (!match || json_object_size(arguments) != overwritable) {
        json_decref(arguments);
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task");
    }
    json_array_foreach(declared_list, i, declared)
    {
        if (!json_is_true(json_object_get(declared, "allow_overwrite")))
            json_object_set_new(arguments, steep_record_string(declared, "key"),
                                json_string(steep_record_string(declared, "default_value")));
    }
    *out = arguments;
    return 0;
}

/* Ownership names: each declared by the function, and every declared
 * non-optional name present. Adds every owner to participants. */
static int task_ownership(size_t n, TeaclaveFrontendServiceProto__OwnerList **lists,
                          const json_t *declared, json_t *participants, json_t **out)
{
    json_t *inner = json_object();
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(
            inner, lists[i]->data_name,
            steep_record_set((const char *const *)lists[i]->uids, lists[i]->n_uids));
        for (size_t j = 0; j < lists[i]->n_uids; j++)
            steep_record_set_add(participants, lists[i]->uids[j]);
    }
    size_t required = 0, known = 0, k;
    json_t *item;
    json_array_foreach(declared, k, item)
    {
        bool present = json_object_get(inner, steep_record_string(item, "name")) != NULL;
        known += present;
        required += !present && !json_is_true(json_object_get(item, "optional"));
    }
    if (required || known != json_object_size(inner)) {
        json_decref(inner);
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task");
    }
    *out = json_pack("{s:o}", "inner", inner);
    return 0;
}

static int load_function(struct steep_management *m, const char *function_id, json_t **function)
{
    char key[STEEP_ID_TEXT];
    return steep_management_load_function(m, function_id, key, function);
}

static int build_task(const TeaclaveFrontendServiceProto__CreateTaskRequest *req,
                      const struct steep_management_caller *caller, const json_t *function,
                      const char *uuid, json_t **task)
{
    const char *executor = NULL;
    for (size_t i = 0; i < 3; i++)
        if (req->executor && strcmp(req->executor, executors[i].wire) == 0)
            executor = executors[i].stored;
    if (!executor)
        return steep_management_fail(STEEP_GRPC_INTERNAL, "invalid executor \"%.32s\"",
                                     req->executor);
    json_t *arguments = NULL, *inputs = NULL, *outputs = NULL;
    json_t *participants = steep_record_set(&caller->id, 1);
    const char *owner = steep_record_string(function, "owner");
    if (!json_is_true(json_object_get(function, "public")))
        steep_record_set_add(participants, owner);
    int rc = task_arguments(req->function_arguments, function, &arguments);
    if (rc == 0)
        rc = task_ownership(req->n_inputs_ownership, req->inputs_ownership,
                            json_object_get(function, "inputs"), participants, &inputs);
    if (rc == 0)
        rc = task_ownership(req->n_outputs_ownership, req->outputs_ownership,
                            json_object_get(function, "outputs"), participants, &outputs);
    if (rc != 0) {
        json_decref(arguments);
        json_decref(inputs);
        json_decref(participants);
        return rc;
    }
    *task = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:o}, s:s, s:o, s:o, s:s, s:o, s:o, s:{s:{}}, s:{s:{}}, "
        "s:s, s:s}",
        "task_id", uuid, "creator", caller->id, "function_id", "prefix", "function", "uuid",
        steep_record_string(function, "id"), "function_arguments", "inner", arguments, "executor",
        executor, "inputs_ownership", inputs, "outputs_ownership", outputs, "function_owner", owner,
        "participants", participants, "approved_users", steep_record_set(NULL, 0),
        "assigned_inputs", "inner", "assigned_outputs", "inner", "result", "NotReady", "status",
        "Created");
    /* What the approvals will cover (integrity.h). */
    json_t *content = steep_integrity_function_content(function);
    if (!*task || !content || json_object_set_new(*task, "function_content", content) < 0) {
        json_decref(*task);
        *task = NULL;
    }
    return *task ? 0 : steep_management_internal("task record");
}

STEEP_MANAGEMENT_HANDLER(steep_management_create_task)
{
    const TeaclaveFrontendServiceProto__CreateTaskRequest *req = (const void *)request;
    json_t *function = NULL, *task = NULL;
    GUARD_CODE(load_function(m, req->function_id, &function));
    int rc = role_may_use(caller->role, function)
                 ? 0
                 : steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    char id[STEEP_ID_TEXT], uuid[STEEP_UUID_TEXT];
    if (rc == 0 && steep_id_new("task", id, uuid) < 0)
        rc = steep_management_internal("id");
    if (rc == 0)
        rc = build_task(req, caller, function, uuid, &task);
    if (rc == 0)
        rc = steep_record_check_size(task, steep_record_limits.task_max, "task",
                                     " (function_arguments and the owner lists count)");
    if (rc == 0 && steep_record_save(&m->kv, id, task) != STEEP_STORE_OK)
        rc = steep_management_internal("save task");
    json_decref(function);
    json_decref(task);
    GUARD_CODE(rc);
    TeaclaveFrontendServiceProto__CreateTaskResponse *resp = malloc(sizeof *resp);
    if (!resp)
        return steep_management_internal("allocation");
    teaclave_frontend_service_proto__create_task_response__init(resp);
    resp->task_id = steep_management_strdup(id);
    *response = &resp->base;
    return 0;
}

/* ---- loading and policy facts ---- */

/* Loads task_id: INVALID_ARGUMENT "invalid task id" when it does not parse
 * or does not exist; key receives "task-<uuid>". */
static int load_task_raw(struct steep_management *m, const char *task_id, char key[STEEP_ID_TEXT],
                         json_t **task, struct steep_buf *raw)
{
    char uuid[STEEP_UUID_TEXT];
    if (steep_id_parse(task_id, "task", uuid) < 0)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");
    snprintf(key, STEEP_ID_TEXT, "task-%s", uuid);
    int rc = steep_record_load(&m->kv, key, task, raw);
    if (rc == STEEP_STORE_NOT_FOUND)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");
    return rc == STEEP_STORE_OK ? 0 : steep_management_internal("load task");
}

static int load_task(struct steep_management *m, const char *task_id, char key[STEEP_ID_TEXT],
                     json_t **task)
{
    return load_task_raw(m, task_id, key, task, NULL);
}

/* The task's participants, creator and declared owners as facts. */
static int task_facts(struct steep_management_facts *facts, const char *key, const json_t *task)
{
    GUARD(steep_management_fact_set(facts, "task_participant", key, NULL,
                                    json_object_get(task, "participants")));
    GUARD(
        steep_management_fact(facts, "task_creator", 2, key, steep_record_string(task, "creator")));
    const char *ownership[] = {"inputs_ownership", "outputs_ownership"};
    for (size_t i = 0; i < 2; i++) {
        const char *name;
        json_t *owners;
        json_object_foreach(steep_record_inner(task, ownership[i]), name, owners)
            GUARD(steep_management_fact_set(facts, "declared_owner", key, name, owners));
    }
    return 0;
}

/* Asks `request` (fields task=key, usr=caller, role when with_role). */
static int check_task(struct steep_management *m, const char *request, const char *key,
                      const json_t *task, const struct steep_management_caller *caller,
                      bool with_role)
{
    struct steep_management_facts facts = {0};
    int rc = task_facts(&facts, key, task) < 0 ? steep_management_internal("facts") : 0;
    if (rc == 0 && with_role)
        rc = steep_management_check(m, request, &facts, "task", key, "usr", caller->id, "role",
                                    caller->role ? caller->role : "", NULL);
    else if (rc == 0)
        rc = steep_management_check(m, request, &facts, "task", key, "usr", caller->id, NULL);
    steep_management_facts_free(&facts);
    return rc;
}

/* ---- GetTask ---- */

static TeaclaveFrontendServiceProto__OwnerList **owner_lists(const json_t *inner, size_t *n)
{
    *n = json_object_size(inner);
    TeaclaveFrontendServiceProto__OwnerList **lists = calloc(*n + 1, sizeof *lists);
    size_t i = 0;
    const char *name;
    json_t *owners;
    json_object_foreach((json_t *)inner, name, owners)
    {
        if (!lists)
            break;
        TeaclaveFrontendServiceProto__OwnerList *list = malloc(sizeof *list);
        lists[i++] = list;
        if (!list)
            continue;
        teaclave_frontend_service_proto__owner_list__init(list);
        list->data_name = steep_management_strdup(name);
        json_t *uids = steep_record_set_uids(owners);
        list->n_uids = json_array_size(uids);
        list->uids = calloc(list->n_uids + 1, sizeof *list->uids);
        for (size_t j = 0; list->uids && j < list->n_uids; j++)
            list->uids[j] = steep_management_strdup(json_string_value(json_array_get(uids, j)));
    }
    *n = i;
    return lists;
}

static char **set_strings(const json_t *set, size_t *n)
{
    json_t *uids = steep_record_set_uids(set);
    *n = json_array_size(uids);
    char **list = calloc(*n + 1, sizeof *list);
    for (size_t i = 0; list && i < *n; i++)
        list[i] = steep_management_strdup(json_string_value(json_array_get(uids, i)));
    return list;
}

static TeaclaveFrontendServiceProto__DataMap **data_maps(const json_t *inner, const char *prefix,
                                                         size_t *n)
{
    *n = json_object_size(inner);
    TeaclaveFrontendServiceProto__DataMap **maps = calloc(*n + 1, sizeof *maps);
    size_t i = 0;
    const char *name;
    json_t *file;
    json_object_foreach((json_t *)inner, name, file)
    {
        if (!maps)
            break;
        TeaclaveFrontendServiceProto__DataMap *map = malloc(sizeof *map);
        maps[i++] = map;
        if (!map)
            continue;
        teaclave_frontend_service_proto__data_map__init(map);
        map->data_name = steep_management_strdup(name);
        char id[STEEP_ID_TEXT];
        snprintf(id, sizeof id, "%s-%s", prefix, steep_record_string(file, "uuid"));
        map->data_id = steep_management_strdup(id);
    }
    *n = i;
    return maps;
}

static TeaclaveCommonProto__TaskResult *task_result(const json_t *result)
{
    TeaclaveCommonProto__TaskResult *out = malloc(sizeof *out);
    if (!out)
        return NULL;
    teaclave_common_proto__task_result__init(out);
    json_t *ok = json_object_get(result, "Ok"), *err = json_object_get(result, "Err");
    if (err) {
        TeaclaveCommonProto__TaskFailure *failure = malloc(sizeof *failure);
        if (failure) {
            teaclave_common_proto__task_failure__init(failure);
            failure->reason = steep_management_strdup(steep_record_string(err, "reason"));
            out->result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_ERR;
            out->err = failure;
        }
    } else if (ok) {
        TeaclaveCommonProto__TaskOutputs *outputs = malloc(sizeof *outputs);
        if (!outputs)
            return out;
        teaclave_common_proto__task_outputs__init(outputs);
        struct steep_buf bytes = STEEP_BUF_INIT;
        if (steep_record_bytes_get(json_object_get(ok, "return_value"), &bytes) == 0 && bytes.len)
            outputs->return_value.data = steep_buf_detach(&bytes, &outputs->return_value.len);
        json_t *tags = steep_record_inner(ok, "tags_map");
        outputs->tags_map = calloc(json_object_size(tags) + 1, sizeof *outputs->tags_map);
        const char *name;
        json_t *tag;
        json_object_foreach(tags, name, tag)
        {
            if (!outputs->tags_map)
                break;
            TeaclaveCommonProto__TaskOutputs__TagsMapEntry *entry = malloc(sizeof *entry);
            if (!entry)
                break;
            teaclave_common_proto__task_outputs__tags_map_entry__init(entry);
            entry->key = steep_management_strdup(name);
            bytes.len = 0;
            if (steep_record_bytes_get(json_object_get(tag, "tag"), &bytes) == 0 && bytes.len)
                entry->value.data = steep_buf_detach(&bytes, &entry->value.len);
            outputs->tags_map[outputs->n_tags_map++] = entry;
        }
        json_t *log = json_object_get(ok, "log");
        outputs->log = calloc(json_array_size(log) + 1, sizeof *outputs->log);
        for (size_t i = 0; outputs->log && i < json_array_size(log); i++)
            outputs->log[outputs->n_log++] =
                steep_management_strdup(json_string_value(json_array_get(log, i)));
        steep_buf_free(&bytes);
        out->result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
        out->ok = outputs;
    }
    return out;
}

static bool task_terminal(const json_t *task)
{
    int status = steep_record_task_status(task);
    return status == TEACLAVE_COMMON_PROTO__TASK_STATUS__Finished ||
           status == TEACLAVE_COMMON_PROTO__TASK_STATUS__Failed ||
           status == TEACLAVE_COMMON_PROTO__TASK_STATUS__Canceled;
}

/* A held GetTask re-checks its own call this often (caller gone, stopping). */
#define WAIT_SLICE_MS 1000

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The fields task_facts reads (fixed at creation): equal ones give the same
 * policy answer, so a reloaded record need not be asked about again. */
static bool same_facts(const json_t *a, const json_t *b)
{
    const char *fields[] = {"participants", "creator", "inputs_ownership", "outputs_ownership"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (!json_equal(json_object_get(a, fields[i]), json_object_get(b, fields[i])))
            return false;
    return true;
}

/* Steep's steep-wait-ms: after an allowed read of a task that is not yet
 * terminal, waits for its record to change in storage (a long poll, no
 * polling) and reloads it, until it is terminal or the wait is over (kept
 * 100 ms inside the call's deadline). The caller's access is asked again
 * for the record that is answered if its policy facts changed. */
static int wait_for_task(struct steep_management *m, const struct steep_management_caller *caller,
                         const char *key, json_t **task, struct steep_buf *raw)
{
    int64_t wait = caller->wait_ms;
    if (caller->remaining_ms >= 0 && caller->remaining_ms - 100 < wait)
        wait = caller->remaining_ms - 100;
    if (wait <= 0 || !m->kv.wait_change || task_terminal(*task))
        return 0;
    int64_t deadline = monotonic_ms() + wait;
    bool reloaded = false;
    json_t *first = json_incref(*task);
    for (int64_t left = wait; left > 0 && !task_terminal(*task); left = deadline - monotonic_ms()) {
        if (caller->cancelled && caller->cancelled(caller->call))
            break;
        bool changed = false;
        int slice = left > WAIT_SLICE_MS ? WAIT_SLICE_MS : (int)left;
        if (m->kv.wait_change(m->kv.ctx, key, raw, slice, &changed) != STEEP_STORE_OK) {
            json_decref(first);
            return steep_management_internal("wait for task");
        }
        if (!changed)
            continue;
        json_t *fresh = NULL;
        int rc = steep_record_load(&m->kv, key, &fresh, raw);
        if (rc != STEEP_STORE_OK) {
            json_decref(first);
            return rc == STEEP_STORE_NOT_FOUND
                       ? steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task id")
                       : steep_management_internal("load task");
        }
        json_decref(*task);
        *task = fresh;
        reloaded = true;
    }
    int rc = reloaded && !same_facts(first, *task)
                 ? check_task(m, "task_access", key, *task, caller, false)
                 : 0;
    json_decref(first);
    return rc;
}

STEEP_MANAGEMENT_HANDLER(steep_management_get_task)
{
    const TeaclaveFrontendServiceProto__GetTaskRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    json_t *task = NULL;
    struct steep_buf raw = STEEP_BUF_INIT;
    int rc = load_task_raw(m, req->task_id, key, &task, &raw);
    if (rc != 0) {
        steep_buf_free(&raw);
        return rc;
    }
    rc = check_task(m, "task_access", key, task, caller, false);
    if (rc == 0)
        rc = wait_for_task(m, caller, key, &task, &raw);
    steep_buf_free(&raw);
    TeaclaveFrontendServiceProto__GetTaskResponse *resp = rc == 0 ? malloc(sizeof *resp) : NULL;
    if (rc == 0 && !resp)
        rc = steep_management_internal("allocation");
    if (rc != 0) {
        json_decref(task);
        return rc;
    }
    teaclave_frontend_service_proto__get_task_response__init(resp);
    char function_id[STEEP_ID_TEXT];
    snprintf(function_id, sizeof function_id, "function-%s",
             steep_record_string(json_object_get(task, "function_id"), "uuid"));
    resp->task_id = steep_management_strdup(key);
    resp->creator = steep_management_strdup(steep_record_string(task, "creator"));
    resp->function_id = steep_management_strdup(function_id);
    resp->function_owner = steep_management_strdup(steep_record_string(task, "function_owner"));
    resp->function_arguments = steep_record_dump(steep_record_inner(task, "function_arguments"));
    resp->inputs_ownership =
        owner_lists(steep_record_inner(task, "inputs_ownership"), &resp->n_inputs_ownership);
    resp->outputs_ownership =
        owner_lists(steep_record_inner(task, "outputs_ownership"), &resp->n_outputs_ownership);
    resp->participants = set_strings(json_object_get(task, "participants"), &resp->n_participants);
    resp->approved_users =
        set_strings(json_object_get(task, "approved_users"), &resp->n_approved_users);
    resp->assigned_inputs =
        data_maps(steep_record_inner(task, "assigned_inputs"), "input", &resp->n_assigned_inputs);
    resp->assigned_outputs = data_maps(steep_record_inner(task, "assigned_outputs"), "output",
                                       &resp->n_assigned_outputs);
    int status = steep_record_task_status(task);
    resp->status = status < 0 ? 0 : status;
    resp->result = task_result(json_object_get(task, "result"));
    json_decref(task);
    *response = &resp->base;
    return 0;
}

/* ---- AssignData ---- */

/* Loads and checks one item: the id names an existing file of the right
 * kind, an output has no cmac yet, and the policy lets the caller assign it
 * to that name of this task. */
static int check_assignment(struct steep_management *m,
                            const struct steep_management_caller *caller, const char *key,
                            const json_t *task, const TeaclaveFrontendServiceProto__DataMap *map,
                            bool output, json_t **file)
{
    const char *prefix = output ? "output" : "input";
    char uuid[STEEP_UUID_TEXT], file_key[STEEP_ID_TEXT];
    if (steep_id_parse(map->data_id, prefix, uuid) < 0)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid data id");
    snprintf(file_key, sizeof file_key, "%s-%s", prefix, uuid);
    int rc = steep_record_load(&m->kv, file_key, file, NULL);
    if (rc == STEEP_STORE_NOT_FOUND)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid data id");
    if (rc != STEEP_STORE_OK)
        return steep_management_internal("load file");
    if (output && steep_record_file_cmac(*file, NULL))
        return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    const char *declared = output ? "outputs_ownership" : "inputs_ownership";
    if (!json_object_get(steep_record_inner(task, declared), map->data_name))
        return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    struct steep_management_facts facts = {0};
    rc = task_facts(&facts, key, task) < 0 ||
                 steep_management_fact_set(&facts, "data_owner", file_key, NULL,
                                           json_object_get(*file, "owner")) < 0
             ? steep_management_internal("facts")
             : 0;
    if (rc == 0)
        rc = steep_management_check(m, "task_assign_data", &facts, "task", key, "name",
                                    map->data_name, "data", file_key, "usr", caller->id, NULL);
    if (rc == 0)
        rc = steep_management_check(m, "task_access_data", &facts, "task", key, "data", file_key,
                                    NULL);
    steep_management_facts_free(&facts);
    return rc;
}

static int claim_output(struct steep_management *m, const char *key,
                        const TeaclaveFrontendServiceProto__DataMap *map, bool *claimed)
{
    char uuid[STEEP_UUID_TEXT], file_key[STEEP_ID_TEXT];
    if (steep_id_parse(map->data_id, "output", uuid) < 0) /* checked before: cannot happen */
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid data id");
    snprintf(file_key, sizeof file_key, "output-%s", uuid);
    return steep_integrity_claim_output(m, file_key, key, map->data_name, claimed);
}

static void release_output(struct steep_management *m, const char *key,
                           const TeaclaveFrontendServiceProto__DataMap *map)
{
    char uuid[STEEP_UUID_TEXT], file_key[STEEP_ID_TEXT];
    if (steep_id_parse(map->data_id, "output", uuid) == 0) {
        snprintf(file_key, sizeof file_key, "output-%s", uuid);
        steep_integrity_release_output(m, file_key, key);
    }
}

STEEP_MANAGEMENT_HANDLER(steep_management_assign_data)
{
    const TeaclaveFrontendServiceProto__AssignDataRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    json_t *task = NULL;
    GUARD_CODE(load_task(m, req->task_id, key, &task));
    int rc = check_task(m, "task_access", key, task, caller, false);
    if (rc == 0 && steep_record_task_status(task) != TEACLAVE_COMMON_PROTO__TASK_STATUS__Created)
        rc = steep_management_fail(STEEP_GRPC_UNKNOWN, "failed to assign data to task");
    size_t n = req->n_inputs + req->n_outputs;
    struct steep_task_assignment *items = calloc(n + 1, sizeof *items);
    if (rc == 0 && !items)
        rc = steep_management_internal("allocation");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool output = i >= req->n_inputs;
        const TeaclaveFrontendServiceProto__DataMap *map =
            output ? req->outputs[i - req->n_inputs] : req->inputs[i];
        items[i] = (struct steep_task_assignment){map->data_name, NULL, output};
        rc = check_assignment(m, caller, key, task, map, output, &items[i].file);
    }
    /* Write-once outputs: each claimed for this task and name first. */
    bool *claimed = calloc(n + 1, sizeof *claimed);
    if (rc == 0 && !claimed)
        rc = steep_management_internal("allocation");
    for (size_t i = req->n_inputs; rc == 0 && i < n; i++)
        rc = claim_output(m, key, req->outputs[i - req->n_inputs], &claimed[i]);
    struct steep_task_assign assign = {items, n};
    if (rc == 0) {
        rc = steep_record_update(&m->kv, key, NULL, steep_task_assign, &assign);
        if (rc < 0)
            rc = steep_management_internal("assign data");
    }
    for (size_t i = req->n_inputs; rc != 0 && claimed && i < n; i++)
        if (claimed[i])
            release_output(m, key, req->outputs[i - req->n_inputs]);
    free(claimed);
    for (size_t i = 0; items && i < n; i++)
        json_decref(items[i].file);
    free(items);
    json_decref(task);
    GUARD_CODE(rc);
    return empty_response(response);
}

/* ---- ApproveTask ---- */

STEEP_MANAGEMENT_HANDLER(steep_management_approve_task)
{
    const TeaclaveFrontendServiceProto__ApproveTaskRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    json_t *task = NULL;
    GUARD_CODE(load_task(m, req->task_id, key, &task));
    int rc = check_task(m, "task_access", key, task, caller, false);
    json_decref(task);
    if (rc == 0) {
        rc = steep_record_update(&m->kv, key, NULL, steep_task_approve, (void *)caller->id);
        if (rc < 0)
            rc = steep_management_internal("approve task");
    }
    GUARD_CODE(rc);
    return empty_response(response);
}

/* ---- InvokeTask ---- */

static int count_use(json_t *usage, void *arg)
{
    json_int_t used = json_integer_value(json_object_get(usage, "use_numbers"));
    json_object_set_new(usage, "use_numbers", json_integer(used + 1));
    return 0;
}

static json_t *staged_inputs(const json_t *assigned, bool output)
{
    json_t *inner = json_object();
    const char *name;
    json_t *file;
    json_object_foreach((json_t *)assigned, name, file)
    {
        json_t *entry = json_pack("{s:O, s:O}", "url", json_object_get(file, "url"), "crypto_info",
                                  json_object_get(file, "crypto_info"));
        if (!output)
            json_object_set(entry, "cmac", json_object_get(file, "cmac"));
        json_object_set_new(inner, name, entry);
    }
    return json_pack("{s:o}", "inner", inner);
}

/* The StagedTask JSON the execution service runs (§5.7). */
static json_t *staged_task(const json_t *task, const json_t *function)
{
    char function_id[STEEP_ID_TEXT];
    snprintf(function_id, sizeof function_id, "function-%s", steep_record_string(function, "id"));
    return json_pack(
        "{s:O, s:s, s:O, s:O, s:O, s:O, s:{s:O}, s:O, s:o, s:o}", "task_id",
        json_object_get(task, "task_id"), "function_id", function_id, "user_id",
        json_object_get(task, "creator"), "executor", json_object_get(task, "executor"),
        "executor_type", json_object_get(function, "executor_type"), "function_name",
        json_object_get(function, "name"), "function_arguments", "inner",
        steep_record_inner(task, "function_arguments"), "function_payload",
        json_object_get(function, "payload"), "input_data",
        staged_inputs(steep_record_inner(task, "assigned_inputs"), false), "output_data",
        staged_inputs(steep_record_inner(task, "assigned_outputs"), true));
}

/* The StagedTask record written on a second thread, so that its synced
 * write and the task's compare-and-swap reach storage together and share
 * one group commit instead of two disk flushes in a row. */
struct background_put {
    const struct steep_kv *kv;
    const char *key;
    char *text;
    int rc;
    char error[STEEP_ERROR_MAX];
};

static void *background_put_main(void *arg)
{
    struct background_put *put = arg;
    put->rc = put->kv->put(put->kv->ctx, put->key, put->text, strlen(put->text));
    if (put->rc != STEEP_STORE_OK)
        snprintf(put->error, sizeof put->error, "%s", steep_error_get());
    return NULL;
}

static int fail_unstaged(json_t *task, void *arg)
{
    if (steep_record_task_status(task) != TEACLAVE_COMMON_PROTO__TASK_STATUS__Staged)
        return 1;
    steep_record_task_set_error(task, "Runtime Error: the task could not be staged");
    steep_record_task_set_status(task, TEACLAVE_COMMON_PROTO__TASK_STATUS__Failed);
    return 0;
}

/* Stages the task: the StagedTask record (the scheduler's durable index)
 * and the task record's move to Staged by compare-and-swap (a concurrent
 * cancel or invoke wins or loses as a whole). A Staged task always has its
 * StagedTask record: if that write fails the task ends Failed. usage_key
 * gets the usage record's key, counted by the caller once the scheduler
 * was told. */
static int stage(struct steep_management *m, const char *key, const json_t *task,
                 const json_t *function, const struct steep_buf *known, struct steep_buf *written);

/* Checks the function still is what the approvals cover, reserves a use of
 * a function with a quota (*counted; given back when staging fails) and
 * stages. */
static int invoke(struct steep_management *m, const char *key, const json_t *task,
                  const struct steep_buf *known, struct steep_buf *written,
                  char usage_key[STEEP_ID_TEXT], bool *counted)
{
    json_t *function = NULL;
    char function_id[STEEP_ID_TEXT];
    *counted = false;
    snprintf(function_id, sizeof function_id, "function-%s",
             steep_record_string(json_object_get(task, "function_id"), "uuid"));
    GUARD_CODE(load_function(m, function_id, &function));
    snprintf(usage_key, STEEP_ID_TEXT, "usage-%s", steep_record_string(function, "id"));
    int rc = steep_integrity_check_function(task, function);
    if (rc == 0)
        rc = steep_integrity_reserve_use(m, usage_key, function, counted);
    if (rc == 0)
        rc = stage(m, key, task, function, known, written);
    if (rc != 0 && *counted) {
        steep_integrity_release_use(m, usage_key);
        *counted = false;
    }
    json_decref(function);
    return rc;
}

static int stage(struct steep_management *m, const char *key, const json_t *task,
                 const json_t *function, const struct steep_buf *known, struct steep_buf *written)
{
    char staged_key[STEEP_ID_TEXT + 8];
    snprintf(staged_key, sizeof staged_key, "staged-%s", key + 5);
    if (!steep_task_can_stage(task))
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "failed to invoke task");
    json_t *staged = staged_task(task, function);
    int rc = staged ? steep_record_check_size(staged, steep_record_limits.staged_max, "task to run",
                                              " (the StagedTask: the function's payload, the "
                                              "task's arguments and its files)")
                    : 0;
    if (rc != 0) {
        json_decref(staged);
        return rc;
    }
    struct background_put put = {
        .kv = &m->kv, .key = staged_key, .text = staged ? steep_record_dump(staged) : NULL};
    json_decref(staged);
    pthread_t thread;
    if (!put.text || pthread_create(&thread, NULL, background_put_main, &put) != 0) {
        free(put.text);
        return steep_management_internal("invoke task");
    }
    rc = steep_record_update_known(&m->kv, key, known, written, steep_task_stage, NULL);
    if (rc == STEEP_RECORD_MISSING)
        rc = steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");
    pthread_join(thread, NULL);
    if (rc == 0 && put.rc != STEEP_STORE_OK) {
        log_error("task %s: writing its StagedTask record: %s; retrying", key, put.error);
        put.rc = m->kv.put(m->kv.ctx, staged_key, put.text, strlen(put.text));
        if (put.rc != STEEP_STORE_OK && steep_record_update(&m->kv, key, NULL, fail_unstaged, NULL))
            log_error("task %s could not be failed either: %s", key, steep_error_get());
        if (put.rc != STEEP_STORE_OK)
            rc = -1;
    }
    free(put.text);
    return rc < 0 ? steep_management_internal("invoke task") : rc;
}

STEEP_MANAGEMENT_HANDLER(steep_management_invoke_task)
{
    const TeaclaveFrontendServiceProto__InvokeTaskRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT], usage_key[STEEP_ID_TEXT];
    struct steep_buf raw = STEEP_BUF_INIT, written = STEEP_BUF_INIT;
    json_t *task = NULL;
    bool counted = false;
    int rc = load_task_raw(m, req->task_id, key, &task, &raw);
    if (rc == 0)
        rc = check_task(m, "task_invoke", key, task, caller, false);
    if (rc == 0)
        rc = invoke(m, key, task, &raw, &written, usage_key, &counted);
    json_decref(task);
    steep_buf_free(&raw);
    if (rc == 0 && m->notify)
        m->notify(m->notify_arg, STEEP_MANAGEMENT_TASK_STAGED, key, written.len ? &written : NULL);
    steep_buf_free(&written);
    GUARD_CODE(rc);
    if (counted) /* a function with a quota: reserved before the stage */
        return empty_response(response);
    /* Counted after the stage, as Teaclave does (off the dispatch path). */
    json_t *usage = json_pack("{s:s, s:i}", "function_id", usage_key + 6, "use_numbers", 0);
    rc = steep_record_update(&m->kv, usage_key, usage, count_use, NULL);
    json_decref(usage);
    if (rc != 0)
        log_error("task %s staged but its usage not counted: %s", key, steep_error_get());
    return empty_response(response);
}

/* ---- CancelTask ---- */

STEEP_MANAGEMENT_HANDLER(steep_management_cancel_task)
{
    const TeaclaveFrontendServiceProto__CancelTaskRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    json_t *task = NULL;
    GUARD_CODE(load_task(m, req->task_id, key, &task));
    int rc = check_task(m, "task_cancel", key, task, caller, true);
    json_decref(task);
    int previous = -1;
    if (rc == 0) {
        rc = steep_record_update(&m->kv, key, NULL, steep_task_cancel, &previous);
        if (rc < 0)
            rc = steep_management_internal("cancel task");
    }
    GUARD_CODE(rc);
    if (previous == TEACLAVE_COMMON_PROTO__TASK_STATUS__Staged ||
        previous == TEACLAVE_COMMON_PROTO__TASK_STATUS__Running) {
        if (m->notify)
            m->notify(m->notify_arg, STEEP_MANAGEMENT_TASK_CANCELED, key, NULL);
    }
    return empty_response(response);
}
