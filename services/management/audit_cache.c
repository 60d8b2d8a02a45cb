/*
 * The audit log's cache of its newest entries, so queries need not fetch
 * every record from storage again (one Get each, sequentially, because each
 * record names the next).
 *
 * The cache holds a contiguous range [base, top) of chain positions ending
 * at the head, in a ring. Appends push at the top (evicting the oldest when
 * full); a query walking storage below the range prepends what it verified.
 * Items are reference-counted so a query can match a snapshot of them
 * without holding the log's lock while appends evict. Only verified
 * records enter: this process's own appends, and records whose hash and
 * position the walk checked. steep_audit_verify() never reads the cache.
 * Callers hold the log's lock for every function here except
 * audit_cached_release().
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "audit_internal.h"

struct audit_cached {
    atomic_int refs;
    uint8_t prev[AUDIT_HASH_LEN];
    TeaclaveCommonProto__Entry *entry;
};

TeaclaveCommonProto__Entry *audit_entry_copy(const TeaclaveCommonProto__Entry *from)
{
    TeaclaveCommonProto__Entry *to = malloc(sizeof *to);
    if (!to)
        return NULL;
    teaclave_common_proto__entry__init(to);
    to->microsecond = from->microsecond;
    to->result = from->result;
    to->user = strdup(from->user ? from->user : "");
    to->message = strdup(from->message ? from->message : "");
    to->ip.data = malloc(AUDIT_IP_LEN);
    if (!to->user || !to->message || !to->ip.data) {
        free(to->user);
        free(to->message);
        free(to->ip.data);
        free(to);
        return NULL;
    }
    memcpy(to->ip.data, from->ip.data, AUDIT_IP_LEN);
    to->ip.len = AUDIT_IP_LEN;
    return to;
}

const TeaclaveCommonProto__Entry *audit_cached_entry(const struct audit_cached *item)
{
    return item->entry;
}

const uint8_t *audit_cached_prev(const struct audit_cached *item)
{
    return item->prev;
}

void audit_cached_release(struct audit_cached *item)
{
    if (item && atomic_fetch_sub(&item->refs, 1) == 1) {
        audit_entry_free(item->entry);
        free(item);
    }
}

static struct audit_cached *cached_new(const uint8_t prev[AUDIT_HASH_LEN],
                                       const TeaclaveCommonProto__Entry *entry)
{
    struct audit_cached *item = malloc(sizeof *item);
    if (!item)
        return NULL;
    item->entry = audit_entry_copy(entry);
    if (!item->entry) {
        free(item);
        return NULL;
    }
    atomic_init(&item->refs, 1);
    memcpy(item->prev, prev, AUDIT_HASH_LEN);
    return item;
}

int audit_cache_init(struct audit_cache *cache, uint64_t capacity)
{
    memset(cache, 0, sizeof *cache);
    cache->capacity = capacity;
    if (capacity == 0)
        return 0;
    cache->items = calloc(capacity, sizeof *cache->items);
    return cache->items ? 0 : -1;
}

static struct audit_cached **slot(struct audit_cache *cache, uint64_t seq)
{
    return &cache->items[seq % cache->capacity];
}

void audit_cache_reset(struct audit_cache *cache, bool known, uint64_t top)
{
    for (uint64_t seq = cache->base; cache->known && seq < cache->top; seq++) {
        audit_cached_release(*slot(cache, seq));
        *slot(cache, seq) = NULL;
    }
    cache->known = known;
    cache->base = cache->top = top;
}

void audit_cache_free(struct audit_cache *cache)
{
    audit_cache_reset(cache, false, 0);
    free(cache->items);
}

void audit_cache_push(struct audit_cache *cache, const uint8_t prev[AUDIT_HASH_LEN],
                      const TeaclaveCommonProto__Entry *entry)
{
    if (cache->capacity == 0)
        return;
    struct audit_cached *item = cached_new(prev, entry);
    if (!item) {
        audit_cache_reset(cache, false, 0); /* out of memory: forget, stay correct */
        return;
    }
    if (cache->top - cache->base == cache->capacity) {
        audit_cached_release(*slot(cache, cache->base));
        *slot(cache, cache->base) = NULL;
        cache->base++;
    }
    *slot(cache, cache->top) = item;
    cache->top++;
}

void audit_cache_prepend(struct audit_cache *cache, uint64_t seq,
                         const uint8_t prev[AUDIT_HASH_LEN],
                         const TeaclaveCommonProto__Entry *entry)
{
    if (!cache->known || seq + 1 != cache->base || cache->top - cache->base >= cache->capacity)
        return;
    struct audit_cached *item = cached_new(prev, entry);
    if (!item)
        return;
    cache->base--;
    *slot(cache, cache->base) = item;
}

size_t audit_cache_snapshot(struct audit_cache *cache, struct audit_cached ***items, uint64_t *base)
{
    *items = NULL;
    *base = cache->base;
    if (!cache->known || cache->top == cache->base)
        return 0;
    size_t n = (size_t)(cache->top - cache->base);
    struct audit_cached **copy = malloc(n * sizeof *copy);
    if (!copy)
        return 0;
    for (size_t i = 0; i < n; i++) {
        copy[i] = *slot(cache, cache->base + i);
        atomic_fetch_add(&copy[i]->refs, 1);
    }
    *items = copy;
    return n;
}
