/*
 * The audit log: appends to the hash chain and walks it back from the head
 * (layout and guarantees in audit.h).
 *
 * The head is cached in memory and every append uses it as the expected
 * value of a CompareAndSwap, so another writer (or a head changed behind our
 * back) is noticed: the append then adopts the stored head and rebuilds its
 * records on top of it. Walking always starts from the stored head, so
 * queries see what other writers appended, and every record visited is
 * checked against the hash and position the chain expects.
 */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_internal.h"
#include "core/error.h"
#include "core/log.h"
#include "rpc/rpc.h"

#define AUDIT_APPEND_ATTEMPTS 8

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
    pthread_mutex_init(&audit->lock, NULL);
    return audit;
}

void steep_audit_free(struct steep_audit *audit)
{
    if (!audit)
        return;
    OPENSSL_cleanse(audit->mac_key, sizeof audit->mac_key);
    pthread_mutex_destroy(&audit->lock);
    free(audit);
}

/* Reads the stored head (absent: the empty chain). */
static int read_head(struct steep_audit *audit, struct audit_head *head, bool *absent,
                     uint8_t raw[AUDIT_HEAD_LEN])
{
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = audit->store.get(audit->store.ctx, AUDIT_HEAD_KEY, strlen(AUDIT_HEAD_KEY), &value);
    if (rc == STEEP_STORE_ERROR) {
        steep_buf_free(&value);
        return audit_storage_failure("reading the chain head");
    }
    *absent = rc == STEEP_STORE_NOT_FOUND;
    memset(head, 0, sizeof *head);
    if (!*absent) {
        rc = audit_head_decode(audit, value.data, value.len, head);
        if (rc == 0)
            memcpy(raw, value.data, AUDIT_HEAD_LEN);
    }
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

static int ensure_head(struct steep_audit *audit)
{
    if (audit->head_loaded)
        return 0;
    GUARD(read_head(audit, &audit->head, &audit->head_absent, audit->head_raw));
    audit->head_loaded = true;
    return 0;
}

/* One attempt: 1 when the head moved under us (retry), 0 done, -1 failed. */
static int append_once(struct steep_audit *audit, TeaclaveCommonProto__Entry *const *entries,
                       struct pending_records *p)
{
    struct audit_head next;
    GUARD(build_records(&audit->head, entries, p, &next));
    if (audit->store.batch(audit->store.ctx, p->ops, p->n) != STEEP_STORE_OK)
        return audit_storage_failure("writing audit records");
    uint8_t next_raw[AUDIT_HEAD_LEN];
    audit_head_encode(audit, &next, next_raw);
    struct steep_buf current = STEEP_BUF_INIT;
    struct steep_store_cas cas = {
        .key = AUDIT_HEAD_KEY,
        .key_len = strlen(AUDIT_HEAD_KEY),
        .expect_absent = audit->head_absent,
        .expected = audit->head_raw,
        .expected_len = audit->head_absent ? 0 : AUDIT_HEAD_LEN,
        .value = next_raw,
        .value_len = AUDIT_HEAD_LEN,
        .current = &current,
    };
    if (audit->store.compare_and_swap(audit->store.ctx, &cas) != STEEP_STORE_OK) {
        steep_buf_free(&current);
        return audit_storage_failure("moving the chain head");
    }
    if (cas.swapped) {
        steep_buf_free(&current);
        audit->head = next;
        audit->head_absent = false;
        memcpy(audit->head_raw, next_raw, AUDIT_HEAD_LEN);
        return 0;
    }
    log_warn("audit: chain head moved by another writer; retrying");
    audit->head_loaded = false;
    steep_buf_free(&current);
    GUARD(ensure_head(audit));
    return 1;
}

int steep_audit_append(struct steep_audit *audit, TeaclaveCommonProto__Entry *const *entries,
                       size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!entries[i] || entries[i]->ip.len != AUDIT_IP_LEN)
            return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error");
    if (n == 0)
        return 0;
    struct pending_records p = {
        .values = calloc(n, sizeof *p.values),
        .keys = calloc(n, sizeof *p.keys),
        .ops = calloc(n, sizeof *p.ops),
        .n = n,
    };
    int rc = -1;
    if (!p.values || !p.keys || !p.ops) {
        audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
        goto done;
    }
    pthread_mutex_lock(&audit->lock);
    rc = ensure_head(audit);
    for (int attempt = 0; rc == 0; attempt++) {
        if (attempt == AUDIT_APPEND_ATTEMPTS) {
            rc = audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
            break;
        }
        rc = append_once(audit, entries, &p);
        if (rc == 0)
            break;
        if (rc == 1)
            rc = 0;
    }
    pthread_mutex_unlock(&audit->lock);
done:
    pending_free(&p);
    return rc;
}

/* ---- walking the chain ---------------------------------------------------- */

/* Called newest first; returns 0 to continue, 1 to stop, -1 to fail. The
 * callback owns entry. */
typedef int (*visit_fn)(void *arg, TeaclaveCommonProto__Entry *entry);

static int walk(struct steep_audit *audit, visit_fn visit, void *arg, uint64_t *count)
{
    struct audit_head head;
    bool absent;
    uint8_t raw[AUDIT_HEAD_LEN];
    GUARD(read_head(audit, &head, &absent, raw));
    *count = head.count;
    uint8_t hash[AUDIT_HASH_LEN];
    memcpy(hash, head.last, AUDIT_HASH_LEN);
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = 0;
    for (uint64_t seq = head.count; seq-- > 0 && rc == 0;) {
        char key[AUDIT_KEY_MAX];
        audit_record_key(seq, hash, key);
        int found = audit->store.get(audit->store.ctx, key, strlen(key), &value);
        if (found == STEEP_STORE_ERROR) {
            rc = audit_storage_failure("reading an audit record");
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
        rc = audit_record_decode(value.data, value.len, seq, hash, prev, visit ? &entry : NULL);
        if (rc < 0)
            break;
        memcpy(hash, prev, AUDIT_HASH_LEN);
        if (visit)
            rc = visit(arg, entry);
    }
    steep_buf_free(&value);
    return rc < 0 ? -1 : 0;
}

int steep_audit_verify(struct steep_audit *audit, uint64_t *count)
{
    uint64_t n = 0;
    GUARD(walk(audit, NULL, NULL, &n));
    *count = n;
    return 0;
}

/* ---- query ---------------------------------------------------------------- */

struct query_results {
    const struct audit_query *query;
    uint64_t limit;
    TeaclaveCommonProto__Entry **entries;
    size_t n;
};

static int collect(void *arg, TeaclaveCommonProto__Entry *entry)
{
    struct query_results *r = arg;
    if (!audit_query_match(r->query, entry)) {
        audit_entry_free(entry);
        return 0;
    }
    TeaclaveCommonProto__Entry **grown = realloc(r->entries, (r->n + 1) * sizeof *grown);
    if (!grown) {
        audit_entry_free(entry);
        return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    }
    r->entries = grown;
    r->entries[r->n++] = entry;
    return r->n >= r->limit ? 1 : 0;
}

void steep_audit_entries_free(TeaclaveCommonProto__Entry **entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        audit_entry_free(entries[i]);
    free(entries);
}

int steep_audit_query(struct steep_audit *audit, const char *query, uint64_t limit,
                      TeaclaveCommonProto__Entry ***entries, size_t *n)
{
    *entries = NULL;
    *n = 0;
    struct query_results results = {.limit = limit};
    struct audit_query *parsed = NULL;
    GUARD(audit_query_parse(query, &parsed));
    results.query = parsed;
    int rc = 0;
    uint64_t count;
    if (limit > 0)
        rc = walk(audit, collect, &results, &count);
    audit_query_free(parsed);
    if (rc < 0) {
        steep_audit_entries_free(results.entries, results.n);
        return -1;
    }
    *entries = results.entries;
    *n = results.n;
    return 0;
}
