/*
 * The steep-storage service: Teaclave's TeaclaveStorage RPCs and Steep's
 * SteepStorage additions, served over lib/rpc on top of one engine
 * (lib/store/store.h). main.c wires it to the configuration and to
 * attestation; tests and the crash driver use it in-process.
 *
 * Status codes (documented for every client):
 *   Get of a missing key           NOT_FOUND            "key not found"
 *   Dequeue of an empty queue      FAILED_PRECONDITION  "queue is empty"
 *   empty / oversized key, value   INVALID_ARGUMENT     e.g. "key is empty", "value is
 *                                  5000000 bytes; the limit is 4128768 ([storage] max_value_bytes)"
 *   GetKeysByPrefix too large      RESOURCE_EXHAUSTED
 *   etcd out of reach, no quorum   UNAVAILABLE          "storage is unavailable: ..."
 *   engine failure                 INTERNAL             "storage failure" (details in the log only)
 * GetKeysByPrefix(prefix) returns exactly the keys that start with
 * prefix + "-", ascending (Teaclave's meaning without its off-by-one quirk).
 */
#ifndef STEEP_SERVICES_STORAGE_SERVICE_H
#define STEEP_SERVICES_STORAGE_SERVICE_H

#include "rpc/rpc.h"
#include "store/store.h"

#define STEEP_STORAGE_PATH_PREFIX  "/teaclave_storage_service_proto.TeaclaveStorage/"
#define STEEP_STORAGE_STEEP_PREFIX "/steep_storage_proto.SteepStorage/"

struct steep_storage_service {
    struct steep_store *store;
    size_t max_key_bytes;   /* 0: STEEP_STORE_DEFAULT_MAX_KEY */
    size_t max_value_bytes; /* 0: STEEP_STORE_DEFAULT_MAX_VALUE */
    size_t max_message;     /* the server's message limit; 0: the RPC default */
};

/* Registers the eight methods; service must outlive the server. */
int steep_storage_service_register(struct steep_rpc_server *server,
                                   struct steep_storage_service *service);

/* ---- shared by the handler files ---- */
/* 0, or answers the call INVALID_ARGUMENT and returns -1. */
int steep_storage_check_key(struct steep_rpc_call *call,
                            const struct steep_storage_service *service, const char *what,
                            const ProtobufCBinaryData *key);
int steep_storage_check_value(struct steep_rpc_call *call,
                              const struct steep_storage_service *service,
                              const ProtobufCBinaryData *value);
/* Answers an engine failure: logs the detail, sends INTERNAL without it. */
void steep_storage_fail_internal(struct steep_rpc_call *call, const char *operation);

int steep_storage_register_teaclave(struct steep_rpc_server *server,
                                    struct steep_storage_service *service);
/* WaitChange (wait_change.c): held waits, at most these many per peer
 * service and in all; more are refused RESOURCE_EXHAUSTED. */
#define STEEP_STORAGE_MAX_WAITS_PER_PEER 1024
#define STEEP_STORAGE_MAX_WAITS          4096
void steep_storage_wait_change(struct steep_rpc_call *call, const ProtobufCMessage *message,
                               void *arg);
int steep_storage_register_steep(struct steep_rpc_server *server,
                                 struct steep_storage_service *service);

#endif
