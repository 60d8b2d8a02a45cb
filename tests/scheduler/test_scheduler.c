/*
 * The scheduler's core over the real storage engine, with tasks made by
 * the real management logic: push dispatch to a waiting PullTask, no task
 * to two slots, status and results (Ok -> Finished with cmacs written once,
 * Err -> Failed, malformed -> Failed), heartbeat timeout, cancel while
 * queued and while running (Stop), and restarts of the scheduler and of
 * storage with nothing lost or duplicated.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "harness.h"
#include "management.h"
#include "records.h"
#include "rpc/rpc.h"
#include "scheduler.h"

#define ST(x) TEACLAVE_COMMON_PROTO__TASK_STATUS__##x
#define SLOT1 "11111111-1111-4111-8111-111111111111"
#define SLOT2 "22222222-2222-4222-8222-222222222222"

static struct harness_store store;
static void *policy;
static struct steep_management m;
static struct steep_scheduler *scheduler;
static struct steep_scheduler_config config = {.executor_timeout_ms = 400,
                                               .sweep_interval_ms = 50,
                                               .backstop_ms = 200,
                                               .pull_timeout_ms = 2000};

static void notify(void *arg, enum steep_management_event event, const char *task_id,
                   const struct steep_buf *record)
{
    if (!scheduler)
        return;
    if (event == STEEP_MANAGEMENT_TASK_STAGED)
        steep_scheduler_task_staged(scheduler, task_id, record ? record->data : NULL,
                                    record ? record->len : 0);
    else
        steep_scheduler_task_canceled(scheduler, task_id);
}

static struct steep_kv scheduler_store(void)
{
    return harness_kv(&store); /* the scheduler shares management's storage seam */
}

static void start_scheduler(void)
{
    struct steep_kv s = scheduler_store();
    scheduler = steep_scheduler_new(&s, &config);
    assert_non_null(scheduler);
    assert_int_equal(steep_scheduler_start(scheduler), 0);
}

static int setup(void **state)
{
    harness_store_open(&store);
    policy = harness_policy_load();
    m = (struct steep_management){harness_kv(&store), harness_authorize, policy, notify, NULL, {0}};
    start_scheduler();
    return 0;
}

static char *function_id; /* per store: registered by the first staged_task() */

static int teardown(void **state)
{
    free(function_id);
    function_id = NULL;
    steep_scheduler_free(scheduler);
    scheduler = NULL;
    harness_store_close(&store);
    harness_policy_free(policy);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int call(steep_management_handler_fn handler, const char *user, const void *request,
                ProtobufCMessage **response)
{
    struct steep_management_caller caller = {.id = user, .role = "DataOwner-org"};
    ProtobufCMessage *out = NULL;
    int code = handler(&m, &caller, request, &out);
    if (response)
        *response = out;
    else if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return code;
}

/* A function with one output "out"; returns the output id via *output. */
static char *new_function(void)
{
    TeaclaveFrontendServiceProto__RegisterFunctionRequest req =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_FUNCTION_REQUEST__INIT;
    TeaclaveFrontendServiceProto__FunctionOutput out =
        TEACLAVE_FRONTEND_SERVICE_PROTO__FUNCTION_OUTPUT__INIT;
    TeaclaveFrontendServiceProto__FunctionOutput *outs[] = {&out};
    out.name = "out";
    req.name = "builtin-echo";
    req.executor_type = "builtin";
    req.public_ = true;
    req.usage_quota = -1;
    req.n_outputs = 1;
    req.outputs = outs;
    ProtobufCMessage *resp;
    assert_int_equal(call(steep_management_register_function, "fo", &req, &resp), 0);
    char *id =
        strdup(((TeaclaveFrontendServiceProto__RegisterFunctionResponse *)resp)->function_id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return id;
}

/* A staged single-party task; output_id (may be NULL) gets its output. */
static char *staged_task(char **output_id)
{
    if (!function_id)
        function_id = new_function();
    uint8_t key[16] = {7};
    TeaclaveCommonProto__FileCryptoInfo crypto = TEACLAVE_COMMON_PROTO__FILE_CRYPTO_INFO__INIT;
    crypto.schema = "teaclave-file-128";
    crypto.key = (ProtobufCBinaryData){16, key};
    TeaclaveFrontendServiceProto__RegisterOutputFileRequest reg =
        TEACLAVE_FRONTEND_SERVICE_PROTO__REGISTER_OUTPUT_FILE_REQUEST__INIT;
    reg.url = "file:///tmp/out";
    reg.crypto_info = &crypto;
    ProtobufCMessage *resp;
    assert_int_equal(call(steep_management_register_output_file, "alice", &reg, &resp), 0);
    char *output =
        strdup(((TeaclaveFrontendServiceProto__RegisterOutputFileResponse *)resp)->data_id);
    protobuf_c_message_free_unpacked(resp, NULL);

    TeaclaveFrontendServiceProto__CreateTaskRequest create =
        TEACLAVE_FRONTEND_SERVICE_PROTO__CREATE_TASK_REQUEST__INIT;
    TeaclaveFrontendServiceProto__OwnerList owners =
        TEACLAVE_FRONTEND_SERVICE_PROTO__OWNER_LIST__INIT;
    TeaclaveFrontendServiceProto__OwnerList *owner_lists[] = {&owners};
    char *alice[] = {"alice"};
    owners.data_name = "out";
    owners.uids = alice;
    owners.n_uids = 1;
    create.function_id = function_id;
    create.function_arguments = "{}";
    create.executor = "builtin";
    create.outputs_ownership = owner_lists;
    create.n_outputs_ownership = 1;
    assert_int_equal(call(steep_management_create_task, "alice", &create, &resp), 0);
    char *task = strdup(((TeaclaveFrontendServiceProto__CreateTaskResponse *)resp)->task_id);
    protobuf_c_message_free_unpacked(resp, NULL);

    TeaclaveFrontendServiceProto__AssignDataRequest assign =
        TEACLAVE_FRONTEND_SERVICE_PROTO__ASSIGN_DATA_REQUEST__INIT;
    TeaclaveFrontendServiceProto__DataMap map = TEACLAVE_FRONTEND_SERVICE_PROTO__DATA_MAP__INIT;
    TeaclaveFrontendServiceProto__DataMap *maps[] = {&map};
    map.data_name = "out";
    map.data_id = output;
    assign.task_id = task;
    assign.outputs = maps;
    assign.n_outputs = 1;
    assert_int_equal(call(steep_management_assign_data, "alice", &assign, NULL), 0);
    TeaclaveFrontendServiceProto__InvokeTaskRequest invoke =
        TEACLAVE_FRONTEND_SERVICE_PROTO__INVOKE_TASK_REQUEST__INIT;
    invoke.task_id = task;
    assert_int_equal(call(steep_management_invoke_task, "alice", &invoke, NULL), 0);
    if (output_id)
        *output_id = output;
    else
        free(output);
    return task;
}

static json_t *load(const char *key)
{
    json_t *record = NULL;
    struct steep_kv kv = harness_kv(&store);
    assert_int_equal(steep_record_load(&kv, key, &record, NULL), STEEP_STORE_OK);
    return record;
}

static int status_of(const char *task_id)
{
    json_t *task = load(task_id);
    int status = steep_record_task_status(task);
    json_decref(task);
    return status;
}

static int wait_status(const char *task_id, int status, int within_ms)
{
    int64_t until = now_ms() + within_ms;
    while (status_of(task_id) != status && now_ms() < until)
        usleep(10000);
    return status_of(task_id);
}

static char *pull(const char *slot, int timeout_ms, int *code)
{
    struct steep_buf staged = STEEP_BUF_INIT;
    *code = steep_scheduler_pull(scheduler, slot, timeout_ms, NULL, NULL, &staged);
    char *text = NULL;
    if (*code == 0) {
        steep_buf_terminate(&staged);
        text = strdup((const char *)staged.data);
    }
    steep_buf_free(&staged);
    return text;
}

static char *staged_task_id(const char *staged_json)
{
    json_error_t error;
    json_t *staged = json_loads(staged_json, 0, &error);
    assert_non_null(staged);
    char *id = malloc(64);
    snprintf(id, 64, "task-%s", json_string_value(json_object_get(staged, "task_id")));
    json_decref(staged);
    return id;
}

/* ---- push dispatch ---- */

struct waiter {
    const char *slot;
    char *staged;
    int code;
    int64_t returned_ms;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    w->staged = pull(w->slot, 3000, &w->code);
    w->returned_ms = now_ms();
    return NULL;
}

static void test_push_to_waiting_slot(void **state)
{
    struct waiter w = {SLOT1, NULL, -1, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, waiter_main, &w);
    usleep(100000); /* the slot is waiting */
    int64_t invoked = now_ms();
    char *task = staged_task(NULL);
    pthread_join(thread, NULL);
    assert_int_equal(w.code, 0);
    /* Pushed, not polled: well under any poll interval. */
    assert_true(w.returned_ms - invoked < 500);
    char *pulled = staged_task_id(w.staged);
    assert_string_equal(pulled, task);
    json_t *record = load(task);
    assert_string_equal(json_string_value(json_object_get(record, "executor_id")), SLOT1);
    /* The claim and the move to Running are one write. */
    assert_int_equal(steep_record_task_status(record), ST(Running));
    json_decref(record);
    /* StagedTask JSON as the execution service expects. */
    json_error_t error;
    json_t *staged = json_loads(w.staged, 0, &error);
    assert_string_equal(json_string_value(json_object_get(staged, "function_name")),
                        "builtin-echo");
    assert_non_null(
        json_object_get(json_object_get(json_object_get(staged, "output_data"), "inner"), "out"));
    json_decref(staged);
    /* Nothing else to pull: empty after the timeout. */
    int code;
    assert_null(pull(SLOT2, 100, &code));
    assert_int_equal(code, STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), "task queue is empty");
    free(w.staged), free(pulled), free(task);
}

struct puller {
    char slot[40];
    char *tasks[64];
    int n;
};

static void *puller_main(void *arg)
{
    struct puller *p = arg;
    for (;;) {
        int code;
        char *staged = pull(p->slot, 300, &code);
        if (!staged)
            return NULL;
        p->tasks[p->n++] = staged_task_id(staged);
        free(staged);
        TeaclaveCommonProto__ExecutorCommand command;
        steep_scheduler_heartbeat(scheduler, p->slot, 1, &command);
        /* finish it so the slot is free */
        TeaclaveCommonProto__TaskResult result = TEACLAVE_COMMON_PROTO__TASK_RESULT__INIT;
        TeaclaveCommonProto__TaskOutputs outputs = TEACLAVE_COMMON_PROTO__TASK_OUTPUTS__INIT;
        result.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
        result.ok = &outputs;
        steep_scheduler_update_status(scheduler, p->tasks[p->n - 1], ST(Running), NULL);
        steep_scheduler_update_result(scheduler, p->tasks[p->n - 1], &result);
    }
}

static void test_no_task_to_two_slots(void **state)
{
    enum { TASKS = 24, SLOTS = 4 };
    char *tasks[TASKS];
    for (int i = 0; i < TASKS; i++)
        tasks[i] = staged_task(NULL);
    struct puller pullers[SLOTS];
    pthread_t threads[SLOTS];
    for (int i = 0; i < SLOTS; i++) {
        memset(&pullers[i], 0, sizeof pullers[i]);
        snprintf(pullers[i].slot, sizeof pullers[i].slot, "%08d-0000-4000-8000-000000000000", i);
        pthread_create(&threads[i], NULL, puller_main, &pullers[i]);
    }
    for (int i = 0; i < SLOTS; i++)
        pthread_join(threads[i], NULL);
    int seen = 0;
    for (int t = 0; t < TASKS; t++) {
        int count = 0;
        for (int i = 0; i < SLOTS; i++)
            for (int j = 0; j < pullers[i].n; j++)
                count += strcmp(pullers[i].tasks[j], tasks[t]) == 0;
        if (count != 1) {
            json_t *r = load(tasks[t]);
            char *text = json_dumps(r, 0);
            int q, sl;
            steep_scheduler_counts(scheduler, &q, &sl);
            fprintf(stderr, "task %s pulled %d times, queued %d: %s\n", tasks[t], count, q, text);
            free(text);
            json_decref(r);
        }
        assert_int_equal(count, 1);
        assert_int_equal(status_of(tasks[t]), ST(Finished));
        seen++;
    }
    assert_int_equal(seen, TASKS);
    for (int i = 0; i < SLOTS; i++)
        for (int j = 0; j < pullers[i].n; j++)
            free(pullers[i].tasks[j]);
    for (int t = 0; t < TASKS; t++)
        free(tasks[t]);
}

/* A caller that leaves while its task is being claimed gives it back. */
static bool leaves_after_first_check(void *arg)
{
    return ++*(int *)arg > 1;
}

static void test_caller_gone_during_claim(void **state)
{
    char *task = staged_task(NULL);
    struct steep_buf staged = STEEP_BUF_INIT;
    int checks = 0;
    assert_int_equal(
        steep_scheduler_pull(scheduler, SLOT1, 1000, leaves_after_first_check, &checks, &staged),
        STEEP_GRPC_UNKNOWN);
    assert_int_equal(checks, 2);
    json_t *record = load(task);
    assert_null(json_object_get(record, "executor_id"));
    json_decref(record);
    int code;
    char *again = pull(SLOT2, 1000, &code);
    assert_non_null(again);
    char *id = staged_task_id(again);
    assert_string_equal(id, task);
    record = load(task);
    assert_string_equal(json_string_value(json_object_get(record, "executor_id")), SLOT2);
    json_decref(record);
    steep_buf_free(&staged);
    free(again), free(id), free(task);
}

/* ---- results ---- */

static TeaclaveCommonProto__TaskResult
ok_result(TeaclaveCommonProto__TaskOutputs *outputs,
          TeaclaveCommonProto__TaskOutputs__TagsMapEntry *tag,
          TeaclaveCommonProto__TaskOutputs__TagsMapEntry **tags, uint8_t *cmac, size_t cmac_len)
{
    TeaclaveCommonProto__TaskResult result = TEACLAVE_COMMON_PROTO__TASK_RESULT__INIT;
    teaclave_common_proto__task_outputs__init(outputs);
    teaclave_common_proto__task_outputs__tags_map_entry__init(tag);
    tag->key = "out";
    tag->value = (ProtobufCBinaryData){cmac_len, cmac};
    tags[0] = tag;
    outputs->tags_map = tags;
    outputs->n_tags_map = 1;
    outputs->return_value = (ProtobufCBinaryData){5, (uint8_t *)"hello"};
    result.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
    result.ok = outputs;
    return result;
}

static void test_results(void **state)
{
    char *output = NULL, *task = staged_task(&output);
    int code;
    char *staged = pull(SLOT1, 1000, &code);
    assert_non_null(staged);
    free(staged);
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), NULL), 0);
    assert_int_equal(status_of(task), ST(Running));
    TeaclaveCommonProto__TaskOutputs outputs;
    TeaclaveCommonProto__TaskOutputs__TagsMapEntry tag, *tags[1];
    uint8_t cmac[16] = {0xab, 1, 2, 3};
    TeaclaveCommonProto__TaskResult result = ok_result(&outputs, &tag, tags, cmac, 16);
    assert_int_equal(steep_scheduler_update_result(scheduler, task, &result), 0);
    json_t *record = load(task);
    assert_int_equal(steep_record_task_status(record), ST(Finished));
    json_t *ok = json_object_get(json_object_get(record, "result"), "Ok");
    assert_non_null(ok);
    json_decref(record);
    record = load(output);
    uint8_t stored[16];
    assert_true(steep_record_file_cmac(record, stored));
    assert_memory_equal(stored, cmac, 16);
    json_decref(record);
    /* A result for a finished task is refused; the cmac stays. */
    cmac[0] = 0xcd;
    assert_int_equal(steep_scheduler_update_result(scheduler, task, &result),
                     STEEP_GRPC_FAILED_PRECONDITION);
    record = load(output);
    assert_true(steep_record_file_cmac(record, stored));
    assert_int_equal(stored[0], 0xab);
    json_decref(record);
    free(task), free(output);

    /* Err -> Failed with the reason. */
    task = staged_task(NULL);
    free(pull(SLOT1, 1000, &code));
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), NULL), 0);
    TeaclaveCommonProto__TaskResult err = TEACLAVE_COMMON_PROTO__TASK_RESULT__INIT;
    TeaclaveCommonProto__TaskFailure failure = TEACLAVE_COMMON_PROTO__TASK_FAILURE__INIT;
    failure.reason = "function failed: bad input";
    err.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_ERR;
    err.err = &failure;
    assert_int_equal(steep_scheduler_update_result(scheduler, task, &err), 0);
    record = load(task);
    assert_int_equal(steep_record_task_status(record), ST(Failed));
    assert_string_equal(
        steep_record_string(json_object_get(json_object_get(record, "result"), "Err"), "reason"),
        "function failed: bad input");
    json_decref(record);
    free(task);

    /* Missing result, wrong cmac size: INVALID_ARGUMENT, and the task ends Failed. */
    task = staged_task(NULL);
    free(pull(SLOT1, 1000, &code));
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), NULL), 0);
    assert_int_equal(steep_scheduler_update_result(scheduler, task, NULL),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_int_equal(status_of(task), ST(Failed));
    free(task);
    task = staged_task(&output);
    free(pull(SLOT1, 1000, &code));
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), NULL), 0);
    result = ok_result(&outputs, &tag, tags, cmac, 15);
    assert_int_equal(steep_scheduler_update_result(scheduler, task, &result),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_int_equal(status_of(task), ST(Failed));
    record = load(output);
    assert_false(steep_record_file_cmac(record, NULL));
    json_decref(record);
    /* Unknown and malformed ids. */
    assert_int_equal(steep_scheduler_update_status(scheduler, "task-nope", ST(Running), NULL),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_int_equal(
        steep_scheduler_update_status(scheduler, "00000000-0000-4000-8000-000000000000", 4, NULL),
        STEEP_GRPC_INVALID_ARGUMENT);
    TeaclaveCommonProto__ExecutorCommand command;
    assert_int_equal(steep_scheduler_heartbeat(scheduler, "not-a-uuid", 0, &command),
                     STEEP_GRPC_INTERNAL);
    free(task), free(output);
}

/* ---- timeouts and cancel ---- */

static void test_heartbeat_timeout(void **state)
{
    char *task = staged_task(NULL);
    int code;
    free(pull(SLOT1, 1000, &code));
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), NULL), 0);
    TeaclaveCommonProto__ExecutorCommand command;
    /* Alive while heartbeating past the timeout... */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT1, 1, &command), 0);
        assert_int_equal(command, TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__NoAction);
        usleep(100000);
    }
    assert_int_equal(status_of(task), ST(Running));
    /* ...then silent: Failed after the timeout. */
    assert_int_equal(wait_status(task, ST(Failed), 2000), ST(Failed));
    json_t *record = load(task);
    assert_string_equal(
        steep_record_string(json_object_get(json_object_get(record, "result"), "Err"), "reason"),
        "Runtime Error: Executor Timeout");
    json_decref(record);
    free(task);
    /* Pulled but never started by a live slot: failed too. */
    task = staged_task(NULL);
    free(pull(SLOT2, 1000, &code));
    for (int i = 0; i < 8 && status_of(task) != ST(Failed); i++) {
        steep_scheduler_heartbeat(scheduler, SLOT2, 0, &command);
        usleep(100000);
    }
    assert_int_equal(wait_status(task, ST(Failed), 1000), ST(Failed));
    free(task);
}

static void test_cancel(void **state)
{
    /* Queued: removed from the queue, Canceled. */
    char *task = staged_task(NULL);
    TeaclaveFrontendServiceProto__CancelTaskRequest cancel =
        TEACLAVE_FRONTEND_SERVICE_PROTO__CANCEL_TASK_REQUEST__INIT;
    cancel.task_id = task;
    assert_int_equal(call(steep_management_cancel_task, "alice", &cancel, NULL), 0);
    int queued, slots, code;
    steep_scheduler_counts(scheduler, &queued, &slots);
    assert_int_equal(queued, 0);
    assert_null(pull(SLOT1, 100, &code));
    assert_int_equal(status_of(task), ST(Canceled));
    free(task);
    /* Running: Stop at the slot's next heartbeat, result refused after. */
    task = staged_task(NULL);
    free(pull(SLOT1, 1000, &code));
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), NULL), 0);
    TeaclaveCommonProto__ExecutorCommand command;
    assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT1, 1, &command), 0);
    assert_int_equal(command, TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__NoAction);
    cancel.task_id = task;
    assert_int_equal(call(steep_management_cancel_task, "alice", &cancel, NULL), 0);
    json_t *record = load(task);
    assert_int_equal(steep_record_task_status(record), ST(Canceled));
    assert_string_equal(
        steep_record_string(json_object_get(json_object_get(record, "result"), "Err"), "reason"),
        "Task Canceled by the user");
    json_decref(record);
    assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT2, 1, &command), 0);
    assert_int_equal(command, TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__NoAction);
    assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT1, 1, &command), 0);
    assert_int_equal(command, TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__Stop);
    TeaclaveCommonProto__TaskResult err = TEACLAVE_COMMON_PROTO__TASK_RESULT__INIT;
    TeaclaveCommonProto__TaskFailure failure = TEACLAVE_COMMON_PROTO__TASK_FAILURE__INIT;
    failure.reason = "killed";
    err.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_ERR;
    err.err = &failure;
    assert_int_equal(steep_scheduler_update_result(scheduler, task, &err),
                     STEEP_GRPC_FAILED_PRECONDITION);
    assert_int_equal(status_of(task), ST(Canceled));
    /* Terminal: error from management. */
    assert_int_equal(call(steep_management_cancel_task, "alice", &cancel, NULL),
                     STEEP_GRPC_UNKNOWN);
    free(task);
}

/* A cancel the scheduler was not told about is found by the backstop scan. */
static void test_cancel_backstop(void **state)
{
    char *task = staged_task(NULL);
    int code;
    free(pull(SLOT1, 1000, &code));
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), NULL), 0);
    m.notify = NULL; /* the wake-up is lost */
    TeaclaveFrontendServiceProto__CancelTaskRequest cancel =
        TEACLAVE_FRONTEND_SERVICE_PROTO__CANCEL_TASK_REQUEST__INIT;
    cancel.task_id = task;
    assert_int_equal(call(steep_management_cancel_task, "alice", &cancel, NULL), 0);
    TeaclaveCommonProto__ExecutorCommand command = 0;
    for (int i = 0; i < 30 && command != TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__Stop; i++) {
        usleep(50000);
        assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT1, 1, &command), 0);
    }
    assert_int_equal(command, TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__Stop);
    free(task);
}

/* A claim the slot never acknowledged, by a slot that went silent (its
 * process died with the PullTask answer): given back and run by another
 * slot; the silent slot's late acknowledgement is refused, so the task runs
 * once. */
static void test_lost_claim_given_back(void **state)
{
    steep_scheduler_free(scheduler);
    config.claim_timeout_ms = 150;
    start_scheduler();
    char *task = staged_task(NULL);
    int code;
    char *first = pull(SLOT1, 1000, &code);
    assert_non_null(first);
    free(first);
    assert_int_equal(status_of(task), ST(Running));
    /* SLOT2 waits; SLOT1 stays silent past claim_timeout_ms (< the executor timeout). */
    char *again = pull(SLOT2, 1000, &code);
    assert_non_null(again);
    char *again_id = staged_task_id(again);
    assert_string_equal(again_id, task);
    json_t *record = load(task);
    assert_string_equal(json_string_value(json_object_get(record, "executor_id")), SLOT2);
    json_decref(record);
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), SLOT1),
                     STEEP_GRPC_FAILED_PRECONDITION);
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), SLOT2), 0);
    /* Acknowledged: no longer given back, however long SLOT2 takes to answer. */
    TeaclaveCommonProto__ExecutorCommand command;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT2, 1, &command), 0);
        usleep(100000);
    }
    assert_int_equal(status_of(task), ST(Running));
    assert_null(pull(SLOT1, 100, &code));
    TeaclaveCommonProto__TaskResult result = TEACLAVE_COMMON_PROTO__TASK_RESULT__INIT;
    TeaclaveCommonProto__TaskOutputs outputs = TEACLAVE_COMMON_PROTO__TASK_OUTPUTS__INIT;
    result.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
    result.ok = &outputs;
    assert_int_equal(steep_scheduler_update_result(scheduler, task, &result), 0);
    assert_int_equal(status_of(task), ST(Finished));
    config.claim_timeout_ms = 0;
    free(again), free(again_id), free(task);
}

/* A slot that asks for work again holds no task any more: an unacknowledged
 * claim is queued again (its answer was lost), a started task whose result
 * never came fails instead of staying Running behind a live slot. */
static void test_slot_pulls_again(void **state)
{
    char *task = staged_task(NULL);
    int code;
    free(pull(SLOT1, 1000, &code));
    char *again = pull(SLOT1, 1000, &code);
    assert_non_null(again);
    char *again_id = staged_task_id(again);
    assert_string_equal(again_id, task);
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), SLOT1), 0);
    assert_null(pull(SLOT1, 100, &code));
    assert_int_equal(status_of(task), ST(Failed));
    json_t *record = load(task);
    assert_non_null(strstr(
        steep_record_string(json_object_get(json_object_get(record, "result"), "Err"), "reason"),
        "lost the task"));
    json_decref(record);
    free(again), free(again_id), free(task);
}

/* ---- restarts ---- */

static void test_scheduler_restart(void **state)
{
    char *queued = staged_task(NULL), *running = staged_task(NULL), *lost = staged_task(NULL);
    int code;
    char *first = pull(SLOT1, 1000, &code), *second = pull(SLOT2, 1000, &code);
    char *first_id = staged_task_id(first), *second_id = staged_task_id(second);
    assert_string_equal(first_id, queued); /* FIFO */
    free(first), free(second);
    assert_int_equal(steep_scheduler_update_status(scheduler, first_id, ST(Running), NULL), 0);
    assert_int_equal(steep_scheduler_update_status(scheduler, second_id, ST(Running), NULL), 0);
    /* The scheduler goes away (and storage with it) with: one task queued
     * (lost), two running on SLOT1 and SLOT2. */
    steep_scheduler_free(scheduler);
    scheduler = NULL;
    harness_store_restart(&store);
    m.kv = harness_kv(&store);
    start_scheduler();
    /* The queued one comes back exactly once (to a third slot: SLOT2 asking
     * would say it no longer holds its task, which is then given back). */
    char *again = pull("33333333-3333-4333-8333-333333333333", 1000, &code);
    assert_non_null(again);
    char *again_id = staged_task_id(again);
    assert_string_equal(again_id, lost);
    assert_null(pull("44444444-4444-4444-8444-444444444444", 100, &code));
    /* SLOT1 keeps heartbeating (Executing) and finishes; SLOT2 stays silent
     * and its task fails as never started after the executor timeout. */
    TeaclaveCommonProto__ExecutorCommand command;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT1, 1, &command), 0);
        usleep(100000);
    }
    TeaclaveCommonProto__TaskResult result = TEACLAVE_COMMON_PROTO__TASK_RESULT__INIT;
    TeaclaveCommonProto__TaskOutputs outputs = TEACLAVE_COMMON_PROTO__TASK_OUTPUTS__INIT;
    result.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
    result.ok = &outputs;
    assert_int_equal(steep_scheduler_update_result(scheduler, first_id, &result), 0);
    assert_int_equal(status_of(first_id), ST(Finished));
    assert_int_equal(wait_status(second_id, ST(Failed), 2000), ST(Failed));
    assert_int_equal(wait_status(again_id, ST(Failed), 2000), ST(Failed)); /* never started */
    (void)running;
    free(queued), free(running), free(lost), free(first_id), free(second_id), free(again);
    free(again_id);
}

/* The claim is durable, its acknowledgement is not: a scheduler restarted
 * over a claim whose slot never comes back (its node died with the
 * scheduler, or was replaced) gives the task back after claim_timeout_ms
 * and it runs once elsewhere, where it used to stay Running until the
 * executor timeout failed it; a slot that comes back saying Executing keeps
 * its task and is not timed out as never started. */
static void test_restart_over_claims(void **state)
{
    steep_scheduler_free(scheduler);
    config.claim_timeout_ms = 150;
    config.executor_timeout_ms = 1500;
    start_scheduler();
    char *lost = staged_task(NULL), *kept = staged_task(NULL);
    int code;
    char *a = pull(SLOT1, 1000, &code), *b = pull(SLOT2, 1000, &code);
    char *a_id = staged_task_id(a), *b_id = staged_task_id(b);
    assert_string_equal(a_id, lost);
    assert_string_equal(b_id, kept);
    assert_int_equal(steep_scheduler_update_status(scheduler, kept, ST(Running), SLOT2), 0);
    steep_scheduler_free(scheduler);
    scheduler = NULL;
    start_scheduler();
    /* SLOT2 reports Executing; SLOT1 never speaks again; SLOT3 gets `lost`. */
    TeaclaveCommonProto__ExecutorCommand command;
    assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT2, 1, &command), 0);
    char *again = pull("33333333-3333-4333-8333-333333333333", 1000, &code);
    assert_non_null(again);
    char *again_id = staged_task_id(again);
    assert_string_equal(again_id, lost);
    assert_int_equal(steep_scheduler_update_status(scheduler, lost, ST(Running), SLOT1),
                     STEEP_GRPC_FAILED_PRECONDITION);
    assert_int_equal(steep_scheduler_update_status(scheduler, lost, ST(Running),
                                                   "33333333-3333-4333-8333-333333333333"),
                     0);
    /* Past the executor timeout with heartbeats: `kept` is still SLOT2's. */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT2, 1, &command), 0);
        assert_int_equal(steep_scheduler_heartbeat(
                             scheduler, "33333333-3333-4333-8333-333333333333", 1, &command),
                         0);
        usleep(100000);
    }
    assert_int_equal(status_of(kept), ST(Running));
    assert_int_equal(status_of(lost), ST(Running));
    TeaclaveCommonProto__TaskResult result = TEACLAVE_COMMON_PROTO__TASK_RESULT__INIT;
    TeaclaveCommonProto__TaskOutputs outputs = TEACLAVE_COMMON_PROTO__TASK_OUTPUTS__INIT;
    result.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
    result.ok = &outputs;
    assert_int_equal(steep_scheduler_update_result(scheduler, kept, &result), 0);
    assert_int_equal(steep_scheduler_update_result(scheduler, lost, &result), 0);
    assert_int_equal(status_of(kept), ST(Finished));
    assert_int_equal(status_of(lost), ST(Finished));
    config.claim_timeout_ms = 0;
    config.executor_timeout_ms = 400;
    free(a), free(b), free(a_id), free(b_id), free(again), free(again_id), free(lost), free(kept);
}

/* A new leader (or a restarted scheduler) over a claim whose PullTask
 * answer died with the previous one: the slot is alive and says Idle, so
 * the task is given back at the next sweep and runs once elsewhere, long
 * before claim_timeout_ms or the executor timeout; the slot's late
 * acknowledgement is refused. */
static void test_new_leader_over_idle_claim(void **state)
{
    steep_scheduler_free(scheduler);
    config.claim_timeout_ms = 20000;
    config.executor_timeout_ms = 30000;
    start_scheduler();
    char *task = staged_task(NULL);
    int code;
    char *a = pull(SLOT1, 1000, &code);
    char *a_id = staged_task_id(a);
    assert_string_equal(a_id, task);
    steep_scheduler_free(scheduler); /* the leader dies before SLOT1 got the answer */
    scheduler = NULL;
    start_scheduler();
    TeaclaveCommonProto__ExecutorCommand command;
    assert_int_equal(steep_scheduler_heartbeat(scheduler, SLOT1, 0, &command), 0); /* Idle */
    char *again = pull("33333333-3333-4333-8333-333333333333", 2000, &code);
    assert_non_null(again);
    char *again_id = staged_task_id(again);
    assert_string_equal(again_id, task);
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running), SLOT1),
                     STEEP_GRPC_FAILED_PRECONDITION);
    assert_int_equal(steep_scheduler_update_status(scheduler, task, ST(Running),
                                                   "33333333-3333-4333-8333-333333333333"),
                     0);
    config.claim_timeout_ms = 0;
    config.executor_timeout_ms = 400;
    free(a), free(a_id), free(again), free(again_id), free(task);
}

/* Durable starts (scheduler replicas): the acknowledgement is stored
 * ("started") before the slot is answered, so after a restart (or a new
 * leader) a started task whose slot stays silent fails with Executor
 * Timeout and is never given back to run a second time, while a claim
 * never acknowledged is given back after claim_timeout_ms as before. */
static void test_durable_start_over_restart(void **state)
{
    steep_scheduler_free(scheduler);
    config.claim_timeout_ms = 150;
    config.executor_timeout_ms = 1500;
    config.durable_start = true;
    start_scheduler();
    char *started = staged_task(NULL), *claimed = staged_task(NULL);
    int code;
    char *a = pull(SLOT1, 1000, &code), *b = pull(SLOT2, 1000, &code);
    char *a_id = staged_task_id(a), *b_id = staged_task_id(b);
    assert_string_equal(a_id, started);
    assert_string_equal(b_id, claimed);
    assert_int_equal(steep_scheduler_update_status(scheduler, started, ST(Running), SLOT1), 0);
    /* A repeated acknowledgement (a retry) is accepted and changes nothing. */
    assert_int_equal(steep_scheduler_update_status(scheduler, started, ST(Running), SLOT1), 0);
    json_t *record = load(started);
    assert_true(json_is_true(json_object_get(record, "started")));
    json_decref(record);
    record = load(claimed);
    assert_null(json_object_get(record, "started"));
    json_decref(record);
    steep_scheduler_free(scheduler); /* the leader dies; SLOT1's host with it */
    scheduler = NULL;
    start_scheduler();
    /* Neither slot speaks again: only the unacknowledged claim comes back. */
    char *again = pull("33333333-3333-4333-8333-333333333333", 1000, &code);
    assert_non_null(again);
    char *again_id = staged_task_id(again);
    assert_string_equal(again_id, claimed);
    assert_int_equal(steep_scheduler_update_status(scheduler, claimed, ST(Running), SLOT2),
                     STEEP_GRPC_FAILED_PRECONDITION);
    assert_int_equal(steep_scheduler_update_status(scheduler, claimed, ST(Running),
                                                   "33333333-3333-4333-8333-333333333333"),
                     0);
    char *none = pull("44444444-4444-4444-8444-444444444444", 1000, &code);
    assert_null(none);
    assert_int_equal(code, STEEP_GRPC_UNKNOWN);
    assert_int_equal(wait_status(started, ST(Failed), 3000), ST(Failed));
    record = load(started);
    assert_string_equal(
        steep_record_string(json_object_get(json_object_get(record, "result"), "Err"), "reason"),
        "Runtime Error: Executor Timeout");
    assert_string_equal(steep_record_string(record, "executor_id"), SLOT1);
    json_decref(record);
    /* The dead slot's late acknowledgement is refused. */
    assert_int_equal(steep_scheduler_update_status(scheduler, started, ST(Running), SLOT1),
                     STEEP_GRPC_FAILED_PRECONDITION);
    config.claim_timeout_ms = 0;
    config.executor_timeout_ms = 400;
    config.durable_start = false;
    free(a), free(b), free(a_id), free(b_id), free(again), free(again_id), free(started),
        free(claimed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_to_waiting_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_task_to_two_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caller_gone_during_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_backstop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_claim_given_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_pulls_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scheduler_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_over_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_leader_over_idle_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_start_over_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
