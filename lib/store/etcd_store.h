/*
 * Private to the etcd back-end (etcd_store.c, etcd_records.c,
 * etcd_queue.c): the store object, versioned records and transactions.
 *
 * Layout in etcd: key = [storage] etcd_prefix + internal key (records.h),
 * value = seal(internal key as AAD, u64le version || u8 kind || data) where
 * kind is RECORD_VALUE or RECORD_TOMBSTONE. A user delete writes a sealed
 * tombstone instead of removing the key, so every key ever written keeps a
 * version chain; queue elements, read once at an index that never comes
 * back, are removed for real.
 *
 * Versions: a write that replaces the key's value last modified at etcd
 * revision m (0: never written) seals version max(m, seen + 1) and commits
 * only if the key's mod_revision is still m (a Txn compare). The value it
 * replaces was sealed before revision m with a smaller version, so along a
 * key's history versions strictly grow, whichever replica writes. Each
 * process keeps, per key, the highest version it has seen and the revision
 * at which it was current; a read at a later revision that returns a lower
 * version, or no record at all, is a rollback and is refused naming the
 * key. The table holds every user key and queue counter the process has
 * read or written (the key and 24 bytes each), as large as the store's key
 * set at most. Independently, etcd's revision may never go back: a response whose
 * header revision is below the highest revision known when the request was
 * sent is refused (a cluster restored from an older backup or forked).
 *
 * What a malicious etcd operator can still do (sees key names, sizes and
 * access patterns; never plaintext; cannot forge or move a record):
 *   - Roll back after every process that saw the newer state restarted.
 *     The versions seen live in memory only: once all storage replicas
 *     (and authentication, for its users) have restarted, nobody remembers
 *     version 7 of task-1, and the operator may serve a consistent older
 *     snapshot of the whole prefix -- or of some keys: each old record is
 *     authentic and, to a process knowing nothing, current. A task may run
 *     again, a deleted user come back, a revoked permission reappear.
 *   - Withhold progress: answer from a stale member or not at all. Our
 *     reads are linearizable only if etcd is honest; a dishonest etcd can
 *     fork replicas (show each a different history) as long as they never
 *     compare notes, since each one's revision floor only covers what it
 *     saw itself.
 *   - Drop records no process has seen yet (a key created and lost before
 *     anyone read it), and deny service.
 * What would close it: a rollback-protected monotonic counter bound into
 * the state, kept outside etcd's control -- the TEE's monotonic counter or
 * a TPM NV index incremented with each write epoch (persisting "highest
 * revision and a digest of the versions seen" sealed under it at restart),
 * or a quorum of attested replicas that never all restart at once and
 * exchange their floors (ROTE-style); with either, a restart resumes from
 * the remembered floor and a served snapshot older than it is refused. A
 * Merkle tree over the prefix with its root under such a counter would also
 * catch the selective per-key rollback and the dropped records.
 */
#ifndef STEEP_STORE_ETCD_STORE_H
#define STEEP_STORE_ETCD_STORE_H

#include <stdatomic.h>

#include "store/backend.h"
#include "store/etcd.h"
#include "store/records.h"

#define RECORD_VALUE     0
#define RECORD_TOMBSTONE 1

#define ETCD_QUEUE_STRIPES 16

struct version_entry {
    uint8_t *key; /* internal key; NULL: free slot */
    size_t key_len;
    uint64_t version;     /* highest version seen */
    int64_t mod_revision; /* the revision from which it was current */
};

struct steep_store_etcd {
    struct steep_store base; /* first: the back-end interface */
    struct steep_etcd *etcd;
    struct steep_store_sealer sealer;
    struct steep_buf prefix;
    pthread_mutex_t lock; /* guards versions */
    struct version_entry *versions;
    size_t capacity, count;
    atomic_int_least64_t highest_revision;
    /* Queue operations of this process on one queue take turns (a stripe
     * per hash of the name): they would only lose compares to each other. */
    pthread_mutex_t queue_locks[ETCD_QUEUE_STRIPES];
    /* Thread-less watches (etcd_watch.c): their list, and the one thread
     * that watches the prefix for them (started by the first). */
    pthread_mutex_t watch_lock;
    struct etcd_watcher *watchers;
    pthread_t pump;
    bool pump_started;
    atomic_bool pump_stop;
};

/* One record as read from etcd, opened and checked. */
struct etcd_record {
    bool present;         /* a value (not absent, not a tombstone) */
    bool in_etcd;         /* etcd holds the key (a value or a tombstone) */
    int64_t mod_revision; /* 0 when etcd has no such key */
    uint64_t version;
    struct steep_buf data; /* the plaintext value (wiped on free) */
};
void etcd_record_free(struct etcd_record *record);

/* ---- etcd_watch.c ---- */
struct steep_store_watch *etcd_watch(struct steep_store *base, const void *key, size_t key_len,
                                     steep_store_wake_fn wake, void *arg);
void etcd_unwatch(struct steep_store *base, struct steep_store_watch *watch);
/* At close, before the etcd client goes: stops the watch thread. */
void etcd_watch_stop(struct steep_store_etcd *store);
/* The smallest key above every key starting with prefix (etcd_store.c). */
int etcd_range_end(const struct steep_buf *prefix, struct steep_buf *end);

/* ---- etcd_records.c ---- */
int etcd_key(const struct steep_store_etcd *store, const struct steep_buf *ikey,
             struct steep_buf *out);
/* The revision floor to check a response against (read before the request). */
int64_t etcd_revision_floor(struct steep_store_etcd *store);
/* Refuses a header revision below floor; raises the highest revision known. */
int etcd_check_revision(struct steep_store_etcd *store, const Etcdserverpb__ResponseHeader *header,
                        int64_t floor);
/* Opens kv (NULL: etcd has no such key) read at revision, checking its
 * version against the versions seen (track: user records and counters). */
int etcd_open_record(struct steep_store_etcd *store, const struct steep_buf *ikey,
                     const Etcdserverpb__KeyValue *kv, int64_t revision, bool track,
                     struct etcd_record *out);
/* Reads one record (a linearizable Range); *revision: the read's revision. */
int etcd_read_record(struct steep_store_etcd *store, const struct steep_buf *ikey, bool track,
                     struct etcd_record *out, int64_t *revision);
/* The version a write replacing the value last modified at mod_revision seals. */
uint64_t etcd_next_version(struct steep_store_etcd *store, const struct steep_buf *ikey,
                           int64_t mod_revision);
/* After a committed write: ikey holds version from revision on. */
void etcd_note_written(struct steep_store_etcd *store, const struct steep_buf *ikey,
                       uint64_t version, int64_t revision);
/* The mod revision this process last knew for ikey (0: none). */
int64_t etcd_known_revision(struct steep_store_etcd *store, const struct steep_buf *ikey);
int etcd_seal_record(struct steep_store_etcd *store, const struct steep_buf *ikey, uint64_t version,
                     int kind, const void *data, size_t len, struct steep_buf *sealed);
void etcd_versions_free(struct steep_store_etcd *store);

/* ---- transactions (etcd_records.c) ---- */
struct etcd_txn {
    Etcdserverpb__TxnRequest request;
    size_t capacity;
    Etcdserverpb__Compare *compares, **compare_list;
    Etcdserverpb__RequestOp *success, **success_list;
    Etcdserverpb__PutRequest *puts;
    Etcdserverpb__DeleteRangeRequest *deletes;
    Etcdserverpb__RequestOp *failure, **failure_list;
    Etcdserverpb__RangeRequest *ranges;
    struct steep_buf *owned; /* keys and sealed values the request points into */
    size_t n_owned;
};
int etcd_txn_init(struct etcd_txn *txn, size_t capacity);
void etcd_txn_free(struct etcd_txn *txn);
/* The request keeps pointing into key and value: they must outlive the call. */
void etcd_txn_compare_mod(struct etcd_txn *txn, const struct steep_buf *key, int64_t mod_revision);
void etcd_txn_put(struct etcd_txn *txn, const struct steep_buf *key, const struct steep_buf *value);
void etcd_txn_delete(struct etcd_txn *txn, const struct steep_buf *key);
void etcd_txn_failure_range(struct etcd_txn *txn, const struct steep_buf *key);
/* Commits; *succeeded says whether the compares held. The response is kept
 * for the caller (free with protobuf_c_message_free_unpacked). */
int etcd_txn_commit(struct steep_store_etcd *store, struct etcd_txn *txn,
                    Etcdserverpb__TxnResponse **response);

/* ---- queues (etcd_queue.c) ---- */
int etcd_enqueue(struct steep_store *store, const void *queue, size_t queue_len, const void *value,
                 size_t value_len);
int etcd_dequeue(struct steep_store *store, const void *queue, size_t queue_len,
                 struct steep_buf *value);

/* Attempts of a read-modify-write that keeps losing races before it gives up. */
#define ETCD_MAX_ATTEMPTS 1000

#endif
