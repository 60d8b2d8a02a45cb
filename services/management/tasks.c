/*
 * Tasks (teaclave-api.md §5.2, §5.5, §5.6): creation with Teaclave's
 * argument and ownership rules, reads, data assignment, approval,
 * invocation (one atomic write: the task record's move to Staged by
 * compare-and-swap carrying its "staged-<uuid>" record for the scheduler
 * and, for a function without a quota, its use; then a wake-up) and
 * cancellation in every state. Who may do what is asked of the policy
 * (task_access, task_assign_data, task_access_data, task_invoke,
 * task_cancel) with the task's participants, creator and declared owners
 * as facts; the state machine itself is task_state.c.
 *
 * Synced writes of one builtin task, create -> result (issue 15 item 1;
 * bench/e2e counts them: 11.0 per task at first, 7.1 with the audit
 * entries shipped separately, 5.0 now at 1 client; 3.5 -> 2.8 at 32
 * clients, where group commit shares flushes). Each is durable before the
 * answer that depends on it, and none can be merged with another without
 * changing what an answer promises:
 *   1. CreateTask: the task record, carrying the request's audit entry
 *      (a pending record, services/management/audit_attach.h). The answer
 *      hands out the task id; a lost record would make that id dangle, and
 *      every answered request must have its entry durable.
 *   2. InvokeTask: ONE write: Staged + StagedTask + the use (usage.c; a
 *      function with a quota reserves its use on the usage record first,
 *      a second write only for those, because the quota must hold before
 *      the task can run) + the request's audit entry. The answer promises
 *      the task will run; the scheduler may claim it the moment the write
 *      lands.
 *   3. PullTask (scheduler/dispatch.c): the claim, which also moves the
 *      task to Running (claim + Running are one write). It must be durable
 *      before the slot gets the task, or a restarted scheduler would hand
 *      it out again (run twice).
 *   4. UpdateTaskResult (scheduler/results.c): the result and Finished in
 *      one write; the slot forgets the result once answered.
 *   5. The GetTask that sees the result: a read, so its audit entry is its
 *      only write (SaveLogs from the frontend, before the client's answer);
 *      that append also puts the pending entries of 1 and 2 on the hash
 *      chain and deletes their pending records, in the same batch.
 * The audit entries of 1 and 2 are not appended to the chain in the
 * task's write because the chain's head has one writer that holds it
 * across its synced write: every task write would queue behind the log
 * and group commit could not share their flushes (audit.h, pending
 * entries). A pending entry waits for the next append (or the 500 ms
 * flusher) to be chained.
 * No longer on the path: the separate StagedTask put (2 writes -> 1), the
 * usage compare-and-swap after staging (folded in the background), the
 * Running write (merged into the claim) and the staged-record delete after
 * the result (batched by the scheduler's sweeper, not durable before any
 * answer: the task record is the source of truth).
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
#include "usage.h"

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
                      const char *uuid, char **task)
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
    struct steep_task typed = {
        .status = TEACLAVE_COMMON_PROTO__TASK_STATUS__Created,
        .result.kind = STEEP_TASK_RESULT_NOT_READY,
        .function_arguments = json_pack("{s:o}", "inner", arguments),
        .inputs_ownership = inputs,
        .outputs_ownership = outputs,
        .participants = participants,
        .approved_users = steep_record_set(NULL, 0),
        .assigned_inputs = json_pack("{s:{}}", "inner"),
        .assigned_outputs = json_pack("{s:{}}", "inner"),
        .function_content = steep_integrity_function_content(function), /* integrity.h */
        .rest = json_object(),
    };
    bool ok =
        steep_task_set_string(&typed.task_id, uuid) == 0 &&
        steep_task_set_string(&typed.creator, caller->id) == 0 &&
        steep_task_set_string(&typed.function_uuid, steep_record_string(function, "id")) == 0 &&
        steep_task_set_string(&typed.executor, executor) == 0 &&
        steep_task_set_string(&typed.function_owner, owner) == 0 && typed.function_arguments &&
        typed.approved_users && typed.assigned_inputs && typed.assigned_outputs &&
        typed.function_content && typed.rest;
    *task = ok ? steep_task_encode(&typed) : NULL;
    steep_task_clear(&typed);
    return *task ? 0 : steep_management_internal("task record");
}

STEEP_MANAGEMENT_HANDLER(steep_management_create_task)
{
    const TeaclaveFrontendServiceProto__CreateTaskRequest *req = (const void *)request;
    json_t *function = NULL;
    char *task = NULL; /* its stored form */
    GUARD_CODE(load_function(m, req->function_id, &function));
    int rc = role_may_use(caller->role, function)
                 ? 0
                 : steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    char id[STEEP_ID_TEXT], uuid[STEEP_UUID_TEXT];
    if (rc == 0 && steep_id_new("task", id, uuid) < 0)
        rc = steep_management_internal("id");
    if (rc == 0)
        rc = build_task(req, caller, function, uuid, &task);
    size_t len = task ? strlen(task) : 0;
    if (rc == 0)
        rc = steep_record_check_length(len, steep_record_limits.task_max, "task",
                                       " (function_arguments and the owner lists count)");
    if (rc == 0 && m->kv.put(m->kv.ctx, id, task, len) != STEEP_STORE_OK)
        rc = steep_management_internal("save task");
    json_decref(function);
    free(task);
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

/* Loads task_id as the typed record (to be cleared by the caller in every
 * case): INVALID_ARGUMENT "invalid task id" when it does not parse or does
 * not exist; key receives "task-<uuid>". */
static int load_task_raw(struct steep_management *m, const char *task_id, char key[STEEP_ID_TEXT],
                         struct steep_task *task, struct steep_buf *raw)
{
    char uuid[STEEP_UUID_TEXT];
    *task = (struct steep_task){.status = -1}; /* clearable whatever happens */
    if (steep_id_parse(task_id, "task", uuid) < 0)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");
    snprintf(key, STEEP_ID_TEXT, "task-%s", uuid);
    int rc = steep_task_read(&m->kv, key, task, raw);
    if (rc == STEEP_STORE_NOT_FOUND)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");
    return rc == STEEP_STORE_OK ? 0 : steep_management_internal("load task");
}

static int load_task(struct steep_management *m, const char *task_id, char key[STEEP_ID_TEXT],
                     struct steep_task *task)
{
    return load_task_raw(m, task_id, key, task, NULL);
}

/* The task's participants, creator and declared owners as facts. */
static int task_facts(struct steep_management_facts *facts, const char *key,
                      const struct steep_task *task)
{
    GUARD(steep_management_fact_set(facts, "task_participant", key, NULL, task->participants));
    GUARD(steep_management_fact(facts, "task_creator", 2, key, task->creator ? task->creator : ""));
    const json_t *ownership[] = {task->inputs_ownership, task->outputs_ownership};
    for (size_t i = 0; i < 2; i++) {
        const char *name;
        json_t *owners;
        json_object_foreach(steep_task_inner(ownership[i]), name, owners)
            GUARD(steep_management_fact_set(facts, "declared_owner", key, name, owners));
    }
    return 0;
}

/* Asks `request` (fields task=key, usr=caller, role when with_role). */
static int check_task(struct steep_management *m, const char *request, const char *key,
                      const struct steep_task *task, const struct steep_management_caller *caller,
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

/* The answer's result, taking the strings and bytes out of r (whose
 * record is being answered and dropped). */
static TeaclaveCommonProto__TaskResult *task_result(struct steep_task_result *r)
{
    TeaclaveCommonProto__TaskResult *out = malloc(sizeof *out);
    if (!out)
        return NULL;
    teaclave_common_proto__task_result__init(out);
    if (r->kind == STEEP_TASK_RESULT_ERR) {
        TeaclaveCommonProto__TaskFailure *failure = malloc(sizeof *failure);
        if (failure) {
            teaclave_common_proto__task_failure__init(failure);
            failure->reason = r->reason;
            r->reason = NULL;
            out->result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_ERR;
            out->err = failure;
        }
    } else if (r->kind == STEEP_TASK_RESULT_OK) {
        TeaclaveCommonProto__TaskOutputs *outputs = malloc(sizeof *outputs);
        if (!outputs)
            return out;
        teaclave_common_proto__task_outputs__init(outputs);
        if (r->value.len)
            outputs->return_value.data = steep_buf_detach(&r->value, &outputs->return_value.len);
        outputs->tags_map = calloc(r->n_tags + 1, sizeof *outputs->tags_map);
        for (size_t i = 0; outputs->tags_map && i < r->n_tags; i++) {
            TeaclaveCommonProto__TaskOutputs__TagsMapEntry *entry = malloc(sizeof *entry);
            if (!entry)
                break;
            teaclave_common_proto__task_outputs__tags_map_entry__init(entry);
            entry->key = r->tags[i].name;
            r->tags[i].name = NULL;
            if (r->tags[i].tag.len)
                entry->value.data = steep_buf_detach(&r->tags[i].tag, &entry->value.len);
            outputs->tags_map[outputs->n_tags_map++] = entry;
        }
        outputs->log = calloc(r->n_log + 1, sizeof *outputs->log);
        for (size_t i = 0; outputs->log && i < r->n_log; i++) {
            outputs->log[outputs->n_log++] = r->log[i];
            r->log[i] = NULL;
        }
        out->result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
        out->ok = outputs;
    }
    return out;
}

static bool task_terminal(const struct steep_task *task)
{
    int status = task->status;
    return status == TEACLAVE_COMMON_PROTO__TASK_STATUS__Finished ||
           status == TEACLAVE_COMMON_PROTO__TASK_STATUS__Failed ||
           status == TEACLAVE_COMMON_PROTO__TASK_STATUS__Canceled;
}

/* A held GetTask asks storage for at most this long at a time: the blocking
 * path re-checks its own call this often (caller gone, stopping), and a
 * parked one's storage wait outlives its caller by at most this much. */
#define WAIT_SLICE_MS 1000

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The fields task_facts reads (fixed at creation): equal ones give the same
 * policy answer, so a reloaded record need not be asked about again. */
static bool same_facts(const struct steep_task *a, const struct steep_task *b)
{
    return a->creator && b->creator && strcmp(a->creator, b->creator) == 0 &&
           json_equal(a->participants, b->participants) &&
           json_equal(a->inputs_ownership, b->inputs_ownership) &&
           json_equal(a->outputs_ownership, b->outputs_ownership);
}

/* How long GetTask may hold for the caller (0: answer now). */
static int64_t wait_budget(struct steep_management *m, const struct steep_management_caller *caller,
                           const struct steep_task *task)
{
    int64_t wait = caller->wait_ms;
    /* The answer must reach the caller before its deadline, through the
     * frontend, on a loaded machine: keep a fifth of what is left (100 ms
     * to 1 s) in hand. */
    int64_t margin = caller->remaining_ms / 5;
    margin = margin < 100 ? 100 : margin > 1000 ? 1000 : margin;
    if (caller->remaining_ms >= 0 && caller->remaining_ms - margin < wait)
        wait = caller->remaining_ms - margin;
    return wait <= 0 || !m->kv.wait_change || task_terminal(task) ? 0 : wait;
}

/* Steep's steep-wait-ms: after an allowed read of a task that is not yet
 * terminal, waits for its record to change in storage (a long poll, no
 * polling) and reloads it, until it is terminal or the wait is over (kept
 * a fifth of what is left, 100 ms to 1 s, inside the call's deadline). The caller's access is asked
 * again for the record that is answered if its policy facts changed. */
static int wait_for_task(struct steep_management *m, const struct steep_management_caller *caller,
                         const char *key, struct steep_task *task, struct steep_buf *raw)
{
    int64_t wait = wait_budget(m, caller, task);
    if (wait <= 0)
        return 0;
    int64_t deadline = monotonic_ms() + wait;
    bool reloaded = false;
    struct steep_task first = {.status = -1}; /* the record first checked, once reloaded */
    int rc = 0;
    for (int64_t left = wait; left > 0 && !task_terminal(task); left = deadline - monotonic_ms()) {
        if (caller->cancelled && caller->cancelled(caller->call))
            break;
        bool changed = false;
        int slice = left > WAIT_SLICE_MS ? WAIT_SLICE_MS : (int)left;
        if (m->kv.wait_change(m->kv.ctx, key, raw, slice, &changed) != STEEP_STORE_OK) {
            rc = steep_management_internal("wait for task");
            break;
        }
        if (!changed)
            continue;
        struct steep_task fresh;
        int loaded = steep_task_read(&m->kv, key, &fresh, raw);
        if (loaded != STEEP_STORE_OK) {
            rc = loaded == STEEP_STORE_NOT_FOUND
                     ? steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task id")
                     : steep_management_internal("load task");
            break;
        }
        if (reloaded)
            steep_task_clear(task);
        else
            first = *task;
        *task = fresh;
        reloaded = true;
    }
    if (rc == 0 && reloaded && !same_facts(&first, task))
        rc = check_task(m, "task_access", key, task, caller, false);
    if (reloaded)
        steep_task_clear(&first);
    return rc;
}

/* The GetTask answer for the task record (clears task: its strings and
 * bytes move into the answer). */
static int task_response(const char *key, struct steep_task *task, ProtobufCMessage **response)
{
    TeaclaveFrontendServiceProto__GetTaskResponse *resp = malloc(sizeof *resp);
    if (!resp) {
        steep_task_clear(task);
        return steep_management_internal("allocation");
    }
    teaclave_frontend_service_proto__get_task_response__init(resp);
    char function_id[STEEP_ID_TEXT];
    snprintf(function_id, sizeof function_id, "function-%s",
             task->function_uuid ? task->function_uuid : "");
    resp->task_id = steep_management_strdup(key);
    resp->creator = steep_management_strdup(task->creator ? task->creator : "");
    resp->function_id = steep_management_strdup(function_id);
    resp->function_owner =
        steep_management_strdup(task->function_owner ? task->function_owner : "");
    resp->function_arguments = steep_record_dump(steep_task_inner(task->function_arguments));
    resp->inputs_ownership =
        owner_lists(steep_task_inner(task->inputs_ownership), &resp->n_inputs_ownership);
    resp->outputs_ownership =
        owner_lists(steep_task_inner(task->outputs_ownership), &resp->n_outputs_ownership);
    resp->participants = set_strings(task->participants, &resp->n_participants);
    resp->approved_users = set_strings(task->approved_users, &resp->n_approved_users);
    resp->assigned_inputs =
        data_maps(steep_task_inner(task->assigned_inputs), "input", &resp->n_assigned_inputs);
    resp->assigned_outputs =
        data_maps(steep_task_inner(task->assigned_outputs), "output", &resp->n_assigned_outputs);
    resp->status = task->status < 0 ? 0 : task->status;
    resp->result = task_result(&task->result);
    steep_task_clear(task);
    *response = &resp->base;
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_get_task)
{
    const TeaclaveFrontendServiceProto__GetTaskRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    struct steep_task task;
    struct steep_buf raw = STEEP_BUF_INIT;
    int rc = load_task_raw(m, req->task_id, key, &task, &raw);
    if (rc != 0) {
        steep_buf_free(&raw);
        return rc;
    }
    rc = check_task(m, "task_access", key, &task, caller, false);
    if (rc == 0)
        rc = wait_for_task(m, caller, key, &task, &raw);
    steep_buf_free(&raw);
    if (rc != 0) {
        steep_task_clear(&task);
        return rc;
    }
    return task_response(key, &task, response);
}

/* ---- GetTask held without a thread (management.h) ---- */

struct steep_management_wait {
    struct steep_management *m;
    struct steep_management_caller caller; /* its strings are the held call's metadata */
    steep_management_wake_fn wake;
    char key[STEEP_ID_TEXT];
    struct steep_task first, task; /* first: the record first answered, once reloaded */
    struct steep_buf raw;          /* the record as last read: what storage compares with */
    bool reloaded;
    int64_t deadline_ms;
    /* shared with the storage answer (another thread) */
    pthread_mutex_t lock;
    int refs;       /* the holder, and the storage wait while in flight */
    bool in_flight; /* a storage wait is out */
    bool answered;  /* ...and came back: failed / changed say how */
    bool failed, changed;
    bool abandoned; /* the call is being answered: wake it no more */
};

static void wait_unref(struct steep_management_wait *wait)
{
    pthread_mutex_lock(&wait->lock);
    bool last = --wait->refs == 0;
    pthread_mutex_unlock(&wait->lock);
    if (!last)
        return;
    steep_task_clear(&wait->first);
    steep_task_clear(&wait->task);
    steep_buf_free(&wait->raw);
    pthread_mutex_destroy(&wait->lock);
    free(wait);
}

/* Storage answered (on its client's thread): record it and wake the call. */
static void storage_answered(void *arg, int rc, bool changed)
{
    struct steep_management_wait *wait = arg;
    pthread_mutex_lock(&wait->lock);
    wait->in_flight = false;
    wait->answered = true;
    wait->failed = rc != STEEP_STORE_OK;
    wait->changed = changed;
    if (!wait->abandoned) /* under the lock: the call is not answered meanwhile */
        wait->wake((void *)wait->caller.call);
    pthread_mutex_unlock(&wait->lock);
    wait_unref(wait);
}

/* In slices, so a wait whose caller left ends in storage within a slice. */
static void ask_storage(struct steep_management_wait *wait, int64_t left)
{
    pthread_mutex_lock(&wait->lock);
    wait->refs++;
    wait->in_flight = true;
    pthread_mutex_unlock(&wait->lock);
    wait->m->kv.wait_change_async(wait->m->kv.ctx, wait->key, &wait->raw,
                                  left > WAIT_SLICE_MS ? WAIT_SLICE_MS : (int)left,
                                  storage_answered, wait);
}

int steep_management_get_task_begin(struct steep_management *m,
                                    const struct steep_management_caller *caller,
                                    const ProtobufCMessage *request, ProtobufCMessage **response,
                                    struct steep_management_wait **held, int *hold_ms,
                                    steep_management_wake_fn wake)
{
    const TeaclaveFrontendServiceProto__GetTaskRequest *req = (const void *)request;
    *held = NULL;
    if (!m->kv.wait_change_async)
        return steep_management_get_task(m, caller, request, response);
    char key[STEEP_ID_TEXT];
    struct steep_task task;
    struct steep_buf raw = STEEP_BUF_INIT;
    int rc = load_task_raw(m, req->task_id, key, &task, &raw);
    if (rc == 0)
        rc = check_task(m, "task_access", key, &task, caller, false);
    int64_t budget = rc == 0 ? wait_budget(m, caller, &task) : 0;
    struct steep_management_wait *wait = budget > 0 ? calloc(1, sizeof *wait) : NULL;
    if (budget > 0 && !wait)
        rc = steep_management_internal("allocation");
    if (rc != 0 || !wait) {
        steep_buf_free(&raw);
        if (rc != 0) {
            steep_task_clear(&task);
            return rc;
        }
        return task_response(key, &task, response);
    }
    wait->m = m;
    wait->caller = *caller;
    wait->wake = wake;
    memcpy(wait->key, key, sizeof key);
    steep_task_clear(&wait->first); /* empty until a reload */
    wait->task = task;
    wait->raw = raw;
    wait->deadline_ms = monotonic_ms() + budget;
    wait->refs = 1;
    pthread_mutex_init(&wait->lock, NULL);
    ask_storage(wait, budget);
    *held = wait;
    *hold_ms = (int)budget;
    return 0;
}

/* A changed record: the task as it is now. */
static int reload(struct steep_management_wait *wait)
{
    struct steep_task fresh;
    int rc = steep_task_read(&wait->m->kv, wait->key, &fresh, &wait->raw);
    if (rc == STEEP_STORE_NOT_FOUND)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");
    if (rc != STEEP_STORE_OK)
        return steep_management_internal("load task");
    if (wait->reloaded)
        steep_task_clear(&wait->task);
    else
        wait->first = wait->task;
    wait->task = fresh;
    wait->reloaded = true;
    return 0;
}

int steep_management_wait_step(struct steep_management_wait *wait, ProtobufCMessage **response,
                               int *hold_ms)
{
    *response = NULL;
    *hold_ms = 0;
    pthread_mutex_lock(&wait->lock);
    bool answered = wait->answered, failed = wait->failed, changed = wait->changed;
    bool in_flight = wait->in_flight;
    wait->answered = false;
    pthread_mutex_unlock(&wait->lock);
    int rc = 0;
    if (answered && failed) {
        steep_error_set("storage WaitChange failed");
        rc = steep_management_internal("wait for task");
    } else if (answered && changed) {
        rc = reload(wait);
    }
    const struct steep_management_caller *caller = &wait->caller;
    int64_t left = wait->deadline_ms - monotonic_ms();
    if (rc == 0 && !task_terminal(&wait->task) && left > 0 &&
        !(caller->cancelled && caller->cancelled(caller->call))) {
        if (!in_flight)
            ask_storage(wait, left);
        *hold_ms = (int)left;
        return 0;
    }
    pthread_mutex_lock(&wait->lock);
    wait->abandoned = true;
    pthread_mutex_unlock(&wait->lock);
    if (rc == 0 && wait->reloaded && !same_facts(&wait->first, &wait->task))
        rc = check_task(wait->m, "task_access", wait->key, &wait->task, caller, false);
    if (rc == 0)
        rc = task_response(wait->key, &wait->task, response);
    wait_unref(wait);
    return rc;
}

/* ---- AssignData ---- */

/* Loads and checks one item: the id names an existing file of the right
 * kind, an output has no cmac yet, and the policy lets the caller assign it
 * to that name of this task. */
static int check_assignment(struct steep_management *m,
                            const struct steep_management_caller *caller, const char *key,
                            const struct steep_task *task,
                            const TeaclaveFrontendServiceProto__DataMap *map, bool output,
                            json_t **file)
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
    const json_t *declared = output ? task->outputs_ownership : task->inputs_ownership;
    if (!json_object_get(steep_task_inner(declared), map->data_name))
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
    struct steep_task task;
    GUARD_CODE(load_task(m, req->task_id, key, &task));
    int rc = check_task(m, "task_access", key, &task, caller, false);
    if (rc == 0 && task.status != TEACLAVE_COMMON_PROTO__TASK_STATUS__Created)
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
        rc = check_assignment(m, caller, key, &task, map, output, &items[i].file);
    }
    /* Write-once outputs: each claimed for this task and name first. */
    bool *claimed = calloc(n + 1, sizeof *claimed);
    if (rc == 0 && !claimed)
        rc = steep_management_internal("allocation");
    for (size_t i = req->n_inputs; rc == 0 && i < n; i++)
        rc = claim_output(m, key, req->outputs[i - req->n_inputs], &claimed[i]);
    struct steep_task_assign assign = {items, n};
    if (rc == 0) {
        rc = steep_record_update_task(&m->kv, key, steep_task_assign, &assign);
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
    steep_task_clear(&task);
    GUARD_CODE(rc);
    return empty_response(response);
}

/* ---- ApproveTask ---- */

STEEP_MANAGEMENT_HANDLER(steep_management_approve_task)
{
    const TeaclaveFrontendServiceProto__ApproveTaskRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    struct steep_task task;
    GUARD_CODE(load_task(m, req->task_id, key, &task));
    int rc = check_task(m, "task_access", key, &task, caller, false);
    steep_task_clear(&task);
    if (rc == 0) {
        rc = steep_record_update_task(&m->kv, key, steep_task_approve, (void *)caller->id);
        if (rc < 0)
            rc = steep_management_internal("approve task");
    }
    GUARD_CODE(rc);
    return empty_response(response);
}

/* ---- InvokeTask ---- */

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
static json_t *staged_task(const struct steep_task *task, const json_t *function)
{
    char function_id[STEEP_ID_TEXT];
    snprintf(function_id, sizeof function_id, "function-%s", steep_record_string(function, "id"));
    return json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:{s:O}, s:O, s:o, s:o}", "task_id",
                     task->task_id, "function_id", function_id, "user_id", task->creator,
                     "executor", task->executor, "executor_type",
                     json_object_get(function, "executor_type"), "function_name",
                     json_object_get(function, "name"), "function_arguments", "inner",
                     steep_task_inner(task->function_arguments), "function_payload",
                     json_object_get(function, "payload"), "input_data",
                     staged_inputs(steep_task_inner(task->assigned_inputs), false), "output_data",
                     staged_inputs(steep_task_inner(task->assigned_outputs), true));
}

/* Stages the task in ONE atomic write: the task record's move to Staged by
 * compare-and-swap (a concurrent cancel or invoke wins or loses as a
 * whole) carrying the StagedTask record (the scheduler's durable index) and,
 * with count_pending, the use of a function without a quota (usage.c). A
 * Staged task therefore always has its StagedTask record. */
static int stage(struct steep_management *m, const char *key, const struct steep_task *task,
                 const json_t *function, bool count_pending, const struct steep_buf *known,
                 struct steep_buf *written);

/* Checks the function still is what the approvals cover, reserves a use of
 * a function with a quota (*counted; given back when staging fails) and
 * stages. */
static int invoke(struct steep_management *m, const char *key, const struct steep_task *task,
                  const struct steep_buf *known, struct steep_buf *written,
                  char usage_key[STEEP_ID_TEXT], bool *counted)
{
    json_t *function = NULL;
    char function_id[STEEP_ID_TEXT];
    *counted = false;
    snprintf(function_id, sizeof function_id, "function-%s",
             task->function_uuid ? task->function_uuid : "");
    GUARD_CODE(load_function(m, function_id, &function));
    snprintf(usage_key, STEEP_ID_TEXT, "usage-%s", steep_record_string(function, "id"));
    int rc = steep_integrity_check_function(task->function_content, function);
    if (rc == 0)
        rc = steep_integrity_reserve_use(m, usage_key, function, counted);
    if (rc == 0)
        rc = stage(m, key, task, function, !*counted, known, written);
    if (rc != 0 && *counted) {
        steep_integrity_release_use(m, usage_key);
        *counted = false;
    }
    json_decref(function);
    return rc;
}

static int stage(struct steep_management *m, const char *key, const struct steep_task *task,
                 const json_t *function, bool count_pending, const struct steep_buf *known,
                 struct steep_buf *written)
{
    char staged_key[STEEP_ID_TEXT + 8];
    snprintf(staged_key, sizeof staged_key, "staged-%s", key + 5);
    if (!steep_task_can_stage(task))
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "failed to invoke task");
    json_t *staged = staged_task(task, function);
    char *text = staged ? steep_record_dump(staged) : NULL; /* serialised once, then measured */
    json_decref(staged);
    if (!text)
        return steep_management_internal("invoke task");
    int rc = steep_record_check_length(strlen(text), steep_record_limits.staged_max, "task to run",
                                       " (the StagedTask: the function's payload, the task's "
                                       "arguments and its files)");
    if (rc != 0) {
        free(text);
        return rc;
    }
    /* ops[0]: the StagedTask; ops[1]: the use of a function without a
     * quota (usage.c), counted in this same write. */
    char pending_key[STEEP_USAGE_PENDING_KEY];
    struct steep_store_op ops[2] = {{false, staged_key, strlen(staged_key), text, strlen(text)}};
    size_t n_ops = 1;
    if (count_pending) {
        if (steep_usage_pending_key(pending_key, steep_record_string(function, "id"), key + 5) <
            0) {
            free(text);
            return steep_management_internal("usage key");
        }
        ops[n_ops++] = (struct steep_store_op){false, pending_key, strlen(pending_key), "1", 1};
    }
    struct steep_store_op *put = &ops[0];
    /* One write: the swap to Staged carries the StagedTask record. Only when
     * the pair (the task record twice, as expected and new bytes, plus the
     * StagedTask) would not fit one storage message is the index record
     * written first, on its own (a dangling one is harmless: the scheduler
     * reads the task record first). */
    size_t task_len = known ? known->len : steep_record_limits.update_max;
    bool together = put->value_len + 2 * (task_len + 1024) <= 2 * steep_record_limits.update_max;
    if (!together && m->kv.put(m->kv.ctx, staged_key, text, put->value_len) != STEEP_STORE_OK) {
        free(text);
        return steep_management_internal("invoke task");
    }
    rc = steep_record_update_task_then(&m->kv, key, known, written, steep_task_stage, NULL,
                                       together ? ops : ops + 1, together ? n_ops : n_ops - 1);
    free(text);
    if (rc == STEEP_RECORD_MISSING)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid task id");
    return rc < 0 ? steep_management_internal("invoke task") : rc;
}

STEEP_MANAGEMENT_HANDLER(steep_management_invoke_task)
{
    const TeaclaveFrontendServiceProto__InvokeTaskRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT], usage_key[STEEP_ID_TEXT];
    struct steep_buf raw = STEEP_BUF_INIT, written = STEEP_BUF_INIT;
    struct steep_task task;
    bool counted = false;
    int rc = load_task_raw(m, req->task_id, key, &task, &raw);
    if (rc == 0)
        rc = check_task(m, "task_invoke", key, &task, caller, false);
    if (rc == 0)
        rc = invoke(m, key, &task, &raw, &written, usage_key, &counted);
    steep_task_clear(&task);
    steep_buf_free(&raw);
    if (rc == 0 && m->notify)
        m->notify(m->notify_arg, STEEP_MANAGEMENT_TASK_STAGED, key, written.len ? &written : NULL);
    steep_buf_free(&written);
    GUARD_CODE(rc);
    /* Counted: reserved before the stage (a quota) or in the stage's write. */
    (void)counted;
    return empty_response(response);
}

/* ---- CancelTask ---- */

STEEP_MANAGEMENT_HANDLER(steep_management_cancel_task)
{
    const TeaclaveFrontendServiceProto__CancelTaskRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    struct steep_task task;
    GUARD_CODE(load_task(m, req->task_id, key, &task));
    int rc = check_task(m, "task_cancel", key, &task, caller, true);
    steep_task_clear(&task);
    int previous = -1;
    if (rc == 0) {
        rc = steep_record_update_task(&m->kv, key, steep_task_cancel, &previous);
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
