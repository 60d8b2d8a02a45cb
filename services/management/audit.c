/*
 * The audit log: appends to the hash chain and walks it back from the head
 * (layout and guarantees in audit.h).
 *
 * The log has one writer, the management service: appends are serialized
 * by a mutex on a cached head and write the new records together with the
 * new head in ONE atomic storage Batch (one synced write per SaveLogs, which
 * is what a frontend request waits for). Queries match the cached newest
 * entries (audit_cache.c) and go on in storage below them; every record read
 * from storage is checked against the hash and position the chain expects.
 * Verification never uses the cache: it walks the stored chain from the
 * stored head, then lists every stored record and fails on one the chain
 * does not reach (injected, or written by a second writer whose head was
 * overwritten).
 */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_internal.h"
#include "core/error.h"
#include "core/text.h"
#include "core/log.h"
#include "rpc/rpc.h"

static _Thread_local int last_code = STEEP_GRPC_OK;

int steep_audit_last_code(void)
{
    return last_code;
}

int audit_fail(int code, const char *fmt, ...)
{
    char message[STEEP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    last_code = code;
    return steep_error_set("%s", message);
}

int audit_storage_failure(const char *what)
{
    log_error("audit: %s: %s", what, steep_error_get());
    return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
}

struct steep_audit *steep_audit_open(const struct steep_audit_store *store, const uint8_t *mac_key)
{
    struct steep_audit *audit = calloc(1, sizeof *audit);
    if (!audit) {
        steep_error_set("out of memory");
        return NULL;
    }
    audit->store = *store;
    if (mac_key) {
        audit->keyed = true;
        memcpy(audit->mac_key, mac_key, STEEP_AUDIT_MAC_KEY_LEN);
    }
    if (audit_cache_init(&audit->cache, AUDIT_CACHE_ENTRIES) < 0)
        audit_cache_init(&audit->cache, 0); /* no memory for a cache: work without */
    pthread_mutex_init(&audit->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&audit->flusher_wake, &attr);
    pthread_condattr_destroy(&attr);
    return audit;
}

void steep_audit_free(struct steep_audit *audit)
{
    if (!audit)
        return;
    pthread_mutex_lock(&audit->lock);
    bool flushing = audit->flushing;
    audit->flusher_stop = true;
    pthread_cond_signal(&audit->flusher_wake);
    pthread_mutex_unlock(&audit->lock);
    if (flushing)
        pthread_join(audit->flusher, NULL);
    /* what is still queued stays in storage: the next process chains it */
    audit_pending_queue_free(&audit->pending);
    pthread_cond_destroy(&audit->flusher_wake);
    OPENSSL_cleanse(audit->mac_key, sizeof audit->mac_key);
    audit_cache_free(&audit->cache);
    pthread_mutex_destroy(&audit->lock);
    free(audit);
}

/* Reads the stored head (absent: the empty chain). */
static int read_head(struct steep_audit *audit, struct audit_head *head)
{
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = audit->store.get(audit->store.ctx, AUDIT_HEAD_KEY, strlen(AUDIT_HEAD_KEY), &value);
    if (rc == STEEP_STORE_ERROR) {
        steep_buf_free(&value);
        return audit_storage_failure("reading the chain head");
    }
    memset(head, 0, sizeof *head);
    if (rc == STEEP_STORE_OK)
        rc = audit_head_decode(audit, value.data, value.len, head);
    else
        rc = 0;
    steep_buf_free(&value);
    return rc;
}

/* ---- append --------------------------------------------------------------- */

struct pending_records {
    struct steep_buf *values;
    char (*keys)[AUDIT_KEY_MAX];
    struct steep_store_op *ops;
    size_t n;
};

static void pending_free(struct pending_records *p)
{
    for (size_t i = 0; p->values && i < p->n; i++)
        steep_buf_free(&p->values[i]);
    free(p->values);
    free(p->keys);
    free(p->ops);
}

/* Builds the records of entries on top of head; *next is the head after them. */
static int build_records(const struct audit_head *head, TeaclaveCommonProto__Entry *const *entries,
                         struct pending_records *p, struct audit_head *next)
{
    *next = *head;
    for (size_t i = 0; i < p->n; i++) {
        uint8_t hash[AUDIT_HASH_LEN];
        if (audit_record_encode(next->count, next->last, entries[i], &p->values[i], hash) < 0)
            return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: %s", steep_error_get());
        audit_record_key(next->count, hash, p->keys[i]);
        p->ops[i] = (struct steep_store_op){
            .key = p->keys[i],
            .key_len = strlen(p->keys[i]),
            .value = p->values[i].data,
            .value_len = p->values[i].len,
        };
        memcpy(next->last, hash, AUDIT_HASH_LEN);
        next->count++;
    }
    return 0;
}

/* ---- retention ------------------------------------------------------------ */

void steep_audit_set_retention(struct steep_audit *audit, uint64_t max_entries)
{
    pthread_mutex_lock(&audit->lock);
    audit->retention = max_entries;
    pthread_mutex_unlock(&audit->lock);
}

struct found_key {
    char *key;
    int found;
};

static int take_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                    size_t value_len)
{
    (void)value;
    (void)value_len;
    struct found_key *f = arg;
    if (key_len != AUDIT_KEY_MAX - 1 || f->found++ > 0)
        return -1;
    memcpy(f->key, key, key_len);
    f->key[key_len] = '\0';
    return 0;
}

/* The keys of the oldest stored records beyond the retention (at most
 * PRUNE_MAX per append, so an append stays cheap once the limit is
 * lowered), and the head after removing them. Pruning starts when the log
 * holds retention + retention/16 entries (at least 16 more), so it runs once
 * per that many entries, not on every append. */
#define PRUNE_MAX 256
static int plan_prune(struct steep_audit *audit, uint64_t stored, struct audit_head *next,
                      char (**keys)[AUDIT_KEY_MAX], size_t *n_keys)
{
    *keys = NULL;
    *n_keys = 0;
    uint64_t max = audit->retention, kept = next->count - next->first;
    uint64_t slack = max / 16 > 16 ? max / 16 : 16;
    if (max == 0 || kept <= max + slack)
        return 0;
    uint64_t drop = kept - max;
    if (drop > PRUNE_MAX)
        drop = PRUNE_MAX;
    if (drop > stored - next->first) /* only records already stored */
        drop = stored - next->first;
    if (drop == 0)
        return 0;
    *keys = calloc(drop, sizeof **keys);
    if (!*keys)
        return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    for (uint64_t i = 0; i < drop; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "audit-entry-%016llx",
                 (unsigned long long)(next->first + i));
        struct found_key f = {(*keys)[i], 0};
        int rc = audit->store.keys(audit->store.ctx, prefix, take_key, &f);
        if (f.found != 1)
            return rc == STEEP_STORE_ERROR && f.found == 0
                       ? audit_storage_failure("listing the oldest audit records")
                       : audit_fail(STEEP_GRPC_UNKNOWN,
                                    "audit log error, reason: chain broken at entry %llu "
                                    "(record missing)",
                                    (unsigned long long)(next->first + i));
    }
    /* The new first record names the last removed one's hash (its key's). */
    if (steep_hex_decode((*keys)[drop - 1] + 29, next->first_prev, AUDIT_HASH_LEN) < 0)
        return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: malformed record key");
    next->first += drop;
    *n_keys = (size_t)drop;
    return 0;
}

/* The head (read once, and again after a failed append) and the pending
 * entries an earlier process left. */
static int ensure_head(struct steep_audit *audit)
{
    struct audit_pending_queue *q = &audit->pending;
    if (!audit->head_loaded) {
        GUARD(read_head(audit, &audit->head));
        audit->head_loaded = true;
        /* Did the failed append land? Then its pending entries are chained
         * (and their records deleted). */
        if (q->unsure > 0 && audit->head.count == q->unsure_base + q->unsure_total)
            audit_pending_drop(q, q->unsure);
        q->unsure = 0;
    }
    return audit_pending_recover(audit);
}

int steep_audit_append(struct steep_audit *audit, TeaclaveCommonProto__Entry *const *entries,
                       size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!entries[i] || entries[i]->ip.len != AUDIT_IP_LEN)
            return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error");
    pthread_mutex_lock(&audit->lock);
    struct pending_records p = {0};
    TeaclaveCommonProto__Entry **all = NULL;
    char(*pruned)[AUDIT_KEY_MAX] = NULL;
    size_t n_pruned = 0, k = 0;
    struct audit_head next;
    uint8_t next_raw[AUDIT_HEAD_LEN];
    int rc = ensure_head(audit);
    /* The queued pending entries (older) go first, then these: their
     * records, the head, the pending records' deletes and the pruned
     * records' deletes, in one atomic (and synced) batch. */
    k = rc == 0 ? audit->pending.n : 0;
    p.n = n + k;
    if (rc < 0 || p.n == 0)
        goto unlock;
    p.values = calloc(p.n, sizeof *p.values);
    p.keys = calloc(p.n, sizeof *p.keys);
    p.ops = calloc(p.n + 1 + k, sizeof *p.ops);
    all = calloc(p.n, sizeof *all);
    if (!p.values || !p.keys || !p.ops || !all) {
        rc = audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
        goto unlock;
    }
    for (size_t i = 0; i < k; i++)
        all[i] = audit->pending.items[i].entry;
    for (size_t i = 0; i < n; i++)
        all[k + i] = entries[i];
    rc = build_records(&audit->head, all, &p, &next);
    if (rc == 0)
        rc = plan_prune(audit, audit->head.count, &next, &pruned, &n_pruned);
    size_t n_ops = p.n + 1 + k;
    if (rc == 0 && n_pruned > 0) {
        struct steep_store_op *ops = realloc(p.ops, (n_ops + n_pruned) * sizeof *ops);
        if (ops)
            p.ops = ops;
        else
            rc = audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    }
    if (rc == 0) {
        p.ops[p.n] = (struct steep_store_op){
            .key = AUDIT_HEAD_KEY,
            .key_len = strlen(AUDIT_HEAD_KEY),
            .value = next_raw,
            .value_len = audit_head_encode(audit, &next, next_raw),
        };
        for (size_t i = 0; i < k; i++)
            p.ops[p.n + 1 + i] =
                (struct steep_store_op){.is_delete = true,
                                        .key = audit->pending.items[i].key,
                                        .key_len = strlen(audit->pending.items[i].key)};
        for (size_t i = 0; i < n_pruned; i++)
            p.ops[n_ops + i] = (struct steep_store_op){
                .is_delete = true, .key = pruned[i], .key_len = strlen(pruned[i])};
        if (audit->store.batch(audit->store.ctx, p.ops, n_ops + n_pruned) != STEEP_STORE_OK) {
            rc = audit_storage_failure("appending audit records");
            /* The batch may have been applied before the failure was seen
             * (a lost answer): read the head again before the next append,
             * and learn from it whether the pending entries were chained. */
            audit->head_loaded = false;
            audit->pending.unsure = k;
            audit->pending.unsure_base = audit->head.count;
            audit->pending.unsure_total = p.n;
            audit_cache_reset(&audit->cache, false, 0);
        }
    }
    if (rc == 0) {
        /* After a prune the cache may hold removed entries: start it over. */
        if (!audit->cache.known || audit->cache.top != audit->head.count || n_pruned > 0)
            audit_cache_reset(&audit->cache, true, audit->head.count);
        for (size_t i = 0; i < p.n; i++)
            audit_cache_push(&audit->cache, p.values[i].data, all[i]);
        audit->head = next;
        audit_pending_drop(&audit->pending, k);
    }
unlock:
    pthread_mutex_unlock(&audit->lock);
    if (rc == 0 && n_pruned > 0)
        log_debug("audit: retention removed entries below %llu (keeping %llu)",
                  (unsigned long long)next.first, (unsigned long long)(next.count - next.first));
    free(pruned);
    free(all);
    pending_free(&p);
    return rc;
}

/* ---- walking the chain ---------------------------------------------------- */

/* Called newest first with each record's position, hash and prev hash, and
 * its entry when the walk decodes them (the callback owns it); returns 0 to
 * continue, 1 to stop, -1 to fail. */
typedef int (*visit_fn)(void *arg, uint64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
                        const uint8_t prev[AUDIT_HASH_LEN], TeaclaveCommonProto__Entry *entry);

/* Where a walk ends: the first position kept by the retention, and the
 * prev hash its record must name (zeros at position 0). */
struct walk_floor {
    uint64_t first;
    uint8_t first_prev[AUDIT_HASH_LEN];
    bool may_rise; /* a query: appends may prune below it while it walks */
};

/* Walks positions count-1 down to floor->first, the record at count-1
 * having hash. */
static int walk_from(struct steep_audit *audit, uint64_t count, const uint8_t top[AUDIT_HASH_LEN],
                     const struct walk_floor *floor, visit_fn visit, bool decode, void *arg)
{
    uint8_t hash[AUDIT_HASH_LEN];
    memcpy(hash, top, AUDIT_HASH_LEN);
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = 0;
    for (uint64_t seq = count; seq-- > floor->first && rc == 0;) {
        char key[AUDIT_KEY_MAX];
        audit_record_key(seq, hash, key);
        int found = audit->store.get(audit->store.ctx, key, strlen(key), &value);
        if (found == STEEP_STORE_ERROR) {
            rc = audit_storage_failure("reading an audit record");
            break;
        }
        if (found == STEEP_STORE_NOT_FOUND && floor->may_rise) {
            /* Pruned by the retention since the walk began? Then it ends here. */
            struct audit_head now;
            if (read_head(audit, &now) == 0 && seq < now.first)
                break;
        }
        if (found == STEEP_STORE_NOT_FOUND) {
            rc = audit_fail(STEEP_GRPC_UNKNOWN,
                            "audit log error, reason: chain broken at entry %llu (record "
                            "missing)",
                            (unsigned long long)seq);
            break;
        }
        TeaclaveCommonProto__Entry *entry = NULL;
        uint8_t prev[AUDIT_HASH_LEN];
        rc = audit_record_decode(value.data, value.len, seq, hash, prev, decode ? &entry : NULL);
        if (rc < 0)
            break;
        if (seq == floor->first && floor->first > 0 &&
            CRYPTO_memcmp(prev, floor->first_prev, AUDIT_HASH_LEN) != 0) {
            audit_entry_free(entry);
            rc = audit_fail(STEEP_GRPC_UNKNOWN,
                            "audit log error, reason: chain broken at entry %llu (not the "
                            "first entry the head names)",
                            (unsigned long long)seq);
            break;
        }
        rc = visit(arg, seq, hash, prev, entry);
        memcpy(hash, prev, AUDIT_HASH_LEN);
    }
    steep_buf_free(&value);
    return rc < 0 ? -1 : 0;
}

/* Walks the whole (kept) chain from the stored head. */
static int walk(struct steep_audit *audit, visit_fn visit, bool decode, void *arg,
                struct audit_head *head)
{
    GUARD(read_head(audit, head));
    struct walk_floor floor = {.first = head->first};
    memcpy(floor.first_prev, head->first_prev, AUDIT_HASH_LEN);
    return walk_from(audit, head->count, head->last, &floor, visit, decode, arg);
}

/* ---- verify --------------------------------------------------------------- */

struct chain_hashes {
    uint8_t (*hashes)[AUDIT_HASH_LEN]; /* by position - first */
    uint64_t first, count;
    uint64_t stored; /* records listed in storage */
    bool orphan;
};

static int remember_hash(void *arg, uint64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
                         const uint8_t prev[AUDIT_HASH_LEN], TeaclaveCommonProto__Entry *entry)
{
    struct chain_hashes *c = arg;
    if (!c->hashes) {
        c->count = seq + 1; /* the newest record comes first */
        c->hashes = calloc(c->count - c->first, AUDIT_HASH_LEN);
        if (!c->hashes)
            return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    }
    memcpy(c->hashes[seq - c->first], hash, AUDIT_HASH_LEN);
    return 0;
}

/* Every stored record must be the chain's record at its position. */
static int check_on_chain(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                          size_t value_len)
{
    struct chain_hashes *c = arg;
    uint8_t seq_bytes[8], hash[AUDIT_HASH_LEN], dash = 0;
    const uint8_t *prefix = NULL;
    c->stored++;
    /* "audit-entry-<16 hex seq>-<64 hex hash>", as audit_record_key writes it */
    struct steep_cursor k = steep_cursor_make(key, key_len);
    bool on_chain = key_len == AUDIT_KEY_MAX - 1 && steep_cursor_read_span(&k, &prefix, 12) == 0 &&
                    memcmp(prefix, "audit-entry-", 12) == 0 &&
                    steep_cursor_read_hex(&k, seq_bytes, sizeof seq_bytes) == 0 &&
                    steep_cursor_read_u8(&k, &dash) == 0 && dash == '-' &&
                    steep_cursor_read_hex(&k, hash, AUDIT_HASH_LEN) == 0;
    uint64_t seq = 0;
    for (size_t i = 0; i < sizeof seq_bytes; i++)
        seq = seq << 8 | seq_bytes[i];
    on_chain = on_chain && seq >= c->first && seq < c->count &&
               memcmp(c->hashes[seq - c->first], hash, AUDIT_HASH_LEN) == 0;
    if (!on_chain) {
        c->orphan = true;
        return -1;
    }
    return 0;
}

int steep_audit_verify(struct steep_audit *audit, uint64_t *count)
{
    GUARD(steep_audit_flush(audit)); /* what is pending belongs on the chain */
    struct chain_hashes chain = {0};
    struct audit_head head = {0};
    int rc = read_head(audit, &head);
    chain.first = head.first;
    if (rc == 0)
        rc = walk(audit, remember_hash, false, &chain, &head);
    uint64_t n = head.count - head.first;
    if (rc == 0) {
        int listed = audit->store.keys(audit->store.ctx, "audit-entry", check_on_chain, &chain);
        if (chain.orphan)
            rc = audit_fail(STEEP_GRPC_UNKNOWN,
                            "audit log error, reason: a stored record is not on the chain");
        else if (listed != STEEP_STORE_OK)
            rc = audit_storage_failure("listing audit records");
    }
    free(chain.hashes);
    if (rc == 0)
        *count = n;
    return rc;
}

/* ---- query ---------------------------------------------------------------- */

struct query_results {
    struct steep_audit *audit;
    const struct audit_query *query;
    uint64_t limit;
    uint64_t walk_count; /* the walk's starting length */
    TeaclaveCommonProto__Entry **entries;
    size_t n;
};

static int add_result(struct query_results *r, TeaclaveCommonProto__Entry *entry)
{
    TeaclaveCommonProto__Entry **grown = realloc(r->entries, (r->n + 1) * sizeof *grown);
    if (!grown) {
        audit_entry_free(entry);
        return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    }
    r->entries = grown;
    r->entries[r->n++] = entry;
    return r->n >= r->limit ? 1 : 0;
}

/* A record fetched (and verified) below the cache: remember it, then match. */
static int collect(void *arg, uint64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
                   const uint8_t prev[AUDIT_HASH_LEN], TeaclaveCommonProto__Entry *entry)
{
    struct query_results *r = arg;
    struct steep_audit *audit = r->audit;
    pthread_mutex_lock(&audit->lock);
    /* The walk began at the stored head: with nothing cached, that is the top
     * (an append in between would have made the cache known). */
    if (!audit->cache.known && seq + 1 == r->walk_count)
        audit_cache_reset(&audit->cache, true, r->walk_count);
    audit_cache_prepend(&audit->cache, seq, prev, entry);
    pthread_mutex_unlock(&audit->lock);
    if (!audit_query_match(r->query, entry)) {
        audit_entry_free(entry);
        return 0;
    }
    return add_result(r, entry);
}

/* Matches the cached entries, newest first, without holding the lock. Sets
 * where the walk in storage must go on (*count records below, the top one
 * with hash *next); returns 1 when the limit was reached. */
static int query_cache(struct query_results *r, uint64_t *count, uint8_t next[AUDIT_HASH_LEN],
                       bool *have_start)
{
    struct audit_cached **items = NULL;
    uint64_t base = 0;
    pthread_mutex_lock(&r->audit->lock);
    size_t n = audit_cache_snapshot(&r->audit->cache, &items, &base);
    pthread_mutex_unlock(&r->audit->lock);
    *have_start = n > 0;
    if (n == 0)
        return 0;
    *count = base;
    memcpy(next, audit_cached_prev(items[0]), AUDIT_HASH_LEN);
    int rc = 0;
    for (size_t i = n; i-- > 0 && rc == 0;) {
        const TeaclaveCommonProto__Entry *entry = audit_cached_entry(items[i]);
        if (!audit_query_match(r->query, entry))
            continue;
        TeaclaveCommonProto__Entry *copy = audit_entry_copy(entry);
        rc = copy ? add_result(r, copy) : audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    }
    for (size_t i = 0; i < n; i++)
        audit_cached_release(items[i]);
    free(items);
    return rc;
}

void steep_audit_entries_free(TeaclaveCommonProto__Entry **entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        audit_entry_free(entries[i]);
    free(entries);
}

static int query(struct steep_audit *audit, struct query_results *r)
{
    uint64_t count = 0;
    uint8_t next[AUDIT_HASH_LEN];
    bool have_start = false;
    int rc = query_cache(r, &count, next, &have_start);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    /* The floor: this writer's head when it has one (so what it cached
     * needs no storage), else the stored head. */
    struct audit_head head;
    pthread_mutex_lock(&audit->lock);
    bool loaded = audit->head_loaded;
    head = audit->head;
    pthread_mutex_unlock(&audit->lock);
    if (!have_start || !loaded)
        GUARD(read_head(audit, &head));
    if (!have_start) {
        count = head.count;
        memcpy(next, head.last, AUDIT_HASH_LEN);
    }
    struct walk_floor floor = {.first = head.first, .may_rise = true};
    memcpy(floor.first_prev, head.first_prev, AUDIT_HASH_LEN);
    if (count < floor.first)
        return 0; /* the cache reached below what the retention keeps */
    r->walk_count = count;
    return walk_from(audit, count, next, &floor, collect, true, r);
}

int steep_audit_query(struct steep_audit *audit, const char *query_text, uint64_t limit,
                      TeaclaveCommonProto__Entry ***entries, size_t *n)
{
    *entries = NULL;
    *n = 0;
    struct query_results results = {.audit = audit, .limit = limit};
    struct audit_query *parsed = NULL;
    GUARD(audit_query_parse(query_text, &parsed));
    if (limit > 0 && steep_audit_flush(audit) < 0) { /* answered requests' entries, chained */
        audit_query_free(parsed);
        return -1;
    }
    results.query = parsed;
    int rc = limit > 0 ? query(audit, &results) : 0;
    audit_query_free(parsed);
    if (rc < 0) {
        steep_audit_entries_free(results.entries, results.n);
        return -1;
    }
    *entries = results.entries;
    *n = results.n;
    return 0;
}
