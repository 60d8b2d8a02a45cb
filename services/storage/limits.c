/*
 * Argument checks shared by every handler: keys must be non-empty and at
 * most [storage] max_key_bytes, values at most [storage] max_value_bytes.
 * A refused argument is answered INVALID_ARGUMENT with a message saying
 * what was wrong and which limit applies. Engine failures are logged in
 * full and answered INTERNAL without detail (no paths leave the service).
 */
#include "core/error.h"
#include "core/log.h"
#include "services/storage/service.h"

static size_t max_key(const struct steep_storage_service *service)
{
    return service->max_key_bytes ? service->max_key_bytes : STEEP_STORE_DEFAULT_MAX_KEY;
}

static size_t max_value(const struct steep_storage_service *service)
{
    return service->max_value_bytes ? service->max_value_bytes : STEEP_STORE_DEFAULT_MAX_VALUE;
}

int steep_storage_check_key(struct steep_rpc_call *call,
                            const struct steep_storage_service *service, const char *what,
                            const ProtobufCBinaryData *key)
{
    if (key->len == 0) {
        steep_rpc_fail(call, STEEP_GRPC_INVALID_ARGUMENT, "%s is empty", what);
        return -1;
    }
    if (key->len > max_key(service)) {
        steep_rpc_fail(call, STEEP_GRPC_INVALID_ARGUMENT,
                       "%s is %zu bytes; the limit is %zu ([storage] max_key_bytes)", what,
                       key->len, max_key(service));
        return -1;
    }
    return 0;
}

int steep_storage_check_value(struct steep_rpc_call *call,
                              const struct steep_storage_service *service,
                              const ProtobufCBinaryData *value)
{
    if (value->len > max_value(service)) {
        steep_rpc_fail(call, STEEP_GRPC_INVALID_ARGUMENT,
                       "value is %zu bytes; the limit is %zu ([storage] max_value_bytes)",
                       value->len, max_value(service));
        return -1;
    }
    return 0;
}

void steep_storage_fail_internal(struct steep_rpc_call *call, const char *operation)
{
    log_error("%s failed: %s", operation, steep_error_get());
    if (steep_store_unavailable())
        steep_rpc_fail(call, STEEP_GRPC_UNAVAILABLE,
                       "storage is unavailable: its etcd cluster cannot be reached or has no "
                       "quorum; retry later");
    else
        steep_rpc_fail(call, STEEP_GRPC_INTERNAL, "storage failure");
}

int steep_storage_service_register(struct steep_rpc_server *server,
                                   struct steep_storage_service *service)
{
    GUARD(steep_storage_register_teaclave(server, service));
    return steep_storage_register_steep(server, service);
}
