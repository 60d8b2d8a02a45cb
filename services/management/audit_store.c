/*
 * The audit log's storage seam over the two storage implementations: the
 * in-process engine (tests, tools) and the storage service's client
 * (production). Both already speak enum steep_store_result.
 */
#include "audit.h"
#include "store/store.h"
#include "store/store_client.h"

static int engine_get(void *ctx, const void *key, size_t key_len, struct steep_buf *value)
{
    return steep_store_get(ctx, key, key_len, value);
}

static int engine_cas(void *ctx, struct steep_store_cas *cas)
{
    return steep_store_compare_and_swap(ctx, cas);
}

static int engine_batch(void *ctx, const struct steep_store_op *ops, size_t n)
{
    return steep_store_batch(ctx, ops, n);
}

struct steep_audit_store steep_audit_store_over_engine(struct steep_store *engine)
{
    return (struct steep_audit_store){engine, engine_get, engine_cas, engine_batch};
}

static int client_get(void *ctx, const void *key, size_t key_len, struct steep_buf *value)
{
    return steep_store_client_get(ctx, key, key_len, value, 0);
}

static int client_cas(void *ctx, struct steep_store_cas *cas)
{
    return steep_store_client_compare_and_swap(ctx, cas, 0);
}

static int client_batch(void *ctx, const struct steep_store_op *ops, size_t n)
{
    return steep_store_client_batch(ctx, ops, n, 0);
}

struct steep_audit_store steep_audit_store_over_client(struct steep_store_client *client)
{
    return (struct steep_audit_store){client, client_get, client_cas, client_batch};
}
