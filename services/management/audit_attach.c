/*
 * The request's kv that carries its audit entry in its first write that
 * lands (audit_attach.h).
 */
#include "audit_attach.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The pending record to add, or NULL once the entry was written (or when
 * it cannot be made: then the write goes alone and the frontend logs). */
static const struct steep_audit_pending *pending_of(struct steep_audit_attach *a)
{
    if (a->written || a->failed || !a->inner->batch)
        return NULL;
    if (!a->made) {
        a->entry->microsecond = now_us();
        if (steep_audit_pending_make(a->audit, a->entry, &a->pending) < 0) {
            log_error("audit: entry not attached: %s", steep_error_get());
            a->failed = true; /* never try again; the frontend logs it */
            return NULL;
        }
        a->made = true;
    }
    return &a->pending;
}

static void landed(struct steep_audit_attach *a)
{
    steep_audit_pending_written(a->audit, &a->pending);
    a->written = true;
}

static int attach_get(void *ctx, const char *key, struct steep_buf *value)
{
    struct steep_audit_attach *a = ctx;
    return a->inner->get(a->inner->ctx, key, value);
}

static int attach_keys(void *ctx, const char *prefix, steep_store_scan_fn fn, void *arg)
{
    struct steep_audit_attach *a = ctx;
    return a->inner->keys(a->inner->ctx, prefix, fn, arg);
}

static int attach_wait_change(void *ctx, const char *key, const struct steep_buf *known,
                              int wait_ms, bool *changed)
{
    struct steep_audit_attach *a = ctx;
    return a->inner->wait_change(a->inner->ctx, key, known, wait_ms, changed);
}

/* ops, then the pending record, in one batch. */
static int with_entry(struct steep_audit_attach *a, const struct steep_audit_pending *pending,
                      const struct steep_store_op *ops, size_t n)
{
    struct steep_store_op *all = malloc((n + 1) * sizeof *all);
    if (!all)
        return steep_error_set("out of memory");
    if (n)
        memcpy(all, ops, n * sizeof *ops);
    all[n] = steep_audit_pending_op(pending);
    int rc = a->inner->batch(a->inner->ctx, all, n + 1);
    free(all);
    if (rc == STEEP_STORE_OK)
        landed(a);
    return rc;
}

static int attach_batch(void *ctx, const struct steep_store_op *ops, size_t n)
{
    struct steep_audit_attach *a = ctx;
    const struct steep_audit_pending *pending = pending_of(a);
    return pending ? with_entry(a, pending, ops, n) : a->inner->batch(a->inner->ctx, ops, n);
}

static int attach_put(void *ctx, const char *key, const void *value, size_t len)
{
    struct steep_audit_attach *a = ctx;
    const struct steep_audit_pending *pending = pending_of(a);
    struct steep_store_op op = {false, key, strlen(key), value, len};
    return pending ? with_entry(a, pending, &op, 1) : a->inner->put(a->inner->ctx, key, value, len);
}

static int attach_remove(void *ctx, const char *key)
{
    struct steep_audit_attach *a = ctx;
    const struct steep_audit_pending *pending = pending_of(a);
    struct steep_store_op op = {.is_delete = true, .key = key, .key_len = strlen(key)};
    return pending ? with_entry(a, pending, &op, 1) : a->inner->remove(a->inner->ctx, key);
}

/* The swap's follow-up writes carry the entry: written only if it swaps. */
static int attach_compare_and_swap(void *ctx, struct steep_store_cas *cas)
{
    struct steep_audit_attach *a = ctx;
    const struct steep_audit_pending *pending = pending_of(a);
    if (!pending)
        return a->inner->compare_and_swap(a->inner->ctx, cas);
    struct steep_store_op *then = malloc((cas->n_then + 1) * sizeof *then);
    if (!then)
        return steep_error_set("out of memory");
    if (cas->n_then)
        memcpy(then, cas->then, cas->n_then * sizeof *then);
    then[cas->n_then] = steep_audit_pending_op(pending);
    struct steep_store_cas carried = *cas;
    carried.then = then;
    carried.n_then = cas->n_then + 1;
    int rc = a->inner->compare_and_swap(a->inner->ctx, &carried);
    free(then);
    cas->swapped = carried.swapped;
    cas->current_absent = carried.current_absent;
    if (rc == STEEP_STORE_OK && carried.swapped)
        landed(a);
    return rc;
}

int steep_audit_attach_begin(struct steep_audit_attach *a, struct steep_audit *audit,
                             const struct steep_kv *inner, const char *carried)
{
    memset(a, 0, sizeof *a);
    size_t hex = carried ? strlen(carried) : 0;
    if (!audit || hex == 0 || hex % 2 != 0 || hex > 2 * 256 * 1024)
        return -1;
    uint8_t *packed = malloc(hex / 2);
    if (!packed || steep_hex_decode(carried, packed, hex / 2) < 0) {
        free(packed);
        return -1;
    }
    a->entry = teaclave_common_proto__entry__unpack(NULL, hex / 2, packed);
    free(packed);
    if (!a->entry || a->entry->ip.len != 16) {
        if (a->entry)
            teaclave_common_proto__entry__free_unpacked(a->entry, NULL);
        a->entry = NULL;
        return -1;
    }
    a->inner = inner;
    a->audit = audit;
    a->kv = (struct steep_kv){
        .ctx = a,
        .get = attach_get,
        .put = attach_put,
        .remove = attach_remove,
        .compare_and_swap = attach_compare_and_swap,
        .keys = attach_keys,
        .wait_change = inner->wait_change ? attach_wait_change : NULL,
        .batch = inner->batch ? attach_batch : NULL,
    };
    return 0;
}

void steep_audit_attach_end(struct steep_audit_attach *a)
{
    if (a->made)
        steep_audit_pending_free(&a->pending);
    if (a->entry)
        teaclave_common_proto__entry__free_unpacked(a->entry, NULL);
    a->entry = NULL;
}
