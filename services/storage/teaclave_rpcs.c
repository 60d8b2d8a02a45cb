/*
 * Teaclave's six storage RPCs (teaclave_storage_service_proto.TeaclaveStorage)
 * over the engine. Semantics follow Teaclave's storage service, with
 * distinct codes for a missing key (NOT_FOUND) and an empty queue
 * (FAILED_PRECONDITION "queue is empty") where Teaclave answered INTERNAL
 * for both; see service.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "services/storage/service.h"
#include "teaclave_storage_service.pb-c.h"

static void reply_empty(struct steep_rpc_call *call)
{
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    steep_rpc_reply(call, &empty.base);
}

/* Get and Dequeue: answers with the value, the "absent" status, or INTERNAL. */
static void answer_value(struct steep_rpc_call *call, int rc, const struct steep_buf *value,
                         ProtobufCMessage *response, ProtobufCBinaryData *field, int absent_result,
                         int absent_code, const char *absent_message, const char *operation)
{
    if (rc == STEEP_STORE_OK) {
        field->data = value->data;
        field->len = value->len;
        steep_rpc_reply(call, response);
    } else if (rc == absent_result) {
        steep_rpc_fail(call, absent_code, "%s", absent_message);
    } else {
        steep_storage_fail_internal(call, operation);
    }
}

static void handle_get(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_storage_service *service = arg;
    const TeaclaveStorageServiceProto__GetRequest *request = (const void *)message;
    if (steep_storage_check_key(call, service, "key", &request->key) < 0)
        return;
    struct steep_buf value = STEEP_BUF_INIT;
    TeaclaveStorageServiceProto__GetResponse response =
        TEACLAVE_STORAGE_SERVICE_PROTO__GET_RESPONSE__INIT;
    int rc = steep_store_get(service->store, request->key.data, request->key.len, &value);
    answer_value(call, rc, &value, &response.base, &response.value, STEEP_STORE_NOT_FOUND,
                 STEEP_GRPC_NOT_FOUND, "key not found", "Get");
    steep_buf_free(&value);
}

static void handle_put(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_storage_service *service = arg;
    const TeaclaveStorageServiceProto__PutRequest *request = (const void *)message;
    if (steep_storage_check_key(call, service, "key", &request->key) < 0 ||
        steep_storage_check_value(call, service, &request->value) < 0)
        return;
    if (steep_store_put(service->store, request->key.data, request->key.len, request->value.data,
                        request->value.len) < 0)
        steep_storage_fail_internal(call, "Put");
    else
        reply_empty(call);
}

static void handle_delete(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_storage_service *service = arg;
    const TeaclaveStorageServiceProto__DeleteRequest *request = (const void *)message;
    if (steep_storage_check_key(call, service, "key", &request->key) < 0)
        return;
    if (steep_store_delete(service->store, request->key.data, request->key.len) < 0)
        steep_storage_fail_internal(call, "Delete");
    else
        reply_empty(call);
}

static void handle_enqueue(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_storage_service *service = arg;
    const TeaclaveStorageServiceProto__EnqueueRequest *request = (const void *)message;
    if (steep_storage_check_key(call, service, "queue key", &request->key) < 0 ||
        steep_storage_check_value(call, service, &request->value) < 0)
        return;
    if (steep_store_enqueue(service->store, request->key.data, request->key.len,
                            request->value.data, request->value.len) < 0)
        steep_storage_fail_internal(call, "Enqueue");
    else
        reply_empty(call);
}

static void handle_dequeue(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_storage_service *service = arg;
    const TeaclaveStorageServiceProto__DequeueRequest *request = (const void *)message;
    if (steep_storage_check_key(call, service, "queue key", &request->key) < 0)
        return;
    struct steep_buf value = STEEP_BUF_INIT;
    TeaclaveStorageServiceProto__DequeueResponse response =
        TEACLAVE_STORAGE_SERVICE_PROTO__DEQUEUE_RESPONSE__INIT;
    int rc = steep_store_dequeue(service->store, request->key.data, request->key.len, &value);
    answer_value(call, rc, &value, &response.base, &response.value, STEEP_STORE_EMPTY,
                 STEEP_GRPC_FAILED_PRECONDITION, "queue is empty", "Dequeue");
    steep_buf_free(&value);
}

/* ---- GetKeysByPrefix ---- */

struct key_list {
    ProtobufCBinaryData *keys;
    size_t count, capacity;
    size_t bytes, max_bytes;
};

static int collect_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len)
{
    struct key_list *list = arg;
    list->bytes += key_len + 6; /* tag + length varint, at most */
    ENSURE(list->bytes <= list->max_bytes, "too many keys for one response");
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        ProtobufCBinaryData *keys = realloc(list->keys, capacity * sizeof *keys);
        ENSURE(keys, "out of memory");
        list->keys = keys;
        list->capacity = capacity;
    }
    uint8_t *copy = malloc(key_len);
    ENSURE(copy, "out of memory");
    memcpy(copy, key, key_len);
    list->keys[list->count++] = (ProtobufCBinaryData){key_len, copy};
    return 0;
}

static void handle_keys_by_prefix(struct steep_rpc_call *call, const ProtobufCMessage *message,
                                  void *arg)
{
    struct steep_storage_service *service = arg;
    const TeaclaveStorageServiceProto__GetKeysByPrefixRequest *request = (const void *)message;
    ProtobufCBinaryData prefix = request->prefix;
    prefix.len += 1; /* only to apply the key limit to prefix + "-" */
    if (steep_storage_check_key(call, service, "prefix", &prefix) < 0)
        return;
    struct steep_buf dashed = STEEP_BUF_INIT;
    struct key_list list = {
        .max_bytes =
            (service->max_message ? service->max_message : STEEP_RPC_DEFAULT_MAX_MESSAGE) - 64};
    if (steep_buf_append(&dashed, request->prefix.data, request->prefix.len) < 0 ||
        steep_buf_append_u8(&dashed, '-') < 0) {
        steep_storage_fail_internal(call, "GetKeysByPrefix");
    } else if (steep_store_scan(service->store, dashed.data, dashed.len, collect_key, &list) < 0) {
        if (list.bytes > list.max_bytes)
            steep_rpc_fail(call, STEEP_GRPC_RESOURCE_EXHAUSTED,
                           "too many keys for one response (over %zu bytes)", list.max_bytes);
        else
            steep_storage_fail_internal(call, "GetKeysByPrefix");
    } else {
        TeaclaveStorageServiceProto__GetKeysByPrefixResponse response =
            TEACLAVE_STORAGE_SERVICE_PROTO__GET_KEYS_BY_PREFIX_RESPONSE__INIT;
        response.keys = list.keys;
        response.n_keys = list.count;
        steep_rpc_reply(call, &response.base);
    }
    for (size_t i = 0; i < list.count; i++)
        free(list.keys[i].data);
    free(list.keys);
    steep_buf_free(&dashed);
}

int steep_storage_register_teaclave(struct steep_rpc_server *server,
                                    struct steep_storage_service *service)
{
    static const struct {
        const char *method;
        const ProtobufCMessageDescriptor *request;
        steep_rpc_handler_fn handler;
        bool never_blocks; /* runs on the RPC event loop: see steep_rpc_server_add_inline */
    } methods[] = {
        /* Get is one LevelDB read (never through the committer, see
         * lib/store/read.c) and one unseal of a size-limited value. */
        {"Get", &teaclave_storage_service_proto__get_request__descriptor, handle_get, true},
        /* Writes wait for the group commit's fsync: worker pool. */
        {"Put", &teaclave_storage_service_proto__put_request__descriptor, handle_put, false},
        {"Delete", &teaclave_storage_service_proto__delete_request__descriptor, handle_delete,
         false},
        {"Enqueue", &teaclave_storage_service_proto__enqueue_request__descriptor, handle_enqueue,
         false},
        {"Dequeue", &teaclave_storage_service_proto__dequeue_request__descriptor, handle_dequeue,
         false},
        /* A scan unseals every matching record (an audit log can hold
         * thousands): its time grows with the data, so it stays off the loop. */
        {"GetKeysByPrefix", &teaclave_storage_service_proto__get_keys_by_prefix_request__descriptor,
         handle_keys_by_prefix, false},
    };
    char path[128];
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        snprintf(path, sizeof path, "%s%s", STEEP_STORAGE_PATH_PREFIX, methods[i].method);
        if (methods[i].never_blocks)
            GUARD(steep_rpc_server_add_inline(server, path, methods[i].request, methods[i].handler,
                                              service));
        else
            GUARD(steep_rpc_server_add(server, path, methods[i].request, methods[i].handler,
                                       service));
    }
    return 0;
}
