/* The typed task record (task.h). */
#include "task/task.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* ---- JSON helpers ------------------------------------------------------------ */

static int bytes_of(const json_t *array, struct steep_buf *out)
{
    if (!json_is_array(array))
        return -1;
    out->len = 0;
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        if (!json_is_integer(item))
            return -1;
        json_int_t v = json_integer_value(item);
        if (v < 0 || v > 255 || steep_buf_append_u8(out, (uint8_t)v) < 0)
            return -1;
    }
    return 0;
}

static json_t *bytes_json(const struct steep_buf *bytes)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < bytes->len; i++)
        if (json_array_append_new(array, json_integer(bytes->data[i])) < 0) {
            json_decref(array);
            return NULL;
        }
    return array;
}

int steep_task_set_string(char **member, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    if (value && !copy)
        return steep_error_set("out of memory");
    free(*member);
    *member = copy;
    return 0;
}

/* Moves rest[key] into *member when it is a string. */
static int take_string(json_t *rest, const char *key, char **member)
{
    const char *value = json_string_value(json_object_get(rest, key));
    if (!value)
        return 0;
    GUARD(steep_task_set_string(member, value));
    json_object_del(rest, key);
    return 0;
}

/* Only a JSON true is typed (stored only when true); any other value stays in rest. */
static void take_true(json_t *rest, const char *key, bool *member)
{
    if (!json_is_true(json_object_get(rest, key)))
        return;
    *member = true;
    json_object_del(rest, key);
}

static void take_json(json_t *rest, const char *key, json_t **member)
{
    json_t *value = json_object_get(rest, key);
    if (!value)
        return;
    *member = json_incref(value);
    json_object_del(rest, key);
}

/* ---- result ------------------------------------------------------------------- */

static void result_clear(struct steep_task_result *r)
{
    free(r->reason);
    steep_buf_free(&r->value);
    for (size_t i = 0; i < r->n_tags; i++) {
        free(r->tags[i].name);
        steep_buf_free(&r->tags[i].tag);
    }
    free(r->tags);
    for (size_t i = 0; i < r->n_log; i++)
        free(r->log[i]);
    free(r->log);
    memset(r, 0, sizeof *r);
}

/* {"Ok":{"return_value":[..],"tags_map":{"inner":{name:{"tag":[..]}}},"log":[..]}} */
static int ok_of(const json_t *ok, struct steep_task_result *r)
{
    const json_t *tags = json_object_get(json_object_get(ok, "tags_map"), "inner");
    const json_t *log = json_object_get(ok, "log");
    if (json_object_size(ok) != 3 || json_object_size(json_object_get(ok, "tags_map")) != 1 ||
        !json_is_object(tags) || !json_is_array(log) ||
        bytes_of(json_object_get(ok, "return_value"), &r->value) < 0)
        return -1;
    r->tags = calloc(json_object_size(tags) + 1, sizeof *r->tags);
    r->log = calloc(json_array_size(log) + 1, sizeof *r->log);
    if (!r->tags || !r->log)
        return -1;
    const char *name;
    json_t *tag;
    json_object_foreach((json_t *)tags, name, tag)
    {
        struct steep_task_tag *t = &r->tags[r->n_tags++];
        t->name = strdup(name);
        if (!t->name || json_object_size(tag) != 1 ||
            bytes_of(json_object_get(tag, "tag"), &t->tag) < 0)
            return -1;
    }
    size_t i;
    json_t *line;
    json_array_foreach(log, i, line)
    {
        if (!json_is_string(line) || !(r->log[r->n_log++] = strdup(json_string_value(line))))
            return -1;
    }
    return 0;
}

static int result_of(const json_t *value, struct steep_task_result *r)
{
    if (json_is_string(value))
        return strcmp(json_string_value(value), "NotReady") == 0
                   ? (r->kind = STEEP_TASK_RESULT_NOT_READY, 0)
                   : -1;
    if (json_object_size(value) != 1)
        return -1;
    const json_t *err = json_object_get(value, "Err");
    if (err) {
        const char *reason = json_string_value(json_object_get(err, "reason"));
        if (json_object_size(err) != 1 || !reason || !(r->reason = strdup(reason)))
            return -1;
        r->kind = STEEP_TASK_RESULT_ERR;
        return 0;
    }
    const json_t *ok = json_object_get(value, "Ok");
    if (!ok || ok_of(ok, r) < 0)
        return -1;
    r->kind = STEEP_TASK_RESULT_OK;
    return 0;
}

static json_t *result_json(const struct steep_task_result *r)
{
    switch (r->kind) {
    case STEEP_TASK_RESULT_NOT_READY:
        return json_string("NotReady");
    case STEEP_TASK_RESULT_ERR:
        return json_pack("{s:{s:s}}", "Err", "reason", r->reason ? r->reason : "");
    case STEEP_TASK_RESULT_OK: {
        json_t *tags = json_object(), *log = json_array();
        for (size_t i = 0; tags && i < r->n_tags; i++)
            json_object_set_new(tags, r->tags[i].name,
                                json_pack("{s:o*}", "tag", bytes_json(&r->tags[i].tag)));
        for (size_t i = 0; log && i < r->n_log; i++)
            json_array_append_new(log, json_string(r->log[i]));
        return json_pack("{s:{s:o*, s:{s:o*}, s:o*}}", "Ok", "return_value", bytes_json(&r->value),
                         "tags_map", "inner", tags, "log", log);
    }
    default:
        return NULL;
    }
}

/* ---- the record --------------------------------------------------------------- */

void steep_task_clear(struct steep_task *task)
{
    free(task->task_id);
    free(task->creator);
    free(task->function_owner);
    free(task->executor);
    free(task->function_uuid);
    free(task->executor_id);
    result_clear(&task->result);
    json_t *parts[] = {task->function_arguments, task->inputs_ownership, task->outputs_ownership,
                       task->participants,       task->approved_users,   task->assigned_inputs,
                       task->assigned_outputs,   task->function_content, task->rest};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        json_decref(parts[i]);
    memset(task, 0, sizeof *task);
    task->status = -1;
}

/* function_id: exactly {"prefix":"function","uuid":"..."} is typed. */
static int take_function_id(json_t *rest, struct steep_task *task)
{
    json_t *id = json_object_get(rest, "function_id");
    const char *prefix = json_string_value(json_object_get(id, "prefix"));
    const char *uuid = json_string_value(json_object_get(id, "uuid"));
    if (json_object_size(id) != 2 || !prefix || strcmp(prefix, "function") != 0 || !uuid)
        return 0;
    GUARD(steep_task_set_string(&task->function_uuid, uuid));
    json_object_del(rest, "function_id");
    return 0;
}

/* Types the members of record, which the task takes over (its reference
 * and its values: nothing is copied, the typed members are moved out of
 * it and what is left is rest). */
static int take_record(json_t *record, struct steep_task *task)
{
    memset(task, 0, sizeof *task);
    task->status = -1;
    if (!json_is_object(record)) {
        json_decref(record);
        return steep_error_set("task record is not a JSON object");
    }
    task->rest = record;
    json_t *rest = task->rest;
    int rc = 0;
    rc |= take_string(rest, "task_id", &task->task_id);
    rc |= take_string(rest, "creator", &task->creator);
    rc |= take_string(rest, "function_owner", &task->function_owner);
    rc |= take_string(rest, "executor", &task->executor);
    rc |= take_string(rest, "executor_id", &task->executor_id);
    rc |= take_function_id(rest, task);
    take_true(rest, "started", &task->started);
    int status = steep_task_status_value(json_string_value(json_object_get(rest, "status")));
    if (status >= 0) {
        task->status = status;
        json_object_del(rest, "status");
    }
    json_t *result = json_object_get(rest, "result");
    if (result && result_of(result, &task->result) == 0) {
        json_object_del(rest, "result");
    } else {
        result_clear(&task->result);
        task->result.kind = result ? STEEP_TASK_RESULT_UNTYPED : STEEP_TASK_RESULT_NONE;
    }
    take_json(rest, "function_arguments", &task->function_arguments);
    take_json(rest, "inputs_ownership", &task->inputs_ownership);
    take_json(rest, "outputs_ownership", &task->outputs_ownership);
    take_json(rest, "participants", &task->participants);
    take_json(rest, "approved_users", &task->approved_users);
    take_json(rest, "assigned_inputs", &task->assigned_inputs);
    take_json(rest, "assigned_outputs", &task->assigned_outputs);
    take_json(rest, "function_content", &task->function_content);
    if (rc != 0) {
        steep_task_clear(task);
        return steep_error_set("out of memory");
    }
    return 0;
}

int steep_task_from_json(const json_t *record, struct steep_task *task)
{
    json_t *copy = json_is_object(record) ? json_deep_copy(record) : NULL;
    if (json_is_object(record) && !copy) {
        memset(task, 0, sizeof *task);
        task->status = -1;
        return steep_error_set("out of memory");
    }
    return take_record(copy, task);
}

int steep_task_decode(const void *data, size_t len, struct steep_task *task)
{
    json_error_t error;
    json_t *record = json_loadb(data, len, 0, &error);
    if (!record) {
        memset(task, 0, sizeof *task);
        task->status = -1;
        return steep_error_set("task record is not valid JSON");
    }
    return take_record(record, task);
}

json_t *steep_task_inner(const json_t *part)
{
    json_t *inner = json_object_get(part, "inner");
    return json_is_object(inner) ? inner : NULL;
}

int steep_task_read(const struct steep_kv *kv, const char *key, struct steep_task *task,
                    struct steep_buf *raw)
{
    json_t *record = NULL;
    memset(task, 0, sizeof *task);
    task->status = -1;
    int rc = steep_task_record_read(kv, key, &record, raw);
    if (rc == STEEP_STORE_OK && take_record(record, task) < 0)
        rc = STEEP_STORE_ERROR;
    return rc;
}

static int put(json_t *record, const char *key, json_t *value)
{
    return value ? json_object_set_new(record, key, value) : -1;
}

/* Puts the task's members into record (an empty object), sharing the
 * task's JSON values rather than copying them. */
static int fill(json_t *record, const struct steep_task *task)
{
    int rc = task->rest ? json_object_update(record, task->rest) : 0;
    const struct {
        const char *key;
        const char *value;
    } strings[] = {{"task_id", task->task_id},
                   {"creator", task->creator},
                   {"function_owner", task->function_owner},
                   {"executor", task->executor},
                   {"executor_id", task->executor_id}};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        if (strings[i].value)
            rc |= put(record, strings[i].key, json_string(strings[i].value));
    if (task->started)
        rc |= put(record, "started", json_true());
    if (task->function_uuid)
        rc |= put(record, "function_id",
                  json_pack("{s:s, s:s}", "prefix", "function", "uuid", task->function_uuid));
    if (task->status >= 0) {
        const char *name = steep_task_status_text(task->status);
        rc |= put(record, "status", json_string(name ? name : "Unknown"));
    }
    if (task->result.kind != STEEP_TASK_RESULT_NONE &&
        task->result.kind != STEEP_TASK_RESULT_UNTYPED)
        rc |= put(record, "result", result_json(&task->result));
    const struct {
        const char *key;
        json_t *value;
    } parts[] = {{"function_arguments", task->function_arguments},
                 {"inputs_ownership", task->inputs_ownership},
                 {"outputs_ownership", task->outputs_ownership},
                 {"participants", task->participants},
                 {"approved_users", task->approved_users},
                 {"assigned_inputs", task->assigned_inputs},
                 {"assigned_outputs", task->assigned_outputs},
                 {"function_content", task->function_content}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (parts[i].value)
            rc |= json_object_set(record, parts[i].key, parts[i].value);
    return rc != 0 ? -1 : 0;
}

json_t *steep_task_to_json(const struct steep_task *task)
{
    json_t *record = json_object();
    if (record && fill(record, task) < 0) {
        json_decref(record);
        return NULL;
    }
    return record;
}

char *steep_task_encode(const struct steep_task *task)
{
    json_t *record = steep_task_to_json(task);
    char *text = record ? steep_task_record_dump(record) : NULL;
    json_decref(record);
    return text;
}

int steep_task_set_error(struct steep_task *task, const char *reason)
{
    char *copy = strdup(reason ? reason : "");
    ENSURE(copy, "out of memory");
    if (task->result.kind == STEEP_TASK_RESULT_UNTYPED)
        json_object_del(task->rest, "result");
    result_clear(&task->result);
    task->result.kind = STEEP_TASK_RESULT_ERR;
    task->result.reason = copy;
    return 0;
}

int steep_task_set_ok(struct steep_task *task, const uint8_t *value, size_t value_len,
                      const struct steep_task_tag *tags, size_t n_tags, const char *const *log,
                      size_t n_log)
{
    struct steep_task_result r = {.kind = STEEP_TASK_RESULT_OK};
    r.tags = calloc(n_tags + 1, sizeof *r.tags);
    r.log = calloc(n_log + 1, sizeof *r.log);
    bool ok = r.tags && r.log && steep_buf_append(&r.value, value, value_len) == 0;
    for (size_t i = 0; ok && i < n_tags; i++) {
        struct steep_task_tag *t = &r.tags[r.n_tags++];
        ok = (t->name = strdup(tags[i].name)) != NULL &&
             steep_buf_append(&t->tag, tags[i].tag.data, tags[i].tag.len) == 0;
    }
    for (size_t i = 0; ok && i < n_log; i++)
        ok = (r.log[r.n_log++] = strdup(log[i] ? log[i] : "")) != NULL;
    if (!ok) {
        result_clear(&r);
        return steep_error_set("out of memory");
    }
    if (task->result.kind == STEEP_TASK_RESULT_UNTYPED)
        json_object_del(task->rest, "result");
    result_clear(&task->result);
    task->result = r;
    return 0;
}

/* ---- the one update function -------------------------------------------------- */

struct typed_update {
    steep_task_update_fn update;
    void *arg;
};

/* The record.h loop's callback: the record typed for update, then put back. */
static int typed(json_t *record, void *arg)
{
    const struct typed_update *u = arg;
    /* The loop drops record after this call: its members move into the
     * typed task and back, never copied. */
    json_t *members = json_object();
    if (!members || json_object_update(members, record) < 0 || json_object_clear(record) < 0) {
        json_decref(members);
        return steep_error_set("out of memory");
    }
    struct steep_task task;
    GUARD(take_record(members, &task));
    int rc = u->update(&task, u->arg);
    if (rc == 0 && fill(record, &task) < 0)
        rc = steep_error_set("out of memory");
    steep_task_clear(&task);
    return rc;
}

int steep_task_update(const struct steep_kv *kv, const char *key, steep_task_update_fn update,
                      void *arg, const struct steep_task_record_options *opt)
{
    struct typed_update u = {update, arg};
    return steep_task_record_change(kv, key, typed, &u, opt);
}
