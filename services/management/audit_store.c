/*
 * The audit log's storage seam over the two storage implementations: the
 * in-process engine (tests, tools) and the storage service's client
 * (production). Both already speak enum steep_store_result.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "store/store.h"
#include "store/store_client.h"

static int engine_get(void *ctx, const void *key, size_t key_len, struct steep_buf *value)
{
    return steep_store_get(ctx, key, key_len, value);
}

/* The engine scans by plain prefix: add the "-" of Teaclave's meaning. */
static int engine_keys(void *ctx, const char *prefix, steep_store_scan_fn fn, void *arg)
{
    char dashed[128];
    int n = snprintf(dashed, sizeof dashed, "%s-", prefix);
    if (n < 0 || (size_t)n >= sizeof dashed)
        return STEEP_STORE_ERROR;
    return steep_store_scan(ctx, dashed, (size_t)n, fn, arg);
}

static int engine_batch(void *ctx, const struct steep_store_op *ops, size_t n)
{
    return steep_store_batch(ctx, ops, n);
}

struct steep_audit_store steep_audit_store_over_engine(struct steep_store *engine)
{
    return (struct steep_audit_store){engine, engine_get, engine_batch, engine_keys};
}

static int client_get(void *ctx, const void *key, size_t key_len, struct steep_buf *value)
{
    return steep_store_client_get(ctx, key, key_len, value, 0);
}

static int client_keys(void *ctx, const char *prefix, steep_store_scan_fn fn, void *arg)
{
    return steep_store_client_keys_by_prefix(ctx, prefix, strlen(prefix), fn, arg, 0);
}

static int client_batch(void *ctx, const struct steep_store_op *ops, size_t n)
{
    return steep_store_client_batch(ctx, ops, n, 0);
}

struct steep_audit_store steep_audit_store_over_client(struct steep_store_client *client)
{
    return (struct steep_audit_store){client, client_get, client_batch, client_keys};
}
