/*
 * Client of the steep-storage service, for the other services (management,
 * scheduler, frontend's audit log).
 *
 * One steep_rpc_client (one multiplexed, attested HTTP/2 connection) is
 * reused by every call and is safe to share between threads. Each helper
 * maps one RPC: Teaclave's TeaclaveStorage/{Get,Put,Delete,Enqueue,Dequeue,
 * GetKeysByPrefix} and Steep's SteepStorage/{CompareAndSwap,Batch}.
 *
 * Returns (enum steep_store_result, store/result.h): STEEP_STORE_OK,
 * STEEP_STORE_NOT_FOUND (get of a missing key), STEEP_STORE_EMPTY (dequeue
 * of an empty queue), or STEEP_STORE_ERROR with a message in
 * steep_error_get() such as "storage Put: UNAVAILABLE: connection refused";
 * steep_store_client_last_code() gives that failure's gRPC code.
 *
 * timeout_ms: the call's deadline (sent as grpc-timeout); 0 uses the
 * client's default (config.timeout_ms, itself defaulting to 5000 ms).
 */
#ifndef STEEP_STORE_STORE_CLIENT_H
#define STEEP_STORE_STORE_CLIENT_H

#include "core/buf.h"
#include "rpc/rpc.h"
#include "store/result.h"

struct steep_store_client;

struct steep_store_client_config {
    /* "host:port" of [internal_endpoints] storage.advertised_address. */
    const char *address;
    /* Pinned to teaclave_storage_service (lib/tee/attested.h client config). */
    struct steep_tls_config tls;
    int timeout_ms;         /* default per-call deadline; 0: 5000 */
    int connect_timeout_ms; /* 0: the RPC default */
    size_t max_message;     /* response limit; 0: the RPC default */
};

struct steep_store_client *steep_store_client_new(const struct steep_store_client_config *config);
void steep_store_client_free(struct steep_store_client *client);

/* gRPC code of this thread's last failed call (STEEP_GRPC_OK after success). */
int steep_store_client_last_code(void);

/* OK with the value in *value (replaced), or NOT_FOUND. */
int steep_store_client_get(struct steep_store_client *client, const void *key, size_t key_len,
                           struct steep_buf *value, int timeout_ms);
int steep_store_client_put(struct steep_store_client *client, const void *key, size_t key_len,
                           const void *value, size_t value_len, int timeout_ms);
/* Deleting an absent key is OK. */
int steep_store_client_delete(struct steep_store_client *client, const void *key, size_t key_len,
                              int timeout_ms);
int steep_store_client_enqueue(struct steep_store_client *client, const void *queue,
                               size_t queue_len, const void *value, size_t value_len,
                               int timeout_ms);
/* OK with the oldest element in *value (replaced), or EMPTY. */
int steep_store_client_dequeue(struct steep_store_client *client, const void *queue,
                               size_t queue_len, struct steep_buf *value, int timeout_ms);
/* Calls fn(arg, key, key_len, NULL, 0) for every key that starts with
 * prefix + "-" (Teaclave's GetKeysByPrefix meaning), ascending. */
int steep_store_client_keys_by_prefix(struct steep_store_client *client, const void *prefix,
                                      size_t prefix_len, steep_store_scan_fn fn, void *arg,
                                      int timeout_ms);

/* Compare-and-swap (struct steep_store_cas, store/result.h). */
int steep_store_client_compare_and_swap(struct steep_store_client *client,
                                        struct steep_store_cas *cas, int timeout_ms);
/* All operations or none, atomically, in order. */
int steep_store_client_batch(struct steep_store_client *client, const struct steep_store_op *ops,
                             size_t n, int timeout_ms);
/* Long poll (steep_store_wait_change over the service): *changed once the
 * record key differs from known (known_absent: no record), false after
 * wait_ms. The call's deadline is wait_ms plus the client's timeout. */
int steep_store_client_wait_change(struct steep_store_client *client, const void *key,
                                   size_t key_len, bool known_absent, const void *known,
                                   size_t known_len, int wait_ms, bool *changed);

/* The same long poll holding no thread: done(arg, rc, changed) runs exactly
 * once, on the client's event-loop thread (it must not block), or on this
 * thread when the call cannot start. A failure's detail is logged. */
typedef void (*steep_store_client_wait_done_fn)(void *arg, int rc, bool changed);
void steep_store_client_wait_change_async(struct steep_store_client *client, const void *key,
                                          size_t key_len, bool known_absent, const void *known,
                                          size_t known_len, int wait_ms,
                                          steep_store_client_wait_done_fn done, void *arg);

#endif
