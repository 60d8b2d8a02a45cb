/*
 * Shared by the audit log's files: the handle, the record and head
 * encodings (audit_record.c), the query language (audit_query.c) and the
 * error helper.
 */
#ifndef STEEP_MANAGEMENT_AUDIT_INTERNAL_H
#define STEEP_MANAGEMENT_AUDIT_INTERNAL_H

#include <pthread.h>

#include "audit.h"

#define AUDIT_HASH_LEN 32
#define AUDIT_IP_LEN   16
#define AUDIT_HEAD_KEY "audit-head"
/* version 1: count | last | mac; version 2 (once entries were pruned by the
 * retention) adds first | first_prev before the mac. */
#define AUDIT_HEAD_V1_LEN (1 + 8 + AUDIT_HASH_LEN + AUDIT_HASH_LEN)
#define AUDIT_HEAD_LEN    (AUDIT_HEAD_V1_LEN + 8 + AUDIT_HASH_LEN)
/* "audit-entry-" + 16 hex + "-" + 64 hex + NUL */
#define AUDIT_KEY_MAX   (12 + 16 + 1 + 2 * AUDIT_HASH_LEN + 1)
#define AUDIT_MAX_FIELD (64 * 1024)

struct audit_head {
    uint64_t count;
    uint8_t last[AUDIT_HASH_LEN];
    /* The retention removed positions [0, first); the record at first names
     * first_prev as its prev hash (zeros while first is 0). */
    uint64_t first;
    uint8_t first_prev[AUDIT_HASH_LEN];
};

struct audit_cached; /* audit_cache.c */

/* The newest entries, positions [base, top) of the chain (audit_cache.c). */
struct audit_cache {
    struct audit_cached **items; /* ring of capacity slots */
    uint64_t capacity;
    bool known; /* top is the chain's length */
    uint64_t base, top;
};

#define AUDIT_CACHE_ENTRIES 65536

/* An entry made durable by its request's own write (audit_pending.c) and
 * not yet on the chain; the next append chains it and deletes its record. */
struct audit_pending_item {
    char key[STEEP_AUDIT_PENDING_KEY_MAX];
    TeaclaveCommonProto__Entry *entry; /* owned */
    int64_t queued_ms;                 /* monotonic */
};

struct audit_pending_queue {
    struct audit_pending_item *items; /* oldest first */
    size_t n, cap;
    bool recovered; /* the records of an earlier process were read */
    /* An append that failed without knowing whether storage applied it
     * carried the first `unsure` items on top of a chain of unsure_base
     * entries, unsure_total records in all: the reloaded head tells. */
    size_t unsure;
    uint64_t unsure_base, unsure_total;
};

struct steep_audit {
    struct steep_audit_store store;
    bool keyed;
    uint8_t mac_key[STEEP_AUDIT_MAC_KEY_LEN];
    pthread_mutex_t lock; /* serializes appends and the cached head */
    bool head_loaded;
    struct audit_head head;
    struct audit_cache cache;           /* under lock */
    uint64_t retention;                 /* entries kept (0: all); under lock */
    struct audit_pending_queue pending; /* under lock */
    /* the flusher (steep_audit_set_flush_interval) */
    pthread_t flusher;
    bool flushing, flusher_stop;
    int flush_interval_ms;
    pthread_cond_t flusher_wake;
};

/* Records code for steep_audit_last_code() and the message; returns -1. */
int audit_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs the storage error and fails INTERNAL "service internal error". */
int audit_storage_failure(const char *what);

void audit_record_key(uint64_t seq, const uint8_t hash[AUDIT_HASH_LEN], char key[AUDIT_KEY_MAX]);
/* prev | canonical entry, and its SHA-256. */
int audit_record_encode(uint64_t seq, const uint8_t prev[AUDIT_HASH_LEN],
                        const TeaclaveCommonProto__Entry *entry, struct steep_buf *out,
                        uint8_t hash[AUDIT_HASH_LEN]);
/* Checks the record against the hash and sequence number the chain expects,
 * and returns its prev hash and (if entry is not NULL) the decoded entry. */
int audit_record_decode(const uint8_t *data, size_t len, uint64_t seq,
                        const uint8_t hash[AUDIT_HASH_LEN], uint8_t prev[AUDIT_HASH_LEN],
                        TeaclaveCommonProto__Entry **entry);
void audit_entry_free(TeaclaveCommonProto__Entry *entry);

/* Returns the encoded length (version 1 while nothing was pruned). */
size_t audit_head_encode(const struct steep_audit *audit, const struct audit_head *head,
                         uint8_t out[AUDIT_HEAD_LEN]);
int audit_head_decode(const struct steep_audit *audit, const uint8_t *data, size_t len,
                      struct audit_head *head);

TeaclaveCommonProto__Entry *audit_entry_copy(const TeaclaveCommonProto__Entry *entry);
int audit_cache_init(struct audit_cache *cache, uint64_t capacity);
void audit_cache_free(struct audit_cache *cache);
/* Forgets every entry; known: the chain's length is top. */
void audit_cache_reset(struct audit_cache *cache, bool known, uint64_t top);
/* The entry at position top (copied), evicting the oldest when full. */
void audit_cache_push(struct audit_cache *cache, const uint8_t prev[AUDIT_HASH_LEN],
                      const TeaclaveCommonProto__Entry *entry);
/* The verified entry at seq == base - 1 (copied), if there is room. */
void audit_cache_prepend(struct audit_cache *cache, uint64_t seq,
                         const uint8_t prev[AUDIT_HASH_LEN],
                         const TeaclaveCommonProto__Entry *entry);
/* Referenced items base..top-1 (oldest first) in a malloc'd array; release
 * each with audit_cached_release() (no lock needed) and free the array. */
size_t audit_cache_snapshot(struct audit_cache *cache, struct audit_cached ***items,
                            uint64_t *base);
const TeaclaveCommonProto__Entry *audit_cached_entry(const struct audit_cached *item);
const uint8_t *audit_cached_prev(const struct audit_cached *item);
void audit_cached_release(struct audit_cached *item);

/* audit_pending.c, under the lock: reads the pending records an earlier
 * process left (once), queues them oldest first; frees the queue. */
int audit_pending_recover(struct steep_audit *audit);
void audit_pending_queue_free(struct audit_pending_queue *queue);
/* Drops the first n items (chained). */
void audit_pending_drop(struct audit_pending_queue *queue, size_t n);

struct audit_query;
int audit_query_parse(const char *text, struct audit_query **query);
bool audit_query_match(const struct audit_query *query, const TeaclaveCommonProto__Entry *entry);
void audit_query_free(struct audit_query *query);

#endif
