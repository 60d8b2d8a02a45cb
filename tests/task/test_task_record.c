/*
 * The typed task record: stored TaskState JSON in the exact form earlier
 * code wrote it (management's creation, the scheduler's claim and result,
 * a cancel, and records with members or shapes the struct does not know)
 * decodes, keeps its typed fields, and encodes to the same bytes;
 * steep_task_update changes a stored record by compare-and-swap;
 * steep_task_read loads one typed with its stored bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "task/task.h"

/* As build_task (services/management/tasks.c) stored a new task. */
static const char created[] =
    "{\"approved_users\":{\"uids\":[]},\"assigned_inputs\":{\"inner\":{}},\"assigned_outputs\":{"
    "\"inner\":{}},\"creator\":\"alice\",\"executor\":\"builtin\",\"function_arguments\":{"
    "\"inner\":{\"message\":\"h\xc3\xa9llo \\\"x\\\"\"}},\"function_content\":\"0a1b\","
    "\"function_id\":{\"prefix\":\"function\",\"uuid\":\"3f1e\"},\"function_owner\":\"fred\","
    "\"inputs_ownership\":{\"inner\":{}},\"outputs_ownership\":{\"inner\":{\"out\":{\"uids\":["
    "\"alice\"]}}},\"participants\":{\"uids\":[\"alice\",\"fred\"]},\"result\":\"NotReady\","
    "\"status\":\"Created\",\"task_id\":\"9c2d\"}";

/* As the scheduler stored a result (results.c store_result) after a claim. */
static const char finished[] =
    "{\"approved_users\":{\"uids\":[\"alice\"]},\"assigned_inputs\":{\"inner\":{}},"
    "\"assigned_outputs\":{\"inner\":{\"out\":{\"cmac\":{\"tag\":[1,2,255]},\"crypto_info\":{"
    "\"TeaclaveFile128\":{\"key\":[7,8]}},\"owner\":{\"uids\":[\"alice\"]},\"url\":\"file:///o\","
    "\"uuid\":\"o1\"}}},\"creator\":\"alice\",\"executor\":\"builtin\",\"executor_id\":\"slot-1\","
    "\"function_arguments\":{\"inner\":{}},\"function_id\":{\"prefix\":\"function\",\"uuid\":"
    "\"3f1e\"},\"function_owner\":\"fred\",\"inputs_ownership\":{\"inner\":{}},"
    "\"outputs_ownership\":{\"inner\":{\"out\":{\"uids\":[\"alice\"]}}},\"participants\":{"
    "\"uids\":[\"alice\"]},\"result\":{\"Ok\":{\"log\":[\"one\",\"two\"],\"return_value\":[104,"
    "105],\"tags_map\":{\"inner\":{\"out\":{\"tag\":[1,2,255]}}}}},\"status\":\"Finished\","
    "\"task_id\":\"9c2d\"}";

static const char canceled[] = "{\"creator\":\"bob\",\"result\":{\"Err\":{\"reason\":\"Task "
                               "Canceled by the user\"}},\"status\":\"Canceled\",\"task_id\":"
                               "\"77\"}";

/* Members and shapes the struct does not type stay as they were. */
static const char unusual[] = "{\"executor_id\":null,\"function_id\":{\"prefix\":\"other\","
                              "\"uuid\":\"1\"},\"later\":[1,{\"a\":true}],\"result\":{\"Ok\":7},"
                              "\"status\":\"Weird\",\"task_id\":5}";

static void assert_same_bytes(const char *stored, struct steep_task *task)
{
    assert_int_equal(steep_task_decode(stored, strlen(stored), task), 0);
    char *again = steep_task_encode(task);
    assert_non_null(again);
    assert_string_equal(again, stored);
    free(again);
}

static void test_old_records_keep_their_bytes(void **state)
{
    (void)state;
    struct steep_task task;
    assert_same_bytes(created, &task);
    assert_string_equal(task.task_id, "9c2d");
    assert_string_equal(task.creator, "alice");
    assert_string_equal(task.function_uuid, "3f1e");
    assert_string_equal(task.function_owner, "fred");
    assert_null(task.executor_id);
    assert_int_equal(task.status, 0); /* Created */
    assert_int_equal(task.result.kind, STEEP_TASK_RESULT_NOT_READY);
    assert_string_equal(json_string_value(task.function_content), "0a1b");
    assert_null(json_object_get(task.rest, "function_content"));
    steep_task_clear(&task);

    assert_same_bytes(finished, &task);
    assert_string_equal(task.executor_id, "slot-1");
    assert_int_equal(task.status, steep_task_status_value("Finished"));
    assert_int_equal(task.result.kind, STEEP_TASK_RESULT_OK);
    assert_int_equal(task.result.value.len, 2);
    assert_memory_equal(task.result.value.data, "hi", 2);
    assert_int_equal(task.result.n_tags, 1);
    assert_string_equal(task.result.tags[0].name, "out");
    assert_int_equal(task.result.n_log, 2);
    assert_string_equal(task.result.log[1], "two");
    steep_task_clear(&task);

    assert_same_bytes(canceled, &task);
    assert_int_equal(task.result.kind, STEEP_TASK_RESULT_ERR);
    assert_string_equal(task.result.reason, "Task Canceled by the user");
    steep_task_clear(&task);

    assert_same_bytes(unusual, &task);
    assert_null(task.task_id);
    assert_null(task.function_uuid);
    assert_int_equal(task.status, -1);
    assert_int_equal(task.result.kind, STEEP_TASK_RESULT_UNTYPED);
    steep_task_clear(&task);

    assert_int_equal(steep_task_decode("[1]", 3, &task), -1);
    assert_int_equal(steep_task_decode("{", 1, &task), -1);
}

/* Steep's "started" (durable starts): stored only when true, so a record
 * without it keeps its bytes; any other stored value stays untyped. */
static void test_started_member(void **state)
{
    (void)state;
    struct steep_task task;
    assert_int_equal(steep_task_decode(created, strlen(created), &task), 0);
    assert_false(task.started);
    task.started = true;
    char *text = steep_task_encode(&task);
    steep_task_clear(&task);
    json_error_t error;
    json_t *want = json_loads(created, 0, &error);
    json_object_set_new(want, "started", json_true());
    char *expected = steep_task_record_dump(want);
    assert_string_equal(text, expected);
    assert_same_bytes(text, &task);
    assert_true(task.started);
    assert_null(json_object_get(task.rest, "started"));
    steep_task_clear(&task);
    free(text);
    free(expected);
    json_object_set_new(want, "started", json_false());
    expected = steep_task_record_dump(want);
    assert_same_bytes(expected, &task);
    assert_false(task.started);
    steep_task_clear(&task);
    free(expected);
    json_object_set_new(want, "started", json_string("yes"));
    expected = steep_task_record_dump(want);
    assert_same_bytes(expected, &task);
    assert_false(task.started);
    steep_task_clear(&task);
    free(expected);
    json_decref(want);
}

/* Setting what the scheduler sets gives the bytes its JSON code wrote. */
static void test_typed_changes_write_the_old_form(void **state)
{
    (void)state;
    struct steep_task task;
    assert_int_equal(steep_task_decode(created, strlen(created), &task), 0);
    assert_int_equal(steep_task_set_string(&task.executor_id, "slot-1"), 0);
    task.status = steep_task_status_value("Running");
    char *text = steep_task_encode(&task);
    json_error_t error;
    json_t *want = json_loads(created, 0, &error);
    json_object_set_new(want, "executor_id", json_string("slot-1"));
    json_object_set_new(want, "status", json_string("Running"));
    char *expected = steep_task_record_dump(want);
    assert_string_equal(text, expected);
    free(text);
    free(expected);

    assert_int_equal(steep_task_set_error(&task, "Runtime Error: lost"), 0);
    task.status = steep_task_status_value("Failed");
    text = steep_task_encode(&task);
    json_object_set_new(want, "result",
                        json_pack("{s:{s:s}}", "Err", "reason", "Runtime Error: lost"));
    json_object_set_new(want, "status", json_string("Failed"));
    expected = steep_task_record_dump(want);
    assert_string_equal(text, expected);
    free(text);
    free(expected);
    json_decref(want);
    steep_task_clear(&task);
}

struct fail_arg {
    const char *reason;
    int calls;
};

static int fail_running(struct steep_task *task, void *arg)
{
    struct fail_arg *a = arg;
    a->calls++;
    if (task->status != steep_task_status_value("Running"))
        return 1;
    task->status = steep_task_status_value("Failed");
    return steep_task_set_error(task, a->reason);
}

static void test_update_over_storage(void **state)
{
    (void)state;
    struct harness_store h;
    harness_store_open(&h);
    struct steep_kv kv = harness_kv(&h);
    assert_int_equal(kv.put(kv.ctx, "task-77", finished, strlen(finished)), 0);
    struct fail_arg arg = {"x", 0};
    /* Finished: nothing to do, nothing written */
    assert_int_equal(steep_task_update(&kv, "task-77", fail_running, &arg, NULL), 0);
    struct steep_buf value = STEEP_BUF_INIT;
    assert_int_equal(kv.get(kv.ctx, "task-77", &value), 0);
    assert_int_equal(value.len, strlen(finished));
    assert_memory_equal(value.data, finished, value.len);

    struct steep_task task;
    assert_int_equal(steep_task_decode(finished, strlen(finished), &task), 0);
    task.status = steep_task_status_value("Running");
    char *running = steep_task_encode(&task);
    steep_task_clear(&task);
    assert_int_equal(kv.put(kv.ctx, "task-77", running, strlen(running)), 0);
    free(running);
    arg.reason = "Runtime Error: executor timeout";
    assert_int_equal(steep_task_update(&kv, "task-77", fail_running, &arg, NULL), 0);
    assert_int_equal(kv.get(kv.ctx, "task-77", &value), 0);
    assert_int_equal(steep_task_decode(value.data, value.len, &task), 0);
    assert_int_equal(task.status, steep_task_status_value("Failed"));
    assert_string_equal(task.result.reason, "Runtime Error: executor timeout");
    assert_string_equal(task.executor_id, "slot-1");
    steep_task_clear(&task);
    assert_int_equal(steep_task_update(&kv, "task-missing", fail_running, &arg, NULL),
                     STEEP_TASK_RECORD_MISSING);
    steep_buf_free(&value);
    harness_store_close(&h);
}

/* Claims the task for arg (as the scheduler's claim) and touches an
 * open-ended part, or stops with 2 when it is not Staged: a stop writes
 * nothing, even though the update changed the parts it was given. */
static int claim_or_stop(struct steep_task *task, void *arg)
{
    json_object_set_new(task->participants, "touched", json_true());
    if (task->status != steep_task_status_value("Staged"))
        return 2;
    task->status = steep_task_status_value("Running");
    return steep_task_set_string(&task->executor_id, arg);
}

static void test_read_and_update_with_known_bytes(void **state)
{
    (void)state;
    struct harness_store h;
    harness_store_open(&h);
    struct steep_kv kv = harness_kv(&h);
    struct steep_task task;
    struct steep_buf raw = STEEP_BUF_INIT;
    assert_int_equal(steep_task_read(&kv, "task-1", &task, &raw), STEEP_STORE_NOT_FOUND);
    assert_int_equal(task.status, -1);
    steep_task_clear(&task);
    assert_int_equal(kv.put(kv.ctx, "task-1", "[1,2]", 5), 0);
    assert_int_equal(steep_task_read(&kv, "task-1", &task, &raw), STEEP_STORE_ERROR);
    steep_task_clear(&task);

    /* Read: typed, and raw holds exactly the stored bytes. */
    assert_int_equal(kv.put(kv.ctx, "task-1", created, strlen(created)), 0);
    assert_int_equal(steep_task_read(&kv, "task-1", &task, &raw), STEEP_STORE_OK);
    assert_string_equal(task.task_id, "9c2d");
    assert_string_equal(json_string_value(task.function_content), "0a1b");
    assert_int_equal(raw.len, strlen(created));
    assert_memory_equal(raw.data, created, raw.len);

    /* A stop writes nothing. */
    struct steep_task_record_options opt = {.known = &raw};
    assert_int_equal(steep_task_update(&kv, "task-1", claim_or_stop, "slot-2", &opt), 2);
    struct steep_buf value = STEEP_BUF_INIT;
    assert_int_equal(kv.get(kv.ctx, "task-1", &value), 0);
    assert_int_equal(value.len, strlen(created));
    assert_memory_equal(value.data, created, value.len);

    /* Stale known bytes (Staged, then approved once more meanwhile): the
     * update accepts them, the swap with them fails, the loop reads the
     * record again and claims that one; the known buffer is the caller's
     * and is left as it was. */
    task.status = steep_task_status_value("Staged");
    char *known = steep_task_encode(&task);
    json_array_append_new(json_object_get(task.approved_users, "uids"), json_string("bob"));
    char *staged = steep_task_encode(&task);
    raw.len = 0;
    assert_int_equal(steep_buf_append(&raw, known, strlen(known)), 0);
    assert_int_equal(kv.put(kv.ctx, "task-1", staged, strlen(staged)), 0);
    struct steep_buf written = STEEP_BUF_INIT;
    opt.written = &written;
    assert_int_equal(steep_task_update(&kv, "task-1", claim_or_stop, "slot-2", &opt), 0);
    assert_int_equal(raw.len, strlen(known));
    assert_memory_equal(raw.data, known, raw.len);
    free(known);
    json_error_t error;
    json_t *want = json_loads(staged, 0, &error);
    json_object_set_new(want, "executor_id", json_string("slot-2"));
    json_object_set_new(want, "status", json_string("Running"));
    json_object_set_new(json_object_get(want, "participants"), "touched", json_true());
    char *expected = steep_task_record_dump(want);
    assert_int_equal(kv.get(kv.ctx, "task-1", &value), 0);
    assert_int_equal(value.len, strlen(expected));
    assert_memory_equal(value.data, expected, value.len);
    assert_int_equal(written.len, strlen(expected));
    assert_memory_equal(written.data, expected, written.len);
    free(expected);
    free(staged);
    json_decref(want);
    steep_task_clear(&task);
    steep_buf_free(&value);
    steep_buf_free(&written);
    steep_buf_free(&raw);
    harness_store_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_records_keep_their_bytes),
        cmocka_unit_test(test_typed_changes_write_the_old_form),
        cmocka_unit_test(test_started_member),
        cmocka_unit_test(test_update_over_storage),
        cmocka_unit_test(test_read_and_update_with_known_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
