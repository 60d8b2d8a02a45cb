/*
 * Steep's additions to the storage service (steep_storage_proto.SteepStorage):
 * CompareAndSwap on one key (with, optionally, puts and deletes on other
 * keys applied in the same write when it swaps) and an atomic Batch of puts and deletes, both
 * durable when acknowledged, and WaitChange, a long poll on one record
 * (management's GetTask with steep-wait-ms).
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "services/storage/service.h"
#include "steep_storage.pb-c.h"

/* Checks one op and translates it; answers the call and returns -1 when it is invalid. */
static int translate_op(struct steep_rpc_call *call, const struct steep_storage_service *service,
                        const SteepStorageProto__Op *op, size_t index, struct steep_store_op *out)
{
    char what[48];
    snprintf(what, sizeof what, "ops[%zu] key", index);
    if (op->op_case == STEEP_STORAGE_PROTO__OP__OP_PUT && op->put) {
        if (steep_storage_check_key(call, service, what, &op->put->key) < 0 ||
            steep_storage_check_value(call, service, &op->put->value) < 0)
            return -1;
        *out = (struct steep_store_op){false, op->put->key.data, op->put->key.len,
                                       op->put->value.data, op->put->value.len};
        return 0;
    }
    if (op->op_case == STEEP_STORAGE_PROTO__OP__OP_DELETE && op->delete_) {
        if (steep_storage_check_key(call, service, what, &op->delete_->key) < 0)
            return -1;
        *out = (struct steep_store_op){true, op->delete_->key.data, op->delete_->key.len, NULL, 0};
        return 0;
    }
    steep_rpc_fail(call, STEEP_GRPC_INVALID_ARGUMENT, "ops[%zu] is neither a put nor a delete",
                   index);
    return -1;
}

static void handle_compare_and_swap(struct steep_rpc_call *call, const ProtobufCMessage *message,
                                    void *arg)
{
    struct steep_storage_service *service = arg;
    const SteepStorageProto__CompareAndSwapRequest *request = (const void *)message;
    if (steep_storage_check_key(call, service, "key", &request->key) < 0 ||
        steep_storage_check_value(call, service, &request->value) < 0)
        return;
    struct steep_store_op *then = calloc(request->n_then ? request->n_then : 1, sizeof *then);
    if (!then) {
        steep_rpc_fail(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < request->n_then; i++) {
        if (translate_op(call, service, request->then[i], i, &then[i]) < 0) {
            free(then);
            return;
        }
    }
    struct steep_buf current = STEEP_BUF_INIT;
    struct steep_store_cas cas = {.key = request->key.data,
                                  .key_len = request->key.len,
                                  .expect_absent = request->expect_absent,
                                  .expected = request->expected.data,
                                  .expected_len = request->expected.len,
                                  .value = request->value.data,
                                  .value_len = request->value.len,
                                  .then = then,
                                  .n_then = request->n_then,
                                  .current = &current};
    if (steep_store_compare_and_swap(service->store, &cas) < 0) {
        steep_storage_fail_internal(call, "CompareAndSwap");
    } else {
        SteepStorageProto__CompareAndSwapResponse response =
            STEEP_STORAGE_PROTO__COMPARE_AND_SWAP_RESPONSE__INIT;
        response.swapped = cas.swapped;
        response.current_absent = cas.current_absent;
        response.current.data = current.data;
        response.current.len = current.len;
        steep_rpc_reply(call, &response.base);
    }
    steep_buf_free(&current);
    free(then);
}

static void handle_batch(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_storage_service *service = arg;
    const SteepStorageProto__BatchRequest *request = (const void *)message;
    struct steep_store_op *ops = calloc(request->n_ops ? request->n_ops : 1, sizeof *ops);
    if (!ops) {
        steep_rpc_fail(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < request->n_ops; i++) {
        if (translate_op(call, service, request->ops[i], i, &ops[i]) < 0) {
            free(ops);
            return;
        }
    }
    if (steep_store_batch(service->store, ops, request->n_ops) < 0) {
        steep_storage_fail_internal(call, "Batch");
    } else {
        SteepStorageProto__BatchResponse response = STEEP_STORAGE_PROTO__BATCH_RESPONSE__INIT;
        steep_rpc_reply(call, &response.base);
    }
    free(ops);
}

int steep_storage_register_steep(struct steep_rpc_server *server,
                                 struct steep_storage_service *service)
{
    GUARD(steep_rpc_server_add(server, STEEP_STORAGE_STEEP_PREFIX "CompareAndSwap",
                               &steep_storage_proto__compare_and_swap_request__descriptor,
                               handle_compare_and_swap, service));
    GUARD(steep_rpc_server_add(server, STEEP_STORAGE_STEEP_PREFIX "Batch",
                               &steep_storage_proto__batch_request__descriptor, handle_batch,
                               service));
    return steep_rpc_server_add(server, STEEP_STORAGE_STEEP_PREFIX "WaitChange",
                                &steep_storage_proto__wait_change_request__descriptor,
                                steep_storage_wait_change, service);
}
