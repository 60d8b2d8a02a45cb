/*
 * The management service's logic, called as the frontend would (caller id
 * and role), over the real storage engine and the real policy engine with
 * policies/tasks.policy: single-, two- and three-party flows, optional
 * inputs, fusion output into a second task, quotas, disable/delete, every
 * bad input of the issue (state unchanged), cancel in each state, and a
 * storage restart mid-flow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "harness.h"
#include "ids.h"
#include "management.h"
#include "records.h"
#include "rpc/rpc.h"
#include "usage.h"

typedef TeaclaveFrontendServiceProto__FunctionArgument Argument;
typedef TeaclaveFrontendServiceProto__FunctionInput Input;
typedef TeaclaveFrontendServiceProto__FunctionOutput Output;
typedef TeaclaveFrontendServiceProto__OwnerList OwnerList;
typedef TeaclaveFrontendServiceProto__DataMap DataMap;

static struct harness_store store;
static void *policy;
static struct steep_management m;
static int staged_events, canceled_events;
static char last_event_task[STEEP_ID_TEXT];

static void notify(void *arg, enum steep_management_event event, const char *task_id,
                   const struct steep_buf *record)
{
    if (event == STEEP_MANAGEMENT_TASK_STAGED)
        staged_events++;
    else
        canceled_events++;
    snprintf(last_event_task, sizeof last_event_task, "%s", task_id);
}

static int setup(void **state)
{
    harness_store_open(&store);
    policy = harness_policy_load();
    m = (struct steep_management){harness_kv(&store), harness_authorize, policy, notify, NULL, {0}};
    staged_events = canceled_events = 0;
    return 0;
}

static int teardown(void **state)
{
    harness_store_close(&store);
    harness_policy_free(policy);
    return 0;
}

/* Calls a handler as `user` with `role`; frees the response unless wanted. */
static int call(steep_management_handler_fn handler, const char *user, const char *role,
                const void *request, ProtobufCMessage **response)
{
    struct steep_management_caller caller = {.id = user, .role = role};
    ProtobufCMessage *out = NULL;
    int code = handler(&m, &caller, request, &out);
    if (code == 0)
        assert_non_null(out);
    if (response)
        *response = out;
    else if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return code;
}

#define ROLE_OWNER(u) "DataOwner-" u

static char *register_input(const char *user)
{
    uint8_t key[16] = {0x90}, iv[12] = {0x89}, cmac[16] = {1, 2, 3};
    TeaclaveCommonProto__FileCryptoInfo crypto = TEACLAVE_COMMON_PROTO__FILE_CRYPTO_INFO__INIT;
    crypto.schema = "aes-gcm-128";
    crypto.key = (ProtobufCBinaryData){16, key};
    crypto.iv = (ProtobufCBinaryData){12, iv};
    TeaclaveFrontendServiceProto__RegisterInputFileRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_INPUT_FILE_REQUEST__INIT;
    req.url = "https://files.example/input.enc";
    req.cmac = (ProtobufCBinaryData){16, cmac};
    req.crypto_info = &crypto;
    ProtobufCMessage *resp;
    assert_int_equal(call(steep_management_register_input_file, user, ROLE_OWNER("x"), &req, &resp),
                     0);
    char *id = strdup(((TeaclaveFrontendServiceProto__RegisterInputFileResponse *)resp)->data_id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return id;
}

static char *register_output(const char *user)
{
    uint8_t key[16] = {0x90};
    TeaclaveCommonProto__FileCryptoInfo crypto = TEACLAVE_COMMON_PROTO__FILE_CRYPTO_INFO__INIT;
    crypto.schema = "teaclave-file-128";
    crypto.key = (ProtobufCBinaryData){16, key};
    TeaclaveFrontendServiceProto__RegisterOutputFileRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_OUTPUT_FILE_REQUEST__INIT;
    req.url = "https://files.example/output.enc";
    req.crypto_info = &crypto;
    ProtobufCMessage *resp;
    assert_int_equal(
        call(steep_management_register_output_file, user, ROLE_OWNER("x"), &req, &resp), 0);
    char *id = strdup(((TeaclaveFrontendServiceProto__RegisterOutputFileResponse *)resp)->data_id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return id;
}

/* A function with inputs/outputs named in the lists ("name" or "name?" for
 * optional), arguments "key=default" (fixed) or "key*" (overwritable). */
static char *register_function(const char *owner, bool public_, int quota, const char *args,
                               const char *inputs, const char *outputs, const char *allow)
{
    TeaclaveFrontendServiceProto__RegisterFunctionRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_FUNCTION_REQUEST__INIT;
    Argument argument_items[8], *argument_list[8];
    Input input_items[8], *input_list[8];
    Output output_items[8], *output_list[8];
    char buffers[3][256], allow_buffer[256], *allow_list[8];
    req.name = "builtin-echo";
    req.description = "test";
    req.executor_type = "builtin";
    req.public_ = public_;
    req.usage_quota = quota;
    snprintf(buffers[0], 256, "%s", args);
    for (char *save, *tok = strtok_r(buffers[0], ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        Argument *a = &argument_items[req.n_arguments];
        teaclave_frontend_service_proto__function_argument__init(a);
        char *eq = strchr(tok, '=');
        size_t len = strlen(tok);
        if (eq) {
            *eq = 0;
            a->default_value = eq + 1;
        } else if (tok[len - 1] == '*') {
            tok[len - 1] = 0;
            a->allow_overwrite = true;
        }
        a->key = tok;
        argument_list[req.n_arguments++] = a;
    }
    snprintf(buffers[1], 256, "%s", inputs);
    for (char *save, *tok = strtok_r(buffers[1], ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        Input *item = &input_items[req.n_inputs];
        teaclave_frontend_service_proto__function_input__init(item);
        size_t len = strlen(tok);
        if (tok[len - 1] == '?') {
            tok[len - 1] = 0;
            item->optional = true;
        }
        item->name = tok;
        input_list[req.n_inputs++] = item;
    }
    snprintf(buffers[2], 256, "%s", outputs);
    for (char *save, *tok = strtok_r(buffers[2], ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        Output *item = &output_items[req.n_outputs];
        teaclave_frontend_service_proto__function_output__init(item);
        item->name = tok;
        output_list[req.n_outputs++] = item;
    }
    snprintf(allow_buffer, 256, "%s", allow);
    for (char *save, *tok = strtok_r(allow_buffer, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        allow_list[req.n_user_allowlist++] = tok;
    req.arguments = argument_list;
    req.inputs = input_list;
    req.outputs = output_list;
    req.user_allowlist = allow_list;
    ProtobufCMessage *resp;
    assert_int_equal(call(steep_management_register_function, owner, "FunctionOwner", &req, &resp),
                     0);
    char *id =
        strdup(((TeaclaveFrontendServiceProto__RegisterFunctionResponse *)resp)->function_id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return id;
}

/* ownership: "name:u1+u2;name2:u3" for inputs, then the same for outputs. */
static void fill_owner_lists(const char *spec, char *buffer, OwnerList *items, OwnerList **list,
                             char *uids[8][8], size_t *n)
{
    *n = 0;
    snprintf(buffer, 256, "%s", spec);
    for (char *save, *tok = strtok_r(buffer, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        OwnerList *o = &items[*n];
        teaclave_frontend_service_proto__owner_list__init(o);
        char *colon = strchr(tok, ':');
        *colon = 0;
        o->data_name = tok;
        for (char *s2, *u = strtok_r(colon + 1, "+", &s2); u; u = strtok_r(NULL, "+", &s2))
            uids[*n][o->n_uids++] = u;
        o->uids = uids[*n];
        list[*n] = o;
        (*n)++;
    }
}

static int create_task(const char *user, const char *role, const char *function_id,
                       const char *arguments, const char *inputs, const char *outputs,
                       char **task_id)
{
    TeaclaveFrontendServiceProto__CreateTaskRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__CREATE_TASK_REQUEST__INIT;
    char in_buffer[256], out_buffer[256], *in_uids[8][8], *out_uids[8][8];
    OwnerList in_items[8], *in_list[8], out_items[8], *out_list[8];
    fill_owner_lists(inputs, in_buffer, in_items, in_list, in_uids, &req.n_inputs_ownership);
    fill_owner_lists(outputs, out_buffer, out_items, out_list, out_uids, &req.n_outputs_ownership);
    req.inputs_ownership = in_list;
    req.outputs_ownership = out_list;
    req.function_id = (char *)function_id;
    req.function_arguments = (char *)arguments;
    req.executor = "builtin";
    ProtobufCMessage *resp = NULL;
    int code = call(steep_management_create_task, user, role, &req, &resp);
    if (code == 0) {
        *task_id = strdup(((TeaclaveFrontendServiceProto__CreateTaskResponse *)resp)->task_id);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return code;
}

static int assign(const char *user, const char *task_id, const char *name, const char *data_id)
{
    TeaclaveFrontendServiceProto__AssignDataRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__ASSIGN_DATA_REQUEST__INIT;
    DataMap map = TEACLAVE_FRONTEND_SERVICE_PROTO__DATA_MAP__INIT, *maps[1] = {&map};
    map.data_name = (char *)name;
    map.data_id = (char *)data_id;
    req.task_id = (char *)task_id;
    if (strncmp(data_id, "output", 6) == 0) {
        req.n_outputs = 1;
        req.outputs = maps;
    } else {
        req.n_inputs = 1;
        req.inputs = maps;
    }
    return call(steep_management_assign_data, user, ROLE_OWNER("x"), &req, NULL);
}

static int task_call(steep_management_handler_fn handler, const char *user, const char *role,
                     const char *task_id)
{
    /* Approve/Invoke/Cancel requests share the layout {base, task_id}. */
    TeaclaveFrontendServiceProto__ApproveTaskRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__APPROVE_TASK_REQUEST__INIT;
    req.task_id = (char *)task_id;
    return call(handler, user, role, &req, NULL);
}

#define approve(u, t) task_call(steep_management_approve_task, u, ROLE_OWNER("x"), t)
#define invoke(u, t)  task_call(steep_management_invoke_task, u, ROLE_OWNER("x"), t)
#define cancel(u, t)  task_call(steep_management_cancel_task, u, ROLE_OWNER("x"), t)

static TeaclaveFrontendServiceProto__GetTaskResponse *get_task(const char *user, const char *id)
{
    TeaclaveFrontendServiceProto__GetTaskRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_TASK_REQUEST__INIT;
    req.task_id = (char *)id;
    ProtobufCMessage *resp = NULL;
    assert_int_equal(call(steep_management_get_task, user, ROLE_OWNER("x"), &req, &resp), 0);
    return (TeaclaveFrontendServiceProto__GetTaskResponse *)resp;
}

static int status_of(const char *id, const char *participant)
{
    TeaclaveFrontendServiceProto__GetTaskResponse *t = get_task(participant, id);
    int status = t->status;
    protobuf_c_message_free_unpacked(&t->base, NULL);
    return status;
}

#define ST(x) TEACLAVE_COMMON_PROTO__TASK_STATUS__##x

/* ---- tests ---- */

static void test_ids(void **state)
{
    char id[STEEP_ID_TEXT], uuid[STEEP_UUID_TEXT], parsed[STEEP_UUID_TEXT];
    assert_int_equal(steep_id_new("task", id, uuid), 0);
    assert_int_equal(strlen(id), 5 + 36);
    assert_int_equal(uuid[14], '4');
    assert_int_equal(steep_id_parse(id, "task", parsed), 0);
    assert_string_equal(parsed, uuid);
    assert_int_equal(steep_id_parse(id, "input", parsed), -1);
    assert_int_equal(steep_id_parse("task-XYZ", "task", parsed), -1);
    assert_int_equal(steep_id_parse("task", "task", parsed), -1);
    assert_int_equal(steep_id_parse("task-0F2C0000-0000-4000-8000-00000000000A", "task", parsed),
                     0);
    assert_string_equal(parsed, "0f2c0000-0000-4000-8000-00000000000a");
    /* uuid5(NAMESPACE_DNS, "python.org") from RFC 4122 implementations */
    assert_int_equal(steep_id_user_key("python.org", id), 0);
    assert_string_equal(id, "user-886313e1-3b8a-5372-9b90-0c9aee199e5d");
    /* A stored set with junk in it (found by the fuzzer): sorted, junk dropped. */
    json_error_t error;
    json_t *set = json_loads("{\"uids\":[true,\"b\",null,\"a\",\"b\"]}", 0, &error);
    assert_int_equal(steep_record_set_add(set, "c"), 0);
    char *text = steep_record_dump(set);
    assert_string_equal(text, "{\"uids\":[\"a\",\"b\",\"c\"]}");
    free(text);
    json_decref(set);
}

static void test_single_party_flow(void **state)
{
    char *function = register_function("fo", true, -1, "message*,save_log=true", "", "", "");
    char *task = NULL;
    assert_int_equal(
        create_task("alice", ROLE_OWNER("org1"), function, "{\"message\":\"hi\"}", "", "", &task),
        0);
    TeaclaveFrontendServiceProto__GetTaskResponse *t = get_task("alice", task);
    assert_int_equal(t->status, ST(Created));
    assert_string_equal(t->function_arguments, "{\"message\":\"hi\",\"save_log\":\"true\"}");
    assert_string_equal(t->creator, "alice");
    assert_string_equal(t->function_id, function);
    assert_int_equal(t->n_participants, 1);
    assert_int_equal(t->result->result_case, TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT__NOT_SET);
    protobuf_c_message_free_unpacked(&t->base, NULL);
    assert_int_equal(invoke("alice", task), 0);
    assert_int_equal(status_of(task, "alice"), ST(Staged));
    assert_int_equal(staged_events, 1);
    assert_string_equal(last_event_task, task);
    /* The staged record the scheduler reads. */
    char key[STEEP_ID_TEXT];
    snprintf(key, sizeof key, "staged-%s", task + 5);
    json_t *staged = NULL;
    assert_int_equal(steep_record_load(&m.kv, key, &staged, NULL), STEEP_STORE_OK);
    assert_string_equal(steep_record_string(staged, "function_name"), "builtin-echo");
    assert_string_equal(steep_record_string(staged, "executor"), "Builtin");
    assert_string_equal(steep_record_string(staged, "user_id"), "alice");
    assert_string_equal(
        steep_record_string(steep_record_inner(staged, "function_arguments"), "message"), "hi");
    json_decref(staged);
    /* Invoking again: the task is no longer invokable. */
    assert_int_equal(invoke("alice", task), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), "failed to invoke task");
    free(function);
    free(task);
}

static void test_two_party_flow(void **state)
{
    char *function = register_function("fo", true, -1, "", "a,b", "out", "");
    char *in_a = register_input("alice"), *in_b = register_input("bob");
    char *out = register_output("alice");
    char *task = NULL;
    assert_int_equal(
        create_task("alice", ROLE_OWNER("o"), function, "{}", "a:alice;b:bob", "out:alice", &task),
        0);
    /* bob may not assign alice's file, nor alice bob's slot. */
    assert_int_equal(assign("bob", task, "a", in_a), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(assign("alice", task, "b", in_a), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(assign("carol", task, "a", in_a), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(assign("alice", task, "nope", in_a), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(assign("alice", task, "a", in_a), 0);
    assert_int_equal(assign("alice", task, "a", in_a), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(assign("alice", task, "out", out), 0);
    /* Approval before all data is assigned fails. */
    assert_int_equal(approve("alice", task), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), "failed to approve task");
    assert_int_equal(assign("bob", task, "b", in_b), 0);
    assert_int_equal(status_of(task, "bob"), ST(DataAssigned));
    assert_int_equal(approve("alice", task), 0);
    assert_int_equal(approve("alice", task), STEEP_GRPC_UNKNOWN); /* twice */
    assert_int_equal(approve("carol", task), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(invoke("alice", task), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), "failed to invoke task");
    assert_int_equal(status_of(task, "alice"), ST(DataAssigned));
    assert_int_equal(approve("bob", task), 0);
    assert_int_equal(status_of(task, "alice"), ST(Approved));
    assert_int_equal(invoke("bob", task), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(invoke("alice", task), 0);
    TeaclaveFrontendServiceProto__GetTaskResponse *t = get_task("bob", task);
    assert_int_equal(t->status, ST(Staged));
    assert_int_equal(t->n_assigned_inputs, 2);
    assert_int_equal(t->n_assigned_outputs, 1);
    assert_int_equal(t->n_approved_users, 2);
    protobuf_c_message_free_unpacked(&t->base, NULL);
    /* carol is no participant. */
    TeaclaveFrontendServiceProto__GetTaskRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_TASK_REQUEST__INIT;
    req.task_id = task;
    assert_int_equal(call(steep_management_get_task, "carol", ROLE_OWNER("x"), &req, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    free(function), free(in_a), free(in_b), free(out), free(task);
}

/* Fusion output owned by three, produced by a 3-party task, then an input
 * from it used by a second task. Also optional inputs. */
static void test_three_party_fusion(void **state)
{
    char *function = register_function("fo", false, -1, "", "a,b,c,extra?", "fused", "o");
    TeaclaveFrontendServiceProto__RegisterFusionOutputRequest fusion =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_FUSION_OUTPUT_REQUEST__INIT;
    char *owners[] = {"alice", "bob", "carol"};
    fusion.owner_list = owners;
    fusion.n_owner_list = 1;
    assert_int_equal(call(steep_management_register_fusion_output, "alice", "", &fusion, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    fusion.n_owner_list = 3;
    assert_int_equal(call(steep_management_register_fusion_output, "dave", "", &fusion, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    ProtobufCMessage *resp;
    assert_int_equal(call(steep_management_register_fusion_output, "alice", "", &fusion, &resp), 0);
    char *fused =
        strdup(((TeaclaveFrontendServiceProto__RegisterFusionOutputResponse *)resp)->data_id);
    protobuf_c_message_free_unpacked(resp, NULL);
    char *a = register_input("alice"), *b = register_input("bob"), *c = register_input("carol");
    char *task = NULL;
    /* Wrong owners for the fused output, missing inputs, unknown names. */
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "a:alice;b:bob",
                                 "fused:alice+bob+carol", &task),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_string_equal(steep_error_get(), "invalid task");
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}",
                                 "a:alice;b:bob;c:carol;zzz:alice", "fused:alice+bob+carol", &task),
                     STEEP_GRPC_INVALID_ARGUMENT);
    /* Private function: role attribute "x" is not in the allowlist. */
    assert_int_equal(create_task("alice", ROLE_OWNER("x"), function, "{}", "a:alice;b:bob;c:carol",
                                 "fused:alice+bob+carol", &task),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "a:alice;b:bob;c:carol",
                                 "fused:alice+bob", &task),
                     0);
    /* Declared owners alice+bob, file owned by alice+bob+carol: refused. */
    assert_int_equal(assign("alice", task, "fused", fused), STEEP_GRPC_PERMISSION_DENIED);
    free(task);
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "a:alice;b:bob;c:carol",
                                 "fused:alice+bob+carol", &task),
                     0);
    TeaclaveFrontendServiceProto__GetTaskResponse *t = get_task("carol", task);
    assert_int_equal(t->n_participants, 4); /* + the private function's owner */
    protobuf_c_message_free_unpacked(&t->base, NULL);
    assert_int_equal(assign("alice", task, "a", a), 0);
    assert_int_equal(assign("bob", task, "b", b), 0);
    assert_int_equal(assign("carol", task, "c", c), 0);
    assert_int_equal(assign("carol", task, "fused", fused), 0);
    const char *users[] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(invoke("alice", task), STEEP_GRPC_UNKNOWN);
        assert_int_equal(approve(users[i], task), 0);
    }
    assert_int_equal(status_of(task, "alice"), ST(DataAssigned)); /* fo has not approved */
    assert_int_equal(approve("fo", task), 0);
    assert_int_equal(invoke("alice", task), 0);

    /* Input from an output without a cmac: refused; with one: same uuid. */
    TeaclaveFrontendServiceProto__RegisterInputFromOutputRequest from =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_INPUT_FROM_OUTPUT_REQUEST__INIT;
    from.data_id = fused;
    assert_int_equal(call(steep_management_register_input_from_output, "bob", "", &from, NULL),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_string_equal(steep_error_get(), "invalid output file");
    char key[STEEP_ID_TEXT];
    snprintf(key, sizeof key, "%s", fused);
    json_t *file = NULL;
    assert_int_equal(steep_record_load(&m.kv, key, &file, NULL), STEEP_STORE_OK);
    uint8_t tag[16] = {9, 9, 9};
    json_object_set_new(file, "cmac", json_pack("{s:o}", "tag", steep_record_bytes(tag, 16)));
    assert_int_equal(steep_record_save(&m.kv, key, file), STEEP_STORE_OK);
    json_decref(file);
    assert_int_equal(call(steep_management_register_input_from_output, "dave", "", &from, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(call(steep_management_register_input_from_output, "bob", "", &from, &resp), 0);
    char *fused_input =
        strdup(((TeaclaveFrontendServiceProto__RegisterInputFromOutputResponse *)resp)->data_id);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_string_equal(fused_input + 6, fused + 7);
    /* A used output cannot be assigned again. */
    char *task2 = NULL;
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "a:alice;b:bob;c:carol",
                                 "fused:alice+bob+carol", &task2),
                     0);
    assert_int_equal(assign("alice", task2, "fused", fused), STEEP_GRPC_PERMISSION_DENIED);
    free(task2);

    /* Second task: one input owned by the three (all must take part), the
     * optional input left out. */
    char *consumer = register_function("fo", true, -1, "query*", "data,opt?", "", "");
    assert_int_equal(create_task("bob", ROLE_OWNER("o"), consumer, "{\"query\":\"teaclave\"}",
                                 "data:alice+bob+carol", "", &task2),
                     0);
    assert_int_equal(assign("bob", task2, "data", fused_input), 0);
    assert_int_equal(approve("bob", task2), 0);
    assert_int_equal(approve("alice", task2), 0);
    assert_int_equal(invoke("bob", task2), STEEP_GRPC_UNKNOWN);
    assert_int_equal(approve("carol", task2), 0);
    assert_int_equal(invoke("bob", task2), 0);
    TeaclaveFrontendServiceProto__GetInputFileRequest get =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_INPUT_FILE_REQUEST__INIT;
    get.data_id = fused_input;
    assert_int_equal(call(steep_management_get_input_file, "carol", "", &get, &resp), 0);
    TeaclaveFrontendServiceProto__GetInputFileResponse *info = (void *)resp;
    assert_int_equal(info->n_owner, 3);
    assert_int_equal(info->cmac.len, 16);
    assert_int_equal(info->cmac.data[0], 9);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(call(steep_management_get_input_file, "dave", "", &get, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    free(function), free(fused), free(a), free(b), free(c), free(task), free(fused_input);
    free(consumer), free(task2);
}

static void test_quota(void **state)
{
    char *function = register_function("fo", true, 2, "", "", "", "");
    for (int i = 0; i < 3; i++) {
        char *task = NULL;
        assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "", "", &task), 0);
        if (i < 2) {
            assert_int_equal(invoke("alice", task), 0);
        } else {
            assert_int_equal(invoke("alice", task), STEEP_GRPC_UNKNOWN);
            assert_string_equal(steep_error_get(), "function quota has been used up");
            assert_int_equal(status_of(task, "alice"), ST(Created));
        }
        free(task);
    }
    TeaclaveFrontendServiceProto__GetFunctionUsageStatsRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_FUNCTION_USAGE_STATS_REQUEST__INIT;
    req.function_id = function;
    ProtobufCMessage *resp;
    assert_int_equal(call(steep_management_get_function_usage_stats, "x", "", &req, &resp), 0);
    assert_int_equal(
        ((TeaclaveFrontendServiceProto__GetFunctionUsageStatsResponse *)resp)->function_quota, 2);
    assert_int_equal(
        ((TeaclaveFrontendServiceProto__GetFunctionUsageStatsResponse *)resp)->current_usage, 2);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* Quota 0: never invokable. */
    char *never = register_function("fo", true, 0, "", "", "", "");
    char *task = NULL;
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), never, "{}", "", "", &task), 0);
    assert_int_equal(invoke("alice", task), STEEP_GRPC_UNKNOWN);
    free(function), free(never), free(task);
}

static int count_keys(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                      size_t value_len)
{
    (void)key, (void)key_len, (void)value, (void)value_len;
    (*(int *)arg)++;
    return 0;
}

static int32_t current_usage(const char *function)
{
    TeaclaveFrontendServiceProto__GetFunctionUsageStatsRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_FUNCTION_USAGE_STATS_REQUEST__INIT;
    req.function_id = (char *)function;
    ProtobufCMessage *resp;
    assert_int_equal(call(steep_management_get_function_usage_stats, "x", "", &req, &resp), 0);
    int32_t used =
        ((TeaclaveFrontendServiceProto__GetFunctionUsageStatsResponse *)resp)->current_usage;
    protobuf_c_message_free_unpacked(resp, NULL);
    return used;
}

/* Issue 15: a function without a quota counts each invoke in the stage's
 * own write (a pending record), folded into its usage record later; the
 * count reads the same before and after the fold. */
static void test_usage_without_quota(void **state)
{
    char *function = register_function("fo", true, -1, "", "", "", "");
    for (int i = 0; i < 3; i++) {
        char *task = NULL;
        assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "", "", &task), 0);
        assert_int_equal(invoke("alice", task), 0);
        free(task);
    }
    int pending = 0;
    assert_int_equal(m.kv.keys(m.kv.ctx, "usagepending", count_keys, &pending), STEEP_STORE_OK);
    assert_int_equal(pending, 3);
    assert_int_equal(current_usage(function), 3);
    assert_int_equal(steep_management_usage_fold(&m), 0);
    pending = 0;
    assert_int_equal(m.kv.keys(m.kv.ctx, "usagepending", count_keys, &pending), STEEP_STORE_OK);
    assert_int_equal(pending, 0);
    assert_int_equal(current_usage(function), 3);
    /* Folding again changes nothing; a new use adds to the folded count. */
    assert_int_equal(steep_management_usage_fold(&m), 0);
    char *task = NULL;
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "", "", &task), 0);
    assert_int_equal(invoke("alice", task), 0);
    assert_int_equal(current_usage(function), 4);
    free(task), free(function);
}

/* Issue 14 items 10-12 in process (the attacks themselves run through the
 * frontend in tests/robustness/integrity.py). */
static void test_integrity(void **state)
{
    ProtobufCMessage *resp;
    /* A use reserved for a task that then cannot be staged is given back. */
    char *function = register_function("fo", true, 1, "", "", "", "");
    char *first = NULL, *second = NULL, *third = NULL;
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "", "", &first), 0);
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "", "", &second), 0);
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "", "", &third), 0);
    assert_int_equal(cancel("alice", first), 0);
    assert_int_equal(invoke("alice", first), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), "failed to invoke task");
    assert_int_equal(invoke("alice", second), 0);
    assert_int_equal(invoke("alice", third), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), "function quota has been used up");
    TeaclaveFrontendServiceProto__GetFunctionUsageStatsRequest stats =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_FUNCTION_USAGE_STATS_REQUEST__INIT;
    stats.function_id = function;
    assert_int_equal(call(steep_management_get_function_usage_stats, "x", "", &stats, &resp), 0);
    assert_int_equal(
        ((TeaclaveFrontendServiceProto__GetFunctionUsageStatsResponse *)resp)->current_usage, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    free(function), free(first), free(second), free(third);

    /* An output goes to one task only. */
    function = register_function("fo", true, -1, "", "", "out", "");
    char *out = register_output("alice");
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "", "out:alice", &first),
                     0);
    assert_int_equal(
        create_task("alice", ROLE_OWNER("o"), function, "{}", "", "out:alice", &second), 0);
    assert_int_equal(assign("alice", first, "out", out), 0);
    assert_int_equal(assign("alice", second, "out", out), STEEP_GRPC_UNKNOWN);
    assert_non_null(strstr(steep_error_get(), "an output file is written once"));
    assert_int_equal(status_of(second, "alice"), ST(Created));

    /* A function changed after creation does not run under the task. */
    TeaclaveFrontendServiceProto__UpdateFunctionRequest update =
        TEACLAVE_FRONTEND_SERVICE_PROTO__UPDATE_FUNCTION_REQUEST__INIT;
    update.function_id = function;
    update.name = "builtin-ordered-set-join";
    update.description = "test";
    update.executor_type = "builtin";
    update.public_ = true;
    Output output = TEACLAVE_FRONTEND_SERVICE_PROTO__FUNCTION_OUTPUT__INIT, *outputs[] = {&output};
    output.name = "out";
    output.description = "";
    update.n_outputs = 1;
    update.outputs = outputs;
    update.usage_quota = -1;
    assert_int_equal(call(steep_management_update_function, "fo", "", &update, &resp), 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(invoke("alice", first), STEEP_GRPC_UNKNOWN);
    assert_non_null(strstr(steep_error_get(), "changed after the task was created (name)"));
    assert_int_equal(status_of(first, "alice"), ST(DataAssigned));
    update.name = "builtin-echo";
    assert_int_equal(call(steep_management_update_function, "fo", "", &update, &resp), 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(invoke("alice", first), 0);
    free(function), free(out), free(first), free(second);
}

static void test_function_visibility(void **state)
{
    char *private_fn = register_function("fo", false, -1, "k=v", "", "", "bob");
    TeaclaveFrontendServiceProto__GetFunctionRequest get =
        TEACLAVE_FRONTEND_SERVICE_PROTO__GET_FUNCTION_REQUEST__INIT;
    get.function_id = private_fn;
    ProtobufCMessage *resp;
    assert_int_equal(call(steep_management_get_function, "fo", "FunctionOwner", &get, &resp), 0);
    TeaclaveFrontendServiceProto__GetFunctionResponse *f = (void *)resp;
    assert_int_equal(f->n_user_allowlist, 1);
    assert_string_equal(f->executor_type, "builtin");
    assert_int_equal(f->n_arguments, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(call(steep_management_get_function, "bob", ROLE_OWNER("b"), &get, &resp), 0);
    f = (void *)resp;
    assert_int_equal(f->n_user_allowlist, 0); /* hidden from the allow-listed */
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(call(steep_management_get_function, "eve", ROLE_OWNER("b"), &get, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(call(steep_management_get_function, "root", "PlatformAdmin", &get, NULL), 0);

    TeaclaveFrontendServiceProto__ListFunctionsRequest list =
        TEACLAVE_FRONTEND_SERVICE_PROTO__LIST_FUNCTIONS_REQUEST__INIT;
    list.user_id = "bob";
    assert_int_equal(call(steep_management_list_functions, "bob", "", &list, &resp), 0);
    assert_int_equal(
        ((TeaclaveFrontendServiceProto__ListFunctionsResponse *)resp)->n_allowed_functions, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(call(steep_management_list_functions, "eve", "", &list, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);

    /* Disable: only owner or admin; removes it from the lists. */
    TeaclaveFrontendServiceProto__DisableFunctionRequest disable =
        TEACLAVE_FRONTEND_SERVICE_PROTO__DISABLE_FUNCTION_REQUEST__INIT;
    disable.function_id = private_fn;
    assert_int_equal(call(steep_management_disable_function, "bob", "", &disable, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(
        call(steep_management_disable_function, "root", "PlatformAdmin", &disable, NULL), 0);
    assert_int_equal(call(steep_management_list_functions, "bob", "", &list, &resp), 0);
    assert_int_equal(
        ((TeaclaveFrontendServiceProto__ListFunctionsResponse *)resp)->n_allowed_functions, 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    list.user_id = "fo";
    assert_int_equal(call(steep_management_list_functions, "fo", "", &list, &resp), 0);
    assert_int_equal(
        ((TeaclaveFrontendServiceProto__ListFunctionsResponse *)resp)->n_registered_functions, 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(call(steep_management_get_function, "bob", ROLE_OWNER("b"), &get, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);

    /* Update keeps the id; only the owner. Delete: owner only, then gone. */
    TeaclaveFrontendServiceProto__UpdateFunctionRequest update =
        TEACLAVE_FRONTEND_SERVICE_PROTO__UPDATE_FUNCTION_REQUEST__INIT;
    update.function_id = private_fn;
    update.name = "renamed";
    update.executor_type = "python";
    update.public_ = true;
    assert_int_equal(call(steep_management_update_function, "bob", "", &update, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(call(steep_management_update_function, "fo", "", &update, &resp), 0);
    assert_string_equal(((TeaclaveFrontendServiceProto__UpdateFunctionResponse *)resp)->function_id,
                        private_fn);
    protobuf_c_message_free_unpacked(resp, NULL);
    update.executor_type = "cobol";
    assert_int_equal(call(steep_management_update_function, "fo", "", &update, NULL),
                     STEEP_GRPC_INTERNAL);
    TeaclaveFrontendServiceProto__DeleteFunctionRequest del =
        TEACLAVE_FRONTEND_SERVICE_PROTO__DELETE_FUNCTION_REQUEST__INIT;
    del.function_id = private_fn;
    assert_int_equal(call(steep_management_delete_function, "root", "PlatformAdmin", &del, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(call(steep_management_delete_function, "fo", "", &del, NULL), 0);
    assert_int_equal(call(steep_management_get_function, "fo", "", &get, NULL),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_string_equal(steep_error_get(), "invalid function id");
    char *task = NULL;
    assert_int_equal(create_task("alice", "PlatformAdmin", private_fn, "{}", "", "", &task),
                     STEEP_GRPC_INVALID_ARGUMENT);
    free(private_fn);
}

static void test_bad_inputs(void **state)
{
    char *function = register_function("fo", true, -1, "a*,b=1", "in", "", "");
    char *in = register_input("alice");
    char *task = NULL;
    /* Arguments: missing, extra, fixed ones supplied, not JSON. */
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "in:alice", "", &task),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_int_equal(
        create_task("alice", ROLE_OWNER("o"), function, "{\"a\":1,\"c\":2}", "in:alice", "", &task),
        STEEP_GRPC_INVALID_ARGUMENT);
    assert_int_equal(
        create_task("alice", ROLE_OWNER("o"), function, "{\"a\":1,\"b\":2}", "in:alice", "", &task),
        STEEP_GRPC_INVALID_ARGUMENT);
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "[1]", "in:alice", "", &task),
                     STEEP_GRPC_INTERNAL);
    /* Ownership: undeclared names, missing names. */
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{\"a\":1}",
                                 "in:alice;other:bob", "", &task),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{\"a\":1}", "", "", &task),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_int_equal(
        create_task("alice", ROLE_OWNER("o"), function, "{\"a\":1}", "", "in:alice", &task),
        STEEP_GRPC_INVALID_ARGUMENT);
    /* IDs: malformed, wrong prefix, unknown. */
    assert_int_equal(
        create_task("alice", ROLE_OWNER("o"), "function-nope", "{\"a\":1}", "in:alice", "", &task),
        STEEP_GRPC_INVALID_ARGUMENT);
    assert_string_equal(steep_error_get(), "invalid function id");
    char wrong[STEEP_ID_TEXT];
    snprintf(wrong, sizeof wrong, "task-%s", function + 9);
    assert_int_equal(
        create_task("alice", ROLE_OWNER("o"), wrong, "{\"a\":1}", "in:alice", "", &task),
        STEEP_GRPC_INVALID_ARGUMENT);
    /* Roles that may not create tasks. */
    assert_int_equal(
        create_task("fo", "FunctionOwner", function, "{\"a\":1}", "in:alice", "", &task),
        STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(
        create_task("alice", ROLE_OWNER("o"), function, "{\"a\":[1,2]}", "in:alice", "", &task), 0);
    TeaclaveFrontendServiceProto__GetTaskResponse *t = get_task("alice", task);
    assert_string_equal(t->function_arguments, "{\"a\":[1,2],\"b\":\"1\"}");
    protobuf_c_message_free_unpacked(&t->base, NULL);
    char missing[STEEP_ID_TEXT], uuid[STEEP_UUID_TEXT];
    steep_id_new("task", missing, uuid);
    const char *bad_tasks[] = {"",
                               "task",
                               "task-",
                               "task-123",
                               "input-"
                               "00000000-0000-4000-8000-000000000000",
                               missing};
    for (size_t i = 0; i < sizeof bad_tasks / sizeof *bad_tasks; i++) {
        assert_int_equal(approve("alice", bad_tasks[i]), STEEP_GRPC_INVALID_ARGUMENT);
        assert_string_equal(steep_error_get(), "invalid task id");
        assert_int_equal(invoke("alice", bad_tasks[i]), STEEP_GRPC_INVALID_ARGUMENT);
        assert_int_equal(cancel("alice", bad_tasks[i]), STEEP_GRPC_INVALID_ARGUMENT);
    }
    /* Data ids: wrong prefix (an input id where an output is expected), unknown. */
    char bad_output[STEEP_ID_TEXT];
    snprintf(bad_output, sizeof bad_output, "output-%s", in + 6);
    assert_int_equal(assign("alice", task, "in", "input-zzz"), STEEP_GRPC_INVALID_ARGUMENT);
    assert_string_equal(steep_error_get(), "invalid data id");
    assert_int_equal(assign("alice", task, "in", bad_output), STEEP_GRPC_INVALID_ARGUMENT);
    /* bob's file under alice's name. */
    char *bobs = register_input("bob");
    assert_int_equal(assign("bob", task, "in", bobs), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(assign("alice", task, "in", bobs), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(status_of(task, "alice"), ST(Created));
    assert_int_equal(assign("alice", task, "in", in), 0);
    assert_int_equal(assign("alice", task, "in", in), STEEP_GRPC_UNKNOWN); /* now DataAssigned */
    assert_string_equal(steep_error_get(), "failed to assign data to task");

    /* Files: bad cmac, URL, crypto; updates by non-owners. */
    uint8_t key[32] = {0}, iv[12] = {0}, cmac[16] = {0};
    TeaclaveCommonProto__FileCryptoInfo crypto = TEACLAVE_COMMON_PROTO__FILE_CRYPTO_INFO__INIT;
    crypto.schema = "aes-gcm-256";
    crypto.key = (ProtobufCBinaryData){16, key};
    crypto.iv = (ProtobufCBinaryData){12, iv};
    TeaclaveFrontendServiceProto__RegisterInputFileRequest reg =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_INPUT_FILE_REQUEST__INIT;
    reg.url = "https://x/y";
    reg.cmac = (ProtobufCBinaryData){16, cmac};
    reg.crypto_info = &crypto;
    assert_int_equal(call(steep_management_register_input_file, "a", "", &reg, NULL),
                     STEEP_GRPC_INTERNAL); /* 16-byte key for aes-gcm-256 */
    crypto.key.len = 32;
    assert_int_equal(call(steep_management_register_input_file, "a", "", &reg, NULL), 0);
    reg.cmac.len = 15;
    assert_int_equal(call(steep_management_register_input_file, "a", "", &reg, NULL),
                     STEEP_GRPC_INTERNAL);
    reg.cmac.len = 16;
    reg.url = "not a url";
    assert_int_equal(call(steep_management_register_input_file, "a", "", &reg, NULL),
                     STEEP_GRPC_INTERNAL);
    reg.url = "https://x/y";
    crypto.schema = "teaclave-file-128";
    crypto.key.len = 16;
    assert_int_equal(call(steep_management_register_input_file, "a", "", &reg, NULL),
                     STEEP_GRPC_INTERNAL); /* tf128 takes no iv */
    crypto.schema = "rot13";
    assert_int_equal(call(steep_management_register_input_file, "a", "", &reg, NULL),
                     STEEP_GRPC_INTERNAL);
    reg.crypto_info = NULL;
    assert_int_equal(call(steep_management_register_input_file, "a", "", &reg, NULL),
                     STEEP_GRPC_INTERNAL);
    TeaclaveFrontendServiceProto__UpdateInputFileRequest upd =
        TEACLAVE_FRONTEND_SERVICE_PROTO__UPDATE_INPUT_FILE_REQUEST__INIT;
    upd.data_id = in;
    upd.url = "https://new/url";
    assert_int_equal(call(steep_management_update_input_file, "bob", "", &upd, NULL),
                     STEEP_GRPC_PERMISSION_DENIED);
    ProtobufCMessage *resp;
    assert_int_equal(call(steep_management_update_input_file, "alice", "", &upd, &resp), 0);
    assert_string_not_equal(
        ((TeaclaveFrontendServiceProto__UpdateInputFileResponse *)resp)->data_id, in);
    protobuf_c_message_free_unpacked(resp, NULL);
    free(function), free(in), free(task), free(bobs);
}

static void test_cancel_states(void **state)
{
    char *function = register_function("fo", true, -1, "", "in", "", "");
    char *in = register_input("alice"), *task = NULL;
    /* Created -> Canceled at once. */
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "in:alice", "", &task),
                     0);
    assert_int_equal(cancel("bob", task), STEEP_GRPC_PERMISSION_DENIED);
    assert_int_equal(cancel("alice", task), 0);
    TeaclaveFrontendServiceProto__GetTaskResponse *t = get_task("alice", task);
    assert_int_equal(t->status, ST(Canceled));
    assert_int_equal(t->result->result_case, TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_ERR);
    assert_string_equal(t->result->err->reason, "Task canceled");
    protobuf_c_message_free_unpacked(&t->base, NULL);
    assert_int_equal(canceled_events, 0);
    /* Terminal -> error. */
    assert_int_equal(cancel("alice", task), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(),
                        "failed to cancel task, reason: task has already been canceled");
    assert_int_equal(assign("alice", task, "in", in), STEEP_GRPC_UNKNOWN);
    free(task);
    /* Staged -> Canceled by an admin, scheduler told. */
    assert_int_equal(create_task("alice", ROLE_OWNER("o"), function, "{}", "in:alice", "", &task),
                     0);
    assert_int_equal(assign("alice", task, "in", in), 0);
    assert_int_equal(invoke("alice", task), 0); /* single participant: no approval needed */
    assert_int_equal(task_call(steep_management_cancel_task, "root", "PlatformAdmin", task), 0);
    assert_int_equal(canceled_events, 1);
    assert_string_equal(last_event_task, task);
    t = get_task("alice", task);
    assert_int_equal(t->status, ST(Canceled));
    assert_string_equal(t->result->err->reason, "Task Canceled by the user");
    protobuf_c_message_free_unpacked(&t->base, NULL);
    free(function), free(in), free(task);
}

static void test_storage_restart(void **state)
{
    char *function = register_function("fo", true, -1, "", "a,b", "", "");
    char *a = register_input("alice"), *b = register_input("bob"), *task = NULL;
    assert_int_equal(
        create_task("alice", ROLE_OWNER("o"), function, "{}", "a:alice;b:bob", "", &task), 0);
    assert_int_equal(assign("alice", task, "a", a), 0);
    harness_store_restart(&store);
    assert_int_equal(assign("bob", task, "b", b), 0);
    assert_int_equal(approve("alice", task), 0);
    harness_store_restart(&store);
    assert_int_equal(approve("bob", task), 0);
    assert_int_equal(invoke("alice", task), 0);
    harness_store_restart(&store);
    assert_int_equal(status_of(task, "bob"), ST(Staged));
    free(function), free(a), free(b), free(task);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test_setup_teardown(test_single_party_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_party_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_party_fusion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_function_visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_without_quota, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
