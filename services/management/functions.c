/*
 * Functions (teaclave-api.md §5.2, §5.3): registration with arguments,
 * inputs, outputs, allowlist and usage quota; update, read (payload and
 * allowlist hidden from allow-listed non-owners), usage statistics, delete,
 * disable and the per-user lists ("user-<keyed hash>", ids.h) behind
 * ListFunctions.
 * Changing or disabling a function is a policy question (function_modify,
 * function_disable); who may read a function stays Teaclave's visibility
 * rule here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "ids.h"
#include "management.h"
#include "records.h"
#include "usage.h"
#include "rpc/rpc.h"

#define NEW_MESSAGE(var, type, init)                                                               \
    type *var = malloc(sizeof *var);                                                               \
    if (!var)                                                                                      \
        return steep_management_internal("allocation");                                            \
    init(var)

static const struct {
    const char *wire;
    const char *stored;
} executor_types[] = {{"builtin", "Builtin"}, {"python", "Python"}, {"wamr", "WAMicroRuntime"}};

static const char *executor_type_stored(const char *wire)
{
    for (size_t i = 0; i < 3; i++)
        if (wire && strcmp(executor_types[i].wire, wire) == 0)
            return executor_types[i].stored;
    return NULL;
}

static const char *executor_type_wire(const char *stored)
{
    for (size_t i = 0; i < 3; i++)
        if (stored && strcmp(executor_types[i].stored, stored) == 0)
            return executor_types[i].wire;
    return "";
}

/* The fields RegisterFunctionRequest and UpdateFunctionRequest share. */
struct function_fields {
    const char *name, *description, *executor_type;
    bool public_;
    ProtobufCBinaryData payload;
    size_t n_arguments;
    TeaclaveFrontendServiceProto__FunctionArgument **arguments;
    size_t n_inputs;
    TeaclaveFrontendServiceProto__FunctionInput **inputs;
    size_t n_outputs;
    TeaclaveFrontendServiceProto__FunctionOutput **outputs;
    size_t n_user_allowlist;
    char **user_allowlist;
    int32_t usage_quota;
};

#define FUNCTION_FIELDS(req)                                                                       \
    {                                                                                              \
        (req)->name, (req)->description, (req)->executor_type, (req)->public_, (req)->payload,     \
            (req)->n_arguments, (req)->arguments, (req)->n_inputs, (req)->inputs,                  \
            (req)->n_outputs, (req)->outputs, (req)->n_user_allowlist, (req)->user_allowlist,      \
            (req)->usage_quota                                                                     \
    }

static json_t *io_list(size_t n, TeaclaveFrontendServiceProto__FunctionInput **items)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:b}", "name", items[i]->name, "description",
                                        items[i]->description, "optional", items[i]->optional));
    return list;
}

/* The stored function; fails (INTERNAL, as Teaclave's parse error) on an
 * unknown executor type. */
static int function_record(const struct function_fields *f, const char *uuid, const char *owner,
                           json_t **out)
{
    const char *executor_type = executor_type_stored(f->executor_type);
    if (!executor_type)
        return steep_management_fail(STEEP_GRPC_INTERNAL, "invalid executor type \"%.32s\"",
                                     f->executor_type);
    json_t *arguments = json_array();
    for (size_t i = 0; i < f->n_arguments; i++)
        json_array_append_new(arguments,
                              json_pack("{s:s, s:s, s:b}", "key", f->arguments[i]->key,
                                        "default_value", f->arguments[i]->default_value,
                                        "allow_overwrite", f->arguments[i]->allow_overwrite));
    json_t *allowlist = json_array();
    for (size_t i = 0; i < f->n_user_allowlist; i++)
        json_array_append_new(allowlist, json_string(f->user_allowlist[i]));
    /* FunctionOutput has FunctionInput's layout (name, description, optional). */
    *out = json_pack(
        "{s:s, s:s, s:s, s:b, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "id", uuid, "name", f->name,
        "description", f->description, "public", f->public_, "executor_type", executor_type,
        "payload", steep_record_bytes(f->payload.data, f->payload.len), "arguments", arguments,
        "inputs", io_list(f->n_inputs, f->inputs), "outputs",
        io_list(f->n_outputs, (TeaclaveFrontendServiceProto__FunctionInput **)f->outputs), "owner",
        owner, "user_allowlist", allowlist, "usage_quota",
        f->usage_quota < 0 ? json_null() : json_integer(f->usage_quota));
    if (!*out)
        return steep_management_internal("function record");
    int rc = steep_record_check_size(*out, steep_record_limits.function_max, "function",
                                     " (a payload byte takes up to 4 in the record)");
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int steep_management_load_function(struct steep_management *m, const char *function_id,
                                   char key[STEEP_ID_TEXT], json_t **function)
{
    char uuid[STEEP_UUID_TEXT];
    if (steep_id_parse(function_id, "function", uuid) < 0)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid function id");
    snprintf(key, STEEP_ID_TEXT, "function-%s", uuid);
    int rc = steep_record_load(&m->kv, key, function, NULL);
    if (rc == STEEP_STORE_NOT_FOUND)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid function id");
    return rc == STEEP_STORE_OK ? 0 : steep_management_internal("load function");
}

static int check_function(struct steep_management *m, const char *request, const char *key,
                          const json_t *function, const struct steep_management_caller *caller)
{
    struct steep_management_facts facts = {0};
    int rc = steep_management_fact(&facts, "function_owner", 2, key,
                                   steep_record_string(function, "owner"));
    rc = rc < 0 ? steep_management_internal("facts")
                : steep_management_check(m, request, &facts, "function", key, "usr", caller->id,
                                         "role", caller->role ? caller->role : "", NULL);
    steep_management_facts_free(&facts);
    return rc;
}

/* ---- user lists ---- */

struct list_change {
    const char *field; /* "registered_functions" / "allowed_functions" */
    const char *function_id;
    bool add;
};

static int change_list(json_t *user, void *arg)
{
    const struct list_change *change = arg;
    json_t *list = json_object_get(user, change->field);
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(user, change->field, list);
    }
    for (size_t i = json_array_size(list); i-- > 0;)
        if (strcmp(json_string_value(json_array_get(list, i)) ?: "", change->function_id) == 0) {
            if (change->add)
                return 1;
            json_array_remove(list, i);
        }
    if (change->add)
        json_array_append_new(list, json_string(change->function_id));
    return 0;
}

static int user_list_change(struct steep_management *m, const char *user, const char *field,
                            const char *function_id, bool add)
{
    char key[STEEP_ID_TEXT];
    GUARD(steep_id_user_key_keyed(m->user_secret, user, key));
    json_t *initial =
        json_pack("{s:s, s:[], s:[]}", "id", user, "registered_functions", "allowed_functions");
    struct list_change change = {field, function_id, add};
    int rc = steep_record_update(&m->kv, key, add ? initial : NULL, change_list, &change);
    json_decref(initial);
    return rc == STEEP_RECORD_MISSING ? 0 : rc;
}

/* ---- handlers ---- */

STEEP_MANAGEMENT_HANDLER(steep_management_register_function)
{
    const TeaclaveFrontendServiceProto__RegisterFunctionRequest *req = (const void *)request;
    struct function_fields fields = FUNCTION_FIELDS(req);
    char id[STEEP_ID_TEXT], uuid[STEEP_UUID_TEXT];
    if (steep_id_new("function", id, uuid) < 0)
        return steep_management_internal("id");
    json_t *function = NULL;
    GUARD_CODE(function_record(&fields, uuid, caller->id, &function));
    char usage_key[STEEP_ID_TEXT];
    snprintf(usage_key, sizeof usage_key, "usage-%s", uuid);
    json_t *usage = json_pack("{s:s, s:i}", "function_id", uuid, "use_numbers", 0);
    int rc = steep_record_save(&m->kv, usage_key, usage) == STEEP_STORE_OK &&
                     steep_record_save(&m->kv, id, function) == STEEP_STORE_OK &&
                     user_list_change(m, caller->id, "registered_functions", id, true) == 0
                 ? 0
                 : -1;
    for (size_t i = 0; rc == 0 && i < req->n_user_allowlist; i++)
        rc = user_list_change(m, req->user_allowlist[i], "allowed_functions", id, true);
    json_decref(usage);
    json_decref(function);
    if (rc != 0)
        return steep_management_internal("register function");
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__RegisterFunctionResponse,
                teaclave_frontend_service_proto__register_function_response__init);
    resp->function_id = steep_management_strdup(id);
    *response = &resp->base;
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_update_function)
{
    const TeaclaveFrontendServiceProto__UpdateFunctionRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    json_t *old = NULL, *function = NULL;
    GUARD_CODE(steep_management_load_function(m, req->function_id, key, &old));
    int rc = check_function(m, "function_modify", key, old, caller);
    struct function_fields fields = FUNCTION_FIELDS(req);
    if (rc == 0)
        rc = function_record(&fields, steep_record_string(old, "id"), caller->id, &function);
    if (rc == 0 && steep_record_save(&m->kv, key, function) != STEEP_STORE_OK)
        rc = steep_management_internal("update function");
    json_decref(old);
    json_decref(function);
    if (rc != 0)
        return rc;
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__UpdateFunctionResponse,
                teaclave_frontend_service_proto__update_function_response__init);
    resp->function_id = steep_management_strdup(key);
    *response = &resp->base;
    return 0;
}

static bool in_allowlist(const json_t *function, const char *user)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(function, "user_allowlist"), i, item)
    {
        if (strcmp(json_string_value(item) ?: "", user) == 0)
            return true;
    }
    return false;
}

static char **string_list(const json_t *array, size_t *n)
{
    *n = json_array_size(array);
    char **list = calloc(*n + 1, sizeof *list);
    for (size_t i = 0; list && i < *n; i++)
        list[i] = steep_management_strdup(json_string_value(json_array_get(array, i)));
    return list;
}

/* FunctionOutput has FunctionInput's layout; `output` picks the descriptor. */
static TeaclaveFrontendServiceProto__FunctionInput **io_messages(const json_t *array, size_t *n,
                                                                 bool output)
{
    *n = json_array_size(array);
    TeaclaveFrontendServiceProto__FunctionInput **items = calloc(*n + 1, sizeof *items);
    for (size_t i = 0; items && i < *n; i++) {
        json_t *item = json_array_get(array, i);
        items[i] = malloc(sizeof *items[i]);
        if (!items[i])
            continue;
        if (output)
            teaclave_frontend_service_proto__function_output__init((void *)items[i]);
        else
            teaclave_frontend_service_proto__function_input__init(items[i]);
        items[i]->name = steep_management_strdup(steep_record_string(item, "name"));
        items[i]->description = steep_management_strdup(steep_record_string(item, "description"));
        items[i]->optional = json_is_true(json_object_get(item, "optional"));
    }
    return items;
}

STEEP_MANAGEMENT_HANDLER(steep_management_get_function)
{
    const TeaclaveFrontendServiceProto__GetFunctionRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    json_t *function = NULL;
    GUARD_CODE(steep_management_load_function(m, req->function_id, key, &function));
    const char *owner = steep_record_string(function, "owner");
    bool full = json_is_true(json_object_get(function, "public")) ||
                steep_management_is_admin(caller) || strcmp(owner, caller->id) == 0;
    if (!full && !in_allowlist(function, caller->id)) {
        json_decref(function);
        return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    }
    TeaclaveFrontendServiceProto__GetFunctionResponse *resp = malloc(sizeof *resp);
    if (!resp) {
        json_decref(function);
        return steep_management_internal("allocation");
    }
    teaclave_frontend_service_proto__get_function_response__init(resp);
    resp->name = steep_management_strdup(steep_record_string(function, "name"));
    resp->description = steep_management_strdup(steep_record_string(function, "description"));
    resp->executor_type =
        steep_management_strdup(executor_type_wire(steep_record_string(function, "executor_type")));
    resp->owner = steep_management_strdup(owner);
    resp->public_ = json_is_true(json_object_get(function, "public"));
    if (full) {
        struct steep_buf payload = STEEP_BUF_INIT;
        if (steep_record_bytes_get(json_object_get(function, "payload"), &payload) == 0 &&
            payload.len) {
            resp->payload.len = payload.len;
            resp->payload.data = steep_buf_detach(&payload, &resp->payload.len);
        }
        steep_buf_free(&payload);
        resp->user_allowlist =
            string_list(json_object_get(function, "user_allowlist"), &resp->n_user_allowlist);
    }
    json_t *arguments = json_object_get(function, "arguments");
    resp->n_arguments = json_array_size(arguments);
    resp->arguments = calloc(resp->n_arguments + 1, sizeof *resp->arguments);
    for (size_t i = 0; resp->arguments && i < resp->n_arguments; i++) {
        json_t *item = json_array_get(arguments, i);
        TeaclaveFrontendServiceProto__FunctionArgument *arg = malloc(sizeof *arg);
        resp->arguments[i] = arg;
        if (!arg)
            continue;
        teaclave_frontend_service_proto__function_argument__init(arg);
        arg->key = steep_management_strdup(steep_record_string(item, "key"));
        arg->default_value = steep_management_strdup(steep_record_string(item, "default_value"));
        arg->allow_overwrite = json_is_true(json_object_get(item, "allow_overwrite"));
    }
    resp->inputs = io_messages(json_object_get(function, "inputs"), &resp->n_inputs, false);
    resp->outputs = (TeaclaveFrontendServiceProto__FunctionOutput **)io_messages(
        json_object_get(function, "outputs"), &resp->n_outputs, true);
    json_decref(function);
    *response = &resp->base;
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_get_function_usage_stats)
{
    const TeaclaveFrontendServiceProto__GetFunctionUsageStatsRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    json_t *function = NULL, *usage = NULL;
    GUARD_CODE(steep_management_load_function(m, req->function_id, key, &function));
    bool allowed = json_is_true(json_object_get(function, "public")) ||
                   steep_management_is_admin(caller) || in_allowlist(function, caller->id);
    json_t *quota = json_object_get(function, "usage_quota");
    int32_t function_quota = json_is_integer(quota) ? (int32_t)json_integer_value(quota) : -1;
    char usage_key[STEEP_ID_TEXT];
    snprintf(usage_key, sizeof usage_key, "usage-%s", steep_record_string(function, "id"));
    json_decref(function);
    if (!allowed)
        return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    /* The usage record plus the uses not folded into it yet (usage.c). */
    int64_t used = 0;
    if (steep_management_usage_current(m, usage_key + 6, &used) < 0)
        return steep_management_internal("load usage");
    int32_t current = (int32_t)used;
    (void)usage;
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__GetFunctionUsageStatsResponse,
                teaclave_frontend_service_proto__get_function_usage_stats_response__init);
    resp->function_quota = function_quota;
    resp->current_usage = current;
    *response = &resp->base;
    return 0;
}

static int empty_response(ProtobufCMessage **response)
{
    Google__Protobuf__Empty *empty = malloc(sizeof *empty);
    if (!empty)
        return steep_management_internal("allocation");
    google__protobuf__empty__init(empty);
    *response = &empty->base;
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_delete_function)
{
    const TeaclaveFrontendServiceProto__DeleteFunctionRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    json_t *function = NULL;
    GUARD_CODE(steep_management_load_function(m, req->function_id, key, &function));
    /* Teaclave: the owner only, admins included in "only". */
    struct steep_management_caller as_user = {.id = caller->id, .role = ""};
    int rc = check_function(m, "function_modify", key, function, &as_user);
    json_decref(function);
    GUARD_CODE(rc);
    if (m->kv.remove(m->kv.ctx, key) != STEEP_STORE_OK)
        return steep_management_internal("delete function");
    return empty_response(response);
}

static int clear_allowlist(json_t *function, void *arg)
{
    (void)arg;
    json_object_set_new(function, "user_allowlist", json_array());
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_disable_function)
{
    const TeaclaveFrontendServiceProto__DisableFunctionRequest *req = (const void *)request;
    char key[STEEP_ID_TEXT];
    json_t *function = NULL;
    GUARD_CODE(steep_management_load_function(m, req->function_id, key, &function));
    int rc = check_function(m, "function_disable", key, function, caller);
    if (rc == 0 && user_list_change(m, steep_record_string(function, "owner"),
                                    "registered_functions", key, false) != 0)
        rc = steep_management_internal("disable function");
    size_t i;
    json_t *user;
    json_array_foreach(json_object_get(function, "user_allowlist"), i, user)
    {
        if (rc == 0 && user_list_change(m, json_string_value(user) ?: "", "allowed_functions", key,
                                        false) != 0)
            rc = steep_management_internal("disable function");
    }
    json_decref(function);
    if (rc == 0 && steep_record_update(&m->kv, key, NULL, clear_allowlist, NULL) != 0)
        rc = steep_management_internal("disable function");
    GUARD_CODE(rc);
    return empty_response(response);
}

struct key_list {
    json_t *keys;
};

static int collect_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len)
{
    struct key_list *list = arg;
    if (key_len > 9 && memcmp(key, "function-", 9) == 0)
        json_array_append_new(list->keys, json_stringn((const char *)key, key_len));
    return 0;
}

STEEP_MANAGEMENT_HANDLER(steep_management_list_functions)
{
    const TeaclaveFrontendServiceProto__ListFunctionsRequest *req = (const void *)request;
    bool admin = steep_management_is_admin(caller);
    if (!admin && strcmp(req->user_id, caller->id) != 0)
        return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    char key[STEEP_ID_TEXT];
    json_t *user = NULL;
    if (steep_id_user_key_keyed(m->user_secret, req->user_id, key) < 0)
        return steep_management_internal("user key");
    int rc = steep_record_load(&m->kv, key, &user, NULL);
    if (rc == STEEP_STORE_ERROR)
        return steep_management_internal("load user");
    NEW_MESSAGE(resp, TeaclaveFrontendServiceProto__ListFunctionsResponse,
                teaclave_frontend_service_proto__list_functions_response__init);
    if (rc == STEEP_STORE_OK) {
        resp->registered_functions = string_list(json_object_get(user, "registered_functions"),
                                                 &resp->n_registered_functions);
        struct key_list all = {json_array()};
        if (admin && m->kv.keys(m->kv.ctx, "function", collect_key, &all) != STEEP_STORE_OK) {
            json_decref(all.keys);
            json_decref(user);
            protobuf_c_message_free_unpacked(&resp->base, NULL);
            return steep_management_internal("list functions");
        }
        resp->allowed_functions =
            string_list(admin ? all.keys : json_object_get(user, "allowed_functions"),
                        &resp->n_allowed_functions);
        json_decref(all.keys);
    }
    json_decref(user);
    *response = &resp->base;
    return 0;
}

/* ---- migration of unkeyed user keys (issue 14, item 17) ---- */

static int collect_legacy_user(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                               size_t value_len)
{
    (void)value;
    (void)value_len;
    char text[STEEP_ID_TEXT];
    if (key_len < sizeof text) {
        memcpy(text, key, key_len);
        text[key_len] = '\0';
        if (steep_id_user_key_is_legacy(text))
            json_array_append_new(((struct key_list *)arg)->keys, json_string(text));
    }
    return 0;
}

int steep_management_migrate_user_keys(struct steep_management *m)
{
    struct key_list legacy = {json_array()};
    ENSURE(legacy.keys != NULL, "out of memory");
    int rc = m->kv.keys(m->kv.ctx, "user", collect_legacy_user, &legacy) == STEEP_STORE_OK
                 ? 0
                 : steep_error_set("listing user records failed");
    size_t i;
    json_t *old_key;
    json_array_foreach(legacy.keys, i, old_key)
    {
        if (rc < 0)
            break;
        json_t *user = NULL;
        const char *old = json_string_value(old_key);
        if (steep_record_load(&m->kv, old, &user, NULL) != STEEP_STORE_OK) {
            rc = steep_error_set("loading user record %s failed", old);
            break;
        }
        const char *id = json_string_value(json_object_get(user, "id"));
        char key[STEEP_ID_TEXT];
        /* Saved under the new key before the old one goes: a crash between
         * the two leaves a copy this migration rewrites again. */
        rc = id ? steep_id_user_key_keyed(m->user_secret, id, key)
                : steep_error_set("user record %s has no id", old);
        if (rc == 0 && steep_record_save(&m->kv, key, user) != STEEP_STORE_OK)
            rc = steep_error_set("saving user record %s failed", key);
        if (rc == 0 && m->kv.remove(m->kv.ctx, old) != STEEP_STORE_OK)
            rc = steep_error_set("removing user record %s failed", old);
        json_decref(user);
    }
    if (rc == 0 && json_array_size(legacy.keys) > 0)
        log_info("moved %zu user records of an older version to keyed-hash keys",
                 json_array_size(legacy.keys));
    json_decref(legacy.keys);
    return rc;
}
