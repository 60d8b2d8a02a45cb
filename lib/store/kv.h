/*
 * The storage seam of the services that keep their records in steep-storage
 * (management, scheduler): the storage operations they need, as function
 * pointers, so the same code runs over the storage service (kv_client.c,
 * production) and over the in-process storage engine or a map in tests. Return values are enum
 * steep_store_result (store/result.h): OK, NOT_FOUND, or ERROR with steep_error_get() set.
 */
#ifndef STEEP_STORE_KV_H
#define STEEP_STORE_KV_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "store/result.h"

typedef void (*steep_kv_wait_done_fn)(void *arg, int rc, bool changed);

struct steep_kv {
    void *ctx;
    int (*get)(void *ctx, const char *key, struct steep_buf *value);
    int (*put)(void *ctx, const char *key, const void *value, size_t len);
    int (*remove)(void *ctx, const char *key);
    int (*compare_and_swap)(void *ctx, struct steep_store_cas *cas);
    /* Every key starting with prefix + "-", ascending (Teaclave's GetKeysByPrefix). */
    int (*keys)(void *ctx, const char *prefix, steep_store_scan_fn fn, void *arg);
    /* Optional (NULL: not supported): waits up to wait_ms until key holds a
     * value other than known (known == NULL: absent); *changed says which. */
    int (*wait_change)(void *ctx, const char *key, const struct steep_buf *known, int wait_ms,
                       bool *changed);
    /* Optional (NULL: not supported): puts and deletes, all or none, in one
     * durable write. */
    int (*batch)(void *ctx, const struct steep_store_op *ops, size_t n);
    /* Optional (NULL: wait_change only): the same wait holding no thread.
     * done(arg, rc, changed) runs exactly once, on another thread (it must
     * not block), or on this one before the call returns when the wait
     * cannot start; a failure's detail is logged. */
    void (*wait_change_async)(void *ctx, const char *key, const struct steep_buf *known,
                              int wait_ms, steep_kv_wait_done_fn done, void *arg);
};

struct steep_store_client;
/* A kv over the storage service; the client stays owned by the caller. */
struct steep_kv steep_kv_over_client(struct steep_store_client *client);

#endif
