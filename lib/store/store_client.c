/*
 * The storage client (store_client.h): each helper builds one request,
 * makes one call on the shared steep_rpc_client, and maps the status to
 * enum steep_store_result: NOT_FOUND -> STEEP_STORE_NOT_FOUND (Get),
 * FAILED_PRECONDITION -> STEEP_STORE_EMPTY (Dequeue), anything else an
 * error carrying the method name, the code and the server's message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "steep_storage.pb-c.h"
#include "store/store_client.h"
#include "teaclave_storage_service.pb-c.h"

#define TEACLAVE_PATH      "/teaclave_storage_service_proto.TeaclaveStorage/"
#define STEEP_PATH         "/steep_storage_proto.SteepStorage/"
#define DEFAULT_TIMEOUT_MS 5000

struct steep_store_client {
    struct steep_rpc_client *rpc;
    int timeout_ms;
};

static _Thread_local int last_code;

int steep_store_client_last_code(void)
{
    return last_code;
}

struct steep_store_client *steep_store_client_new(const struct steep_store_client_config *config)
{
    struct steep_store_client *client = calloc(1, sizeof *client);
    if (!client) {
        steep_error_set("out of memory");
        return NULL;
    }
    struct steep_rpc_client_config rpc_config = {
        .address = config->address,
        .tls = config->tls,
        .connect_timeout_ms = config->connect_timeout_ms,
        .max_message = config->max_message,
    };
    client->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : DEFAULT_TIMEOUT_MS;
    client->rpc = steep_rpc_client_new(&rpc_config);
    if (!client->rpc) {
        free(client);
        return NULL;
    }
    return client;
}

void steep_store_client_free(struct steep_store_client *client)
{
    if (!client)
        return;
    steep_rpc_client_free(client->rpc);
    free(client);
}

/* One call. Returns OK, or the result that `absent_code` maps to, or ERROR. */
static int call(struct steep_store_client *client, const char *path, const char *method,
                const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                ProtobufCMessage **response, int timeout_ms, int absent_code, int absent_result)
{
    struct steep_rpc_status status = {0};
    ProtobufCMessage *unused = NULL;
    int rc =
        steep_rpc_call(client->rpc, path, request, response_type, response ? response : &unused,
                       NULL, 0, timeout_ms > 0 ? timeout_ms : client->timeout_ms, &status);
    if (unused)
        protobuf_c_message_free_unpacked(unused, NULL);
    if (rc == 0) {
        last_code = STEEP_GRPC_OK;
        return STEEP_STORE_OK;
    }
    last_code = status.code;
    if (absent_code != STEEP_GRPC_OK && status.code == absent_code)
        return absent_result;
    return steep_error_set("storage %s: %s: %s", method, steep_grpc_code_name(status.code),
                           status.message);
}

static ProtobufCBinaryData bytes(const void *data, size_t len)
{
    return (ProtobufCBinaryData){len, (uint8_t *)data};
}

static int copy_out(struct steep_buf *out, ProtobufCBinaryData value)
{
    steep_buf_reset(out);
    return steep_buf_append(out, value.data, value.len);
}

/* Get and Dequeue: one call whose response holds the value as bytes field 1. */
static int call_for_value(struct steep_store_client *client, const char *method,
                          const ProtobufCMessage *request,
                          const ProtobufCMessageDescriptor *response_type, struct steep_buf *value,
                          int timeout_ms, int absent_code, int absent_result)
{
    char path[96];
    ProtobufCMessage *response = NULL;
    snprintf(path, sizeof path, "%s%s", TEACLAVE_PATH, method);
    int rc = call(client, path, method, request, response_type, &response, timeout_ms, absent_code,
                  absent_result);
    if (rc == STEEP_STORE_OK) {
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field(response_type, 1);
        const ProtobufCBinaryData *bytes_field =
            (const ProtobufCBinaryData *)((const uint8_t *)response + field->offset);
        if (copy_out(value, *bytes_field) < 0)
            rc = STEEP_STORE_ERROR;
    }
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    return rc;
}

int steep_store_client_get(struct steep_store_client *client, const void *key, size_t key_len,
                           struct steep_buf *value, int timeout_ms)
{
    TeaclaveStorageServiceProto__GetRequest request =
        TEACLAVE_STORAGE_SERVICE_PROTO__GET_REQUEST__INIT;
    request.key = bytes(key, key_len);
    return call_for_value(client, "Get", &request.base,
                          &teaclave_storage_service_proto__get_response__descriptor, value,
                          timeout_ms, STEEP_GRPC_NOT_FOUND, STEEP_STORE_NOT_FOUND);
}

int steep_store_client_put(struct steep_store_client *client, const void *key, size_t key_len,
                           const void *value, size_t value_len, int timeout_ms)
{
    TeaclaveStorageServiceProto__PutRequest request =
        TEACLAVE_STORAGE_SERVICE_PROTO__PUT_REQUEST__INIT;
    request.key = bytes(key, key_len);
    request.value = bytes(value, value_len);
    return call(client, TEACLAVE_PATH "Put", "Put", &request.base,
                &google__protobuf__empty__descriptor, NULL, timeout_ms, STEEP_GRPC_OK, 0);
}

int steep_store_client_delete(struct steep_store_client *client, const void *key, size_t key_len,
                              int timeout_ms)
{
    TeaclaveStorageServiceProto__DeleteRequest request =
        TEACLAVE_STORAGE_SERVICE_PROTO__DELETE_REQUEST__INIT;
    request.key = bytes(key, key_len);
    return call(client, TEACLAVE_PATH "Delete", "Delete", &request.base,
                &google__protobuf__empty__descriptor, NULL, timeout_ms, STEEP_GRPC_OK, 0);
}

int steep_store_client_enqueue(struct steep_store_client *client, const void *queue,
                               size_t queue_len, const void *value, size_t value_len,
                               int timeout_ms)
{
    TeaclaveStorageServiceProto__EnqueueRequest request =
        TEACLAVE_STORAGE_SERVICE_PROTO__ENQUEUE_REQUEST__INIT;
    request.key = bytes(queue, queue_len);
    request.value = bytes(value, value_len);
    return call(client, TEACLAVE_PATH "Enqueue", "Enqueue", &request.base,
                &google__protobuf__empty__descriptor, NULL, timeout_ms, STEEP_GRPC_OK, 0);
}

int steep_store_client_dequeue(struct steep_store_client *client, const void *queue,
                               size_t queue_len, struct steep_buf *value, int timeout_ms)
{
    TeaclaveStorageServiceProto__DequeueRequest request =
        TEACLAVE_STORAGE_SERVICE_PROTO__DEQUEUE_REQUEST__INIT;
    request.key = bytes(queue, queue_len);
    return call_for_value(client, "Dequeue", &request.base,
                          &teaclave_storage_service_proto__dequeue_response__descriptor, value,
                          timeout_ms, STEEP_GRPC_FAILED_PRECONDITION, STEEP_STORE_EMPTY);
}

int steep_store_client_keys_by_prefix(struct steep_store_client *client, const void *prefix,
                                      size_t prefix_len, steep_store_scan_fn fn, void *arg,
                                      int timeout_ms)
{
    TeaclaveStorageServiceProto__GetKeysByPrefixRequest request =
        TEACLAVE_STORAGE_SERVICE_PROTO__GET_KEYS_BY_PREFIX_REQUEST__INIT;
    ProtobufCMessage *response = NULL;
    request.prefix = bytes(prefix, prefix_len);
    int rc = call(client, TEACLAVE_PATH "GetKeysByPrefix", "GetKeysByPrefix", &request.base,
                  &teaclave_storage_service_proto__get_keys_by_prefix_response__descriptor,
                  &response, timeout_ms, STEEP_GRPC_OK, 0);
    if (rc != STEEP_STORE_OK)
        return rc;
    const TeaclaveStorageServiceProto__GetKeysByPrefixResponse *keys = (const void *)response;
    for (size_t i = 0; i < keys->n_keys; i++) {
        steep_error_clear();
        int step = fn(arg, keys->keys[i].data, keys->keys[i].len, NULL, 0);
        if (step < 0 && steep_error_get()[0] == '\0')
            steep_error_set("keys_by_prefix callback failed");
        if (step != 0) {
            rc = step < 0 ? STEEP_STORE_ERROR : STEEP_STORE_OK;
            break;
        }
    }
    protobuf_c_message_free_unpacked(response, NULL);
    return rc;
}

/* The protobuf form of n ops (pointers into ops; free with ops_free). */
struct proto_ops {
    SteepStorageProto__Op *storage, **pointers;
    SteepStorageProto__PutOp *puts;
    SteepStorageProto__DeleteOp *deletes;
};

static void ops_free(struct proto_ops *p)
{
    free(p->storage);
    free(p->pointers);
    free(p->puts);
    free(p->deletes);
}

static int ops_build(struct proto_ops *p, const struct steep_store_op *ops, size_t n)
{
    p->storage = calloc(n ? n : 1, sizeof *p->storage);
    p->pointers = calloc(n ? n : 1, sizeof *p->pointers);
    p->puts = calloc(n ? n : 1, sizeof *p->puts);
    p->deletes = calloc(n ? n : 1, sizeof *p->deletes);
    if (!p->storage || !p->pointers || !p->puts || !p->deletes) {
        ops_free(p);
        return steep_error_set("out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        steep_storage_proto__op__init(&p->storage[i]);
        if (ops[i].is_delete) {
            steep_storage_proto__delete_op__init(&p->deletes[i]);
            p->deletes[i].key = bytes(ops[i].key, ops[i].key_len);
            p->storage[i].op_case = STEEP_STORAGE_PROTO__OP__OP_DELETE;
            p->storage[i].delete_ = &p->deletes[i];
        } else {
            steep_storage_proto__put_op__init(&p->puts[i]);
            p->puts[i].key = bytes(ops[i].key, ops[i].key_len);
            p->puts[i].value = bytes(ops[i].value, ops[i].value_len);
            p->storage[i].op_case = STEEP_STORAGE_PROTO__OP__OP_PUT;
            p->storage[i].put = &p->puts[i];
        }
        p->pointers[i] = &p->storage[i];
    }
    return 0;
}

int steep_store_client_compare_and_swap(struct steep_store_client *client,
                                        struct steep_store_cas *cas, int timeout_ms)
{
    SteepStorageProto__CompareAndSwapRequest request =
        STEEP_STORAGE_PROTO__COMPARE_AND_SWAP_REQUEST__INIT;
    ProtobufCMessage *response = NULL;
    request.key = bytes(cas->key, cas->key_len);
    request.expect_absent = cas->expect_absent;
    request.expected = bytes(cas->expected, cas->expected_len);
    request.value = bytes(cas->value, cas->value_len);
    cas->swapped = false;
    cas->current_absent = false;
    struct proto_ops then = {0};
    if (cas->n_then && ops_build(&then, cas->then, cas->n_then) < 0)
        return STEEP_STORE_ERROR;
    request.then = then.pointers;
    request.n_then = cas->n_then;
    int rc = call(client, STEEP_PATH "CompareAndSwap", "CompareAndSwap", &request.base,
                  &steep_storage_proto__compare_and_swap_response__descriptor, &response,
                  timeout_ms, STEEP_GRPC_OK, 0);
    ops_free(&then);
    if (rc != STEEP_STORE_OK)
        return rc;
    const SteepStorageProto__CompareAndSwapResponse *result = (const void *)response;
    cas->swapped = result->swapped;
    cas->current_absent = result->current_absent;
    if (cas->current && copy_out(cas->current, result->current) < 0)
        rc = STEEP_STORE_ERROR;
    protobuf_c_message_free_unpacked(response, NULL);
    return rc;
}

int steep_store_client_wait_change(struct steep_store_client *client, const void *key,
                                   size_t key_len, bool known_absent, const void *known,
                                   size_t known_len, int wait_ms, bool *changed)
{
    SteepStorageProto__WaitChangeRequest request = STEEP_STORAGE_PROTO__WAIT_CHANGE_REQUEST__INIT;
    ProtobufCMessage *response = NULL;
    request.key = bytes(key, key_len);
    request.known_absent = known_absent;
    request.known = bytes(known, known_len);
    request.timeout_ms = wait_ms > 0 ? (uint32_t)wait_ms : 0;
    *changed = false;
    int rc = call(client, STEEP_PATH "WaitChange", "WaitChange", &request.base,
                  &steep_storage_proto__wait_change_response__descriptor, &response,
                  (wait_ms > 0 ? wait_ms : 0) + client->timeout_ms, STEEP_GRPC_OK, 0);
    if (rc != STEEP_STORE_OK)
        return rc;
    *changed = ((const SteepStorageProto__WaitChangeResponse *)response)->changed;
    protobuf_c_message_free_unpacked(response, NULL);
    return rc;
}

struct async_wait {
    steep_store_client_wait_done_fn done;
    void *arg;
};

static void async_wait_done(void *arg, ProtobufCMessage *response,
                            const struct steep_rpc_status *status)
{
    struct async_wait *wait = arg;
    bool changed = false;
    int rc = STEEP_STORE_OK;
    if (response) {
        changed = ((const SteepStorageProto__WaitChangeResponse *)response)->changed;
        protobuf_c_message_free_unpacked(response, NULL);
    } else {
        log_warn("storage WaitChange: %s: %s", steep_grpc_code_name(status->code), status->message);
        rc = STEEP_STORE_ERROR;
    }
    wait->done(wait->arg, rc, changed);
    free(wait);
}

void steep_store_client_wait_change_async(struct steep_store_client *client, const void *key,
                                          size_t key_len, bool known_absent, const void *known,
                                          size_t known_len, int wait_ms,
                                          steep_store_client_wait_done_fn done, void *arg)
{
    SteepStorageProto__WaitChangeRequest request = STEEP_STORAGE_PROTO__WAIT_CHANGE_REQUEST__INIT;
    request.key = bytes(key, key_len);
    request.known_absent = known_absent;
    request.known = bytes(known, known_len);
    request.timeout_ms = wait_ms > 0 ? (uint32_t)wait_ms : 0;
    struct async_wait *wait = malloc(sizeof *wait);
    if (wait) {
        *wait = (struct async_wait){done, arg};
        if (steep_rpc_call_async(client->rpc, STEEP_PATH "WaitChange", &request.base,
                                 &steep_storage_proto__wait_change_response__descriptor, NULL, 0,
                                 (wait_ms > 0 ? wait_ms : 0) + client->timeout_ms, async_wait_done,
                                 wait) == 0)
            return;
        free(wait);
    }
    log_warn("storage WaitChange: cannot start: %s", wait ? steep_error_get() : "out of memory");
    done(arg, STEEP_STORE_ERROR, false);
}

int steep_store_client_batch(struct steep_store_client *client, const struct steep_store_op *ops,
                             size_t n, int timeout_ms)
{
    SteepStorageProto__BatchRequest request = STEEP_STORAGE_PROTO__BATCH_REQUEST__INIT;
    struct proto_ops p;
    if (ops_build(&p, ops, n) < 0)
        return STEEP_STORE_ERROR;
    request.ops = p.pointers;
    request.n_ops = n;
    int rc =
        call(client, STEEP_PATH "Batch", "Batch", &request.base,
             &steep_storage_proto__batch_response__descriptor, NULL, timeout_ms, STEEP_GRPC_OK, 0);
    ops_free(&p);
    return rc;
}
