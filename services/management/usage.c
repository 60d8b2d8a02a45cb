/*
 * Usage counts of functions without a quota, off the invoke's synced write
 * (issue 15 item 1). An invoke of such a function does not update the
 * shared "usage-<function>" record (a compare-and-swap every invoke of that
 * function would contend on, and one more synced write before the answer):
 * its stage write also puts "usagepending-<function uuid>-<task uuid>", in
 * the same atomic write, so the count is as durable as the stage itself.
 * The folder (steep_management_usage_fold, once a second in the service)
 * adds each function's pending records to its usage record and deletes
 * them in ONE compare-and-swap with deletes, so a crash at any moment
 * neither loses nor doubles a count. Readers add the pending records still
 * unfolded (usage_current). Functions with a quota reserve their use on the
 * usage record before staging, as before (integrity.c).
 */
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "records.h"

#define PENDING_PREFIX "usagepending"
#define UUID_LEN       36
#define FOLD_MAX       512 /* pending records folded per write */

int steep_usage_pending_key(char out[STEEP_USAGE_PENDING_KEY], const char *function_uuid,
                            const char *task_uuid)
{
    int n =
        snprintf(out, STEEP_USAGE_PENDING_KEY, PENDING_PREFIX "-%s-%s", function_uuid, task_uuid);
    ENSURE(n > 0 && n < STEEP_USAGE_PENDING_KEY, "usage key too long");
    return 0;
}

struct pending {
    char (*keys)[STEEP_USAGE_PENDING_KEY];
    size_t n, cap;
    const char *function; /* NULL: every function */
};

static int collect(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                   size_t value_len)
{
    (void)value, (void)value_len;
    struct pending *p = arg;
    size_t prefix = sizeof PENDING_PREFIX; /* with its "-" */
    if (key_len != prefix + UUID_LEN + 1 + UUID_LEN)
        return 0;
    if (p->function && memcmp(key + prefix, p->function, UUID_LEN) != 0)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        void *grown = realloc(p->keys, cap * sizeof *p->keys);
        ENSURE(grown != NULL, "out of memory");
        p->keys = grown;
        p->cap = cap;
    }
    memcpy(p->keys[p->n], key, key_len);
    p->keys[p->n][key_len] = '\0';
    p->n++;
    return p->n >= 100000; /* enough for one pass */
}

static int scan(const struct steep_kv *kv, const char *function, struct pending *p)
{
    char prefix[STEEP_USAGE_PENDING_KEY];
    *p = (struct pending){.function = function};
    if (function)
        snprintf(prefix, sizeof prefix, PENDING_PREFIX "-%s", function);
    else
        snprintf(prefix, sizeof prefix, PENDING_PREFIX);
    return kv->keys(kv->ctx, prefix, collect, p) == STEEP_STORE_OK ? 0 : -1;
}

static int add(json_t *usage, void *arg)
{
    json_int_t used = json_integer_value(json_object_get(usage, "use_numbers"));
    json_object_set_new(usage, "use_numbers", json_integer(used + *(const size_t *)arg));
    return 0;
}

/* Folds keys[0..n) (all of one function) into its usage record. */
static int fold_function(const struct steep_kv *kv, char (*keys)[STEEP_USAGE_PENDING_KEY], size_t n)
{
    char function[UUID_LEN + 1], usage_key[64];
    memcpy(function, keys[0] + sizeof PENDING_PREFIX, UUID_LEN);
    function[UUID_LEN] = '\0';
    snprintf(usage_key, sizeof usage_key, "usage-%s", function);
    struct steep_store_op *deletes = calloc(n, sizeof *deletes);
    ENSURE(deletes != NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        deletes[i] = (struct steep_store_op){true, keys[i], strlen(keys[i]), NULL, 0};
    json_t *initial = json_pack("{s:s, s:i}", "function_id", function, "use_numbers", 0);
    int rc = initial ? steep_record_update_initial_then(kv, usage_key, initial, add, &n, deletes, n)
                     : steep_error_set("out of memory");
    json_decref(initial);
    free(deletes);
    return rc == 0 ? 0 : -1;
}

int steep_management_usage_fold(struct steep_management *m)
{
    struct pending p;
    int rc = scan(&m->kv, NULL, &p);
    /* Keys come sorted: each function's pending records are one run. */
    for (size_t start = 0; rc == 0 && start < p.n;) {
        size_t end = start + 1;
        while (end < p.n && end - start < FOLD_MAX &&
               memcmp(p.keys[end], p.keys[start], sizeof PENDING_PREFIX + UUID_LEN) == 0)
            end++;
        rc = fold_function(&m->kv, p.keys + start, end - start);
        start = end;
    }
    free(p.keys);
    return rc;
}

int steep_management_usage_pending(struct steep_management *m, const char *function_uuid,
                                   int64_t *pending)
{
    struct pending p;
    int rc = scan(&m->kv, function_uuid, &p);
    if (rc == 0)
        *pending = (int64_t)p.n;
    free(p.keys);
    return rc;
}

int steep_management_usage_current(struct steep_management *m, const char *function_uuid,
                                   int64_t *current)
{
    char usage_key[64];
    snprintf(usage_key, sizeof usage_key, "usage-%s", function_uuid);
    /* The record, then its pending records, then the record again: equal
     * twice means no fold moved pending records in between. */
    struct steep_buf before = STEEP_BUF_INIT, after = STEEP_BUF_INIT;
    int rc = -1;
    for (int attempt = 0; attempt < 8 && rc != 0; attempt++) {
        json_t *usage = NULL;
        int found = steep_record_load(&m->kv, usage_key, &usage, &before);
        if (found == STEEP_STORE_ERROR)
            break;
        struct pending p;
        if (scan(&m->kv, function_uuid, &p) < 0) {
            json_decref(usage);
            free(p.keys);
            break;
        }
        int again = m->kv.get(m->kv.ctx, usage_key, &after);
        bool same = again == found &&
                    (found != STEEP_STORE_OK ||
                     (after.len == before.len && memcmp(after.data, before.data, before.len) == 0));
        if (again != STEEP_STORE_ERROR && same) {
            *current = (found == STEEP_STORE_OK
                            ? (int64_t)json_integer_value(json_object_get(usage, "use_numbers"))
                            : 0) +
                       (int64_t)p.n;
            rc = 0;
        }
        json_decref(usage);
        free(p.keys);
        if (again == STEEP_STORE_ERROR)
            break;
    }
    steep_buf_free(&before);
    steep_buf_free(&after);
    return rc;
}
