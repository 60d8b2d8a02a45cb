/*
 * struct steep_kv over the steep-storage client: each operation is one RPC
 * with the client's default deadline.
 */
#include "store/kv.h"

#include <string.h>

#include "store/store_client.h"

static int client_get(void *ctx, const char *key, struct steep_buf *value)
{
    return steep_store_client_get(ctx, key, strlen(key), value, 0);
}

static int client_put(void *ctx, const char *key, const void *value, size_t len)
{
    return steep_store_client_put(ctx, key, strlen(key), value, len, 0);
}

static int client_remove(void *ctx, const char *key)
{
    return steep_store_client_delete(ctx, key, strlen(key), 0);
}

static int client_compare_and_swap(void *ctx, struct steep_store_cas *cas)
{
    return steep_store_client_compare_and_swap(ctx, cas, 0);
}

static int client_keys(void *ctx, const char *prefix, steep_store_scan_fn fn, void *arg)
{
    return steep_store_client_keys_by_prefix(ctx, prefix, strlen(prefix), fn, arg, 0);
}

static int client_wait_change(void *ctx, const char *key, const struct steep_buf *known,
                              int wait_ms, bool *changed)
{
    return steep_store_client_wait_change(ctx, key, strlen(key), known == NULL,
                                          known ? known->data : NULL, known ? known->len : 0,
                                          wait_ms, changed);
}

static int client_batch(void *ctx, const struct steep_store_op *ops, size_t n)
{
    return steep_store_client_batch(ctx, ops, n, 0);
}

static void client_wait_change_async(void *ctx, const char *key, const struct steep_buf *known,
                                     int wait_ms, steep_kv_wait_done_fn done, void *arg)
{
    steep_store_client_wait_change_async(ctx, key, strlen(key), known == NULL,
                                         known ? known->data : NULL, known ? known->len : 0,
                                         wait_ms, done, arg);
}

struct steep_kv steep_kv_over_client(struct steep_store_client *client)
{
    struct steep_kv kv = {client,
                          client_get,
                          client_put,
                          client_remove,
                          client_compare_and_swap,
                          client_keys,
                          client_wait_change,
                          client_batch,
                          client_wait_change_async};
    return kv;
}
