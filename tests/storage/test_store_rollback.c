/*
 * Rollback and swap on the etcd back-end (issue 17 item 2): records are
 * changed behind the store's back with etcdctl, as a malicious etcd
 * operator would, and the store must refuse them with an error naming the
 * key: an old ciphertext written back, a value moved to another key, a
 * record deleted, an old value written over a deleted one, and a queue's
 * head counter rolled back (which would hand an element out twice). A
 * store opened afresh, knowing no versions, accepts an old ciphertext: the
 * residual rollback etcd_store.h documents, asserted so it stays known.
 * A store opened under another sealing key is refused at open.
 * Needs the cluster of test_store_etcd.sh (store_etcd_env.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "helpers.h"
#include "store/store.h"
#include "store_etcd_env.h"

static const uint8_t test_key[STEEP_STORE_KEY_BYTES] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

struct fixture {
    char *prefix;
    char *dir; /* etcdctl's scratch files */
    struct steep_store *store;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->prefix = test_etcd_prefix("rollback");
    f->dir = test_temp_dir("rollback");
    assert_non_null(f->dir);
    if (test_etcd_open(f->prefix, test_key, STEEP_STORE_CREATE, &f->store) != 0)
        fail_msg("open: %s", steep_error_get());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    steep_store_close(f->store);
    test_remove_tree(f->dir);
    free(f->dir);
    free(f->prefix);
    free(f);
    return 0;
}

/* etcdctl with the cluster's TLS files; the command's exit status. */
static int etcdctl(const char *args)
{
    char command[2048];
    snprintf(command, sizeof command,
             "ETCDCTL_API=3 /usr/bin/etcdctl --endpoints='%s' --cacert='%s' --cert='%s' "
             "--key='%s' %s",
             getenv("STEEP_TEST_ETCD_ENDPOINTS"), getenv("STEEP_TEST_ETCD_CA"),
             getenv("STEEP_TEST_ETCD_CERT"), getenv("STEEP_TEST_ETCD_KEY"), args);
    return system(command);
}

/* Saves the raw (sealed) value of the etcd key for ikey ("u" + key ...) in file. */
static void save_raw(struct fixture *f, const char *ikey, const char *name)
{
    char args[1024], path[600];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    snprintf(args, sizeof args, "get '%s%s' --print-value-only > '%s'", f->prefix, ikey, path);
    assert_int_equal(etcdctl(args), 0);
    long size = test_file_size(path);
    assert_true(size > 1);
    assert_int_equal(truncate(path, size - 1), 0); /* etcdctl's newline */
}

static void write_raw(struct fixture *f, const char *ikey, const char *name)
{
    char args[1024];
    snprintf(args, sizeof args, "put '%s%s' < '%s/%s' > /dev/null", f->prefix, ikey, f->dir, name);
    assert_int_equal(etcdctl(args), 0);
}

static void put(struct steep_store *s, const char *key, const char *value)
{
    assert_int_equal(steep_store_put(s, key, strlen(key), value, strlen(value)), STEEP_STORE_OK);
}

static void expect_stored(struct steep_store *s, const char *key, const char *want)
{
    struct steep_buf value = STEEP_BUF_INIT;
    assert_int_equal(steep_store_get(s, key, strlen(key), &value), STEEP_STORE_OK);
    assert_int_equal(value.len, strlen(want));
    assert_memory_equal(value.data, want, value.len);
    steep_buf_free(&value);
}

static void expect_refused(struct steep_store *s, const char *key, const char *why)
{
    struct steep_buf value = STEEP_BUF_INIT;
    assert_int_equal(steep_store_get(s, key, strlen(key), &value), STEEP_STORE_ERROR);
    const char *error = steep_error_get();
    char named[128];
    snprintf(named, sizeof named, "'%s'", key);
    if (!strstr(error, named) || !strstr(error, why))
        fail_msg("error '%s' should name %s and say '%s'", error, named, why);
    steep_buf_free(&value);
}

static int ignore_record(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                         size_t value_len)
{
    return 0;
}

static void test_old_ciphertext_refused(void **state)
{
    struct fixture *f = *state;
    put(f->store, "task-1", "Created");
    save_raw(f, "utask-1", "v1");
    put(f->store, "task-1", "Approved");
    put(f->store, "task-1", "Finished");
    expect_stored(f->store, "task-1", "Finished");
    write_raw(f, "utask-1", "v1"); /* behind the store's back */
    expect_refused(f->store, "task-1", "rolled back");
    /* a scan refuses it too, and so does a write that would build on it */
    assert_int_equal(steep_store_scan(f->store, "task", 4, ignore_record, NULL), -1);
    struct steep_store_cas cas = {.key = "task-1",
                                  .key_len = 6,
                                  .expected = "Created",
                                  .expected_len = 7,
                                  .value = "Running",
                                  .value_len = 7};
    assert_int_equal(steep_store_compare_and_swap(f->store, &cas), STEEP_STORE_ERROR);
    assert_false(cas.swapped);

    /* The residual rollback: a store that has seen no versions (every
     * replica restarted) cannot tell the old record from the newest. */
    struct steep_store *fresh = NULL;
    assert_int_equal(test_etcd_open(f->prefix, test_key, 0, &fresh), 0);
    expect_stored(fresh, "task-1", "Created");
    steep_store_close(fresh);
}

static void test_moved_value_refused(void **state)
{
    struct fixture *f = *state;
    put(f->store, "user-alice", "role=PlatformAdmin");
    put(f->store, "user-mallory", "role=DataOwner");
    save_raw(f, "uuser-alice", "alice");
    write_raw(f, "uuser-mallory", "alice");
    expect_refused(f->store, "user-mallory", "failed authentication");
    expect_stored(f->store, "user-alice", "role=PlatformAdmin");
}

static void test_deleted_record_refused(void **state)
{
    struct fixture *f = *state;
    put(f->store, "function-1", "echo");
    char args[512];
    snprintf(args, sizeof args, "del '%sufunction-1' > /dev/null", f->prefix);
    assert_int_equal(etcdctl(args), 0);
    expect_refused(f->store, "function-1", "vanished");

    /* a delete through the store is a sealed tombstone: an old value written
     * over it is a rollback */
    put(f->store, "input-1", "url-a");
    save_raw(f, "uinput-1", "input");
    assert_int_equal(steep_store_delete(f->store, "input-1", 7), STEEP_STORE_OK);
    struct steep_buf value = STEEP_BUF_INIT;
    assert_int_equal(steep_store_get(f->store, "input-1", 7, &value), STEEP_STORE_NOT_FOUND);
    write_raw(f, "uinput-1", "input");
    expect_refused(f->store, "input-1", "rolled back");
    steep_buf_free(&value);
}

/* Raw access to etcd outside the store, for keys etcdctl cannot name (queue
 * keys hold NUL bytes): our etcd client with a plain Range and Put. */
static struct steep_etcd *raw_open(void)
{
    struct steep_etcd_config config;
    const char *endpoints[STEEP_ETCD_MAX_ENDPOINTS];
    char *copy = NULL;
    struct steep_etcd *etcd = NULL;
    test_etcd_config(&config, &copy, endpoints);
    assert_int_equal(steep_etcd_open(&config, &etcd), 0);
    free(copy);
    return etcd;
}

static void raw_get(struct steep_etcd *etcd, const struct steep_buf *key, struct steep_buf *out)
{
    Etcdserverpb__RangeRequest request = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RangeResponse *response = NULL;
    request.key = (ProtobufCBinaryData){key->len, key->data};
    assert_int_equal(steep_etcd_range(etcd, &request, &response), 0);
    assert_int_equal(response->n_kvs, 1);
    steep_buf_reset(out);
    assert_int_equal(
        steep_buf_append(out, response->kvs[0]->value.data, response->kvs[0]->value.len), 0);
    protobuf_c_message_free_unpacked(&response->base, NULL);
}

static void raw_put(struct steep_etcd *etcd, const struct steep_buf *key,
                    const struct steep_buf *value)
{
    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT;
    Etcdserverpb__RequestOp *ops[] = {&op};
    Etcdserverpb__TxnRequest request = ETCDSERVERPB__TXN_REQUEST__INIT;
    Etcdserverpb__TxnResponse *response = NULL;
    put.key = (ProtobufCBinaryData){key->len, key->data};
    put.value = (ProtobufCBinaryData){value->len, value->data};
    op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op.request_put = &put;
    request.success = ops;
    request.n_success = 1;
    assert_int_equal(steep_etcd_txn(etcd, &request, &response), 0);
    assert_true(response->succeeded);
    protobuf_c_message_free_unpacked(&response->base, NULL);
}

/* prefix + "q" + u32be(len) + name + part [+ u64be index] (lib/store/records.h) */
static void queue_key(struct fixture *f, const char *name, char part, uint64_t index,
                      struct steep_buf *out)
{
    steep_buf_reset(out);
    assert_int_equal(steep_buf_append(out, f->prefix, strlen(f->prefix)), 0);
    assert_int_equal(steep_buf_append_u8(out, 'q'), 0);
    assert_int_equal(steep_buf_append_u32be(out, (uint32_t)strlen(name)), 0);
    assert_int_equal(steep_buf_append(out, name, strlen(name)), 0);
    assert_int_equal(steep_buf_append_u8(out, (uint8_t)part), 0);
    if (part == 'e') {
        assert_int_equal(steep_buf_append_u32be(out, (uint32_t)(index >> 32)), 0);
        assert_int_equal(steep_buf_append_u32be(out, (uint32_t)index), 0);
    }
}

static void test_queue_head_rollback_refused(void **state)
{
    struct fixture *f = *state;
    struct steep_etcd *etcd = raw_open();
    struct steep_buf value = STEEP_BUF_INIT, head_key = STEEP_BUF_INIT;
    struct steep_buf element_key = STEEP_BUF_INIT, old_head = STEEP_BUF_INIT;
    struct steep_buf old_element = STEEP_BUF_INIT;
    assert_int_equal(steep_store_enqueue(f->store, "staged", 6, "a", 1), STEEP_STORE_OK);
    assert_int_equal(steep_store_enqueue(f->store, "staged", 6, "b", 1), STEEP_STORE_OK);
    assert_int_equal(steep_store_dequeue(f->store, "staged", 6, &value), STEEP_STORE_OK);
    assert_memory_equal(value.data, "a", 1);
    /* the operator keeps head = 1 and element 1 ("b") ... */
    queue_key(f, "staged", 'h', 0, &head_key);
    queue_key(f, "staged", 'e', 1, &element_key);
    raw_get(etcd, &head_key, &old_head);
    raw_get(etcd, &element_key, &old_element);
    assert_int_equal(steep_store_dequeue(f->store, "staged", 6, &value), STEEP_STORE_OK);
    assert_memory_equal(value.data, "b", 1);
    /* ... and writes them back: "b" would be handed out twice */
    raw_put(etcd, &head_key, &old_head);
    raw_put(etcd, &element_key, &old_element);
    assert_int_equal(steep_store_dequeue(f->store, "staged", 6, &value), STEEP_STORE_ERROR);
    if (!strstr(steep_error_get(), "queue:") || !strstr(steep_error_get(), "stagedh") ||
        !strstr(steep_error_get(), "rolled back"))
        fail_msg("error '%s' should name the queue's head and say 'rolled back'",
                 steep_error_get());
    steep_buf_free(&value);
    steep_buf_free(&head_key);
    steep_buf_free(&element_key);
    steep_buf_free(&old_head);
    steep_buf_free(&old_element);
    steep_etcd_close(etcd);
}

static void test_other_key_refused(void **state)
{
    struct fixture *f = *state;
    put(f->store, "task-1", "Created");
    uint8_t other[STEEP_STORE_KEY_BYTES] = {1};
    struct steep_store *wrong = NULL;
    assert_int_equal(test_etcd_open(f->prefix, other, STEEP_STORE_CREATE, &wrong), -1);
    assert_null(wrong);
    if (!strstr(steep_error_get(), "sealed under a different key"))
        fail_msg("error '%s' should say the store was sealed under a different key",
                 steep_error_get());
    /* and a prefix with no store is not one without STEEP_STORE_CREATE */
    char *empty = test_etcd_prefix("rollback-empty");
    assert_int_equal(test_etcd_open(empty, test_key, 0, &wrong), -1);
    assert_non_null(strstr(steep_error_get(), "no store in etcd"));
    free(empty);
}

int main(void)
{
    if (!test_etcd_enabled()) {
        fprintf(stderr, "test_store_rollback needs STEEP_TEST_ETCD_ENDPOINTS (run it through "
                        "test_store_etcd.sh)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_old_ciphertext_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_moved_value_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_record_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_head_rollback_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_key_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
