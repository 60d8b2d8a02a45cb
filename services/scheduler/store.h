/*
 * The scheduler's storage seam: the storage operations it uses, as function
 * pointers, so the same code runs over the storage service (store_client.c)
 * and over the in-process engine in tests. Return values are enum
 * steep_store_result (store/result.h).
 */
#ifndef STEEP_SCHEDULER_STORE_H
#define STEEP_SCHEDULER_STORE_H

#include <stddef.h>

#include "core/buf.h"
#include "store/result.h"

struct steep_scheduler_store {
    void *ctx;
    int (*get)(void *ctx, const char *key, struct steep_buf *value);
    int (*put)(void *ctx, const char *key, const void *value, size_t len);
    int (*remove)(void *ctx, const char *key);
    int (*compare_and_swap)(void *ctx, struct steep_store_cas *cas);
    /* Every key starting with prefix + "-", ascending. */
    int (*keys)(void *ctx, const char *prefix, steep_store_scan_fn fn, void *arg);
};

struct steep_store_client;
struct steep_scheduler_store steep_scheduler_store_over_client(struct steep_store_client *client);

#endif
