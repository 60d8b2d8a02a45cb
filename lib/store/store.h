/*
 * The storage engine: a sealed, durable key-value store, on LevelDB
 * (embedded, the default) or on an etcd cluster (steep_store_open_etcd;
 * the back-end interface is backend.h). What follows describes LevelDB;
 * etcd keeps the same contract, with Raft for durability.
 *
 * Used in-process by the storage service (steep-storage) and by the
 * authentication service for its user DB. Keys are arbitrary non-empty byte
 * strings; every value is sealed with AES-256-GCM under the 32-byte key the
 * caller passes to steep_store_open (a TEE sealing key), with the record's
 * key bound as associated data, so a tampered, moved or swapped record fails
 * to authenticate: the call returns STEEP_STORE_ERROR and the log names the
 * key. Garbage is never returned.
 *
 * Durability: every write is acknowledged only after a synced LevelDB write.
 * Concurrent writers are group-committed: one leader thread gathers the
 * pending operations of many callers into one synced WriteBatch and wakes
 * them all. Read-modify-write operations (compare-and-swap, enqueue,
 * dequeue) run inside the committer, so they are atomic with respect to
 * each other. Reads go to LevelDB directly and only ever see committed data.
 *
 * A directory that is corrupt, is not a Steep store, or was sealed under a
 * different key (a sealed marker record is checked at open) makes open fail
 * with a message; a fresh store is created only in an absent or empty
 * directory and only with STEEP_STORE_CREATE.
 *
 * All functions are thread-safe. Return values: enum steep_store_result.
 */
#ifndef STEEP_STORE_STORE_H
#define STEEP_STORE_STORE_H

#include "core/buf.h"
#include "store/result.h"

#define STEEP_STORE_KEY_BYTES 32

struct steep_store;

enum steep_store_flags {
    /* Create a new store when the directory is absent or empty. Without it,
     * a missing store is an error. A non-empty directory is never reset. */
    STEEP_STORE_CREATE = 1,
};

/* Opens (or creates, see flags) the store in directory path. The key is
 * copied; the caller may wipe its copy. */
int steep_store_open(const char *path, const uint8_t key[STEEP_STORE_KEY_BYTES], int flags,
                     struct steep_store **out);
/* Rewrites every table of the store, dropping deleted and overwritten
 * records, so their keys' bytes leave the disk (LevelDB keeps them until a
 * compaction; a rewrite of keys that named users needs them gone: issue 14,
 * item 17). Slow on a large store; blocks only the caller. A no-op on etcd,
 * which keeps no table files of ours. */
void steep_store_compact(struct steep_store *store);
/*
 * Opens (or creates, with STEEP_STORE_CREATE) the store kept in an etcd
 * cluster under the key prefix (etcd_store.c; connection settings in
 * store/etcd.h). Same contract as a LevelDB store, values sealed the same
 * way before they leave the process; each record also carries a per-key
 * version, and a record older than one this process has seen (an old
 * ciphertext written back) is refused with an error naming the key.
 */
struct steep_etcd_config;
int steep_store_open_etcd(const struct steep_etcd_config *etcd, const char *prefix,
                          const uint8_t key[STEEP_STORE_KEY_BYTES], int flags,
                          struct steep_store **out);
/*
 * The store of service name as the configuration says ([storage] backend:
 * "leveldb" in dir, the default, or "etcd" with [storage] etcd_endpoints,
 * etcd_ca_file, etcd_cert_file, etcd_key_file, etcd_prefix (+ name + "/"),
 * etcd_timeout_ms), created when absent (configured.c).
 */
struct steep_config;
int steep_store_open_configured(const struct steep_config *config, const char *name,
                                const char *dir, const uint8_t key[STEEP_STORE_KEY_BYTES],
                                struct steep_store **out);
bool steep_store_configured_etcd(const struct steep_config *config);
/* The etcd client settings of [storage] (for other users of the cluster:
 * the scheduler's leader election); points into config. */
struct steep_etcd_config;
int steep_store_configured_etcd_settings(const struct steep_config *config,
                                         struct steep_etcd_config *etcd);
/* After a call of this thread failed: true when the cause was the back-end
 * out of reach (etcd: no member answered, or none had quorum), so a
 * service answers UNAVAILABLE and its caller may retry, not INTERNAL. */
bool steep_store_unavailable(void);
/* "leveldb" or "etcd". */
const char *steep_store_backend_name(const struct steep_store *store);
/* Closes the engine and wipes the key. Call once every other call on the store
 * has returned. NULL is allowed. */
void steep_store_close(struct steep_store *store);

/* OK with the plaintext in value (replaced, marked secret), or NOT_FOUND. */
int steep_store_get(struct steep_store *store, const void *key, size_t key_len,
                    struct steep_buf *value);
int steep_store_put(struct steep_store *store, const void *key, size_t key_len, const void *value,
                    size_t value_len);
/* Deleting an absent key is OK. */
int steep_store_delete(struct steep_store *store, const void *key, size_t key_len);

/* Every record whose key starts with prefix (an empty prefix: every record),
 * in ascending byte order, from one consistent snapshot. Each value is
 * authenticated; a record that fails fails the scan. Queue elements are not
 * part of this key space. */
int steep_store_scan(struct steep_store *store, const void *prefix, size_t prefix_len,
                     steep_store_scan_fn fn, void *arg);

/* Applies all operations or none, in order (a later op on the same key wins). */
int steep_store_batch(struct steep_store *store, const struct steep_store_op *ops, size_t n);

/* Compare-and-swap on one key (struct steep_store_cas, store/result.h). */
int steep_store_compare_and_swap(struct steep_store *store, struct steep_store_cas *cas);

/* Waits until the user record key is committed with a value other than the
 * one the caller knows (known_absent: the caller saw no record), or
 * timeout_ms passes. *changed says which; a record that already differs on
 * entry returns at once. Any committed write of the key wakes the waiter,
 * which then compares again. For long polls (GetTask's steep-wait-ms). */
int steep_store_wait_change(struct steep_store *store, const void *key, size_t key_len,
                            bool known_absent, const void *known, size_t known_len, int timeout_ms,
                            bool *changed);

/*
 * A wake-up for every committed write of the user record key, holding no
 * thread (for long polls held with steep_rpc_call_hold_until): wake(arg)
 * runs on the writing thread under the store's watch lock, after the write
 * is readable, so it must only record the event and hand it off; its owner
 * then reads and compares. A write between steep_store_watch and the
 * owner's first read is not missed. After steep_store_unwatch returns,
 * wake is not running and runs no more. NULL with the error set when the
 * engine has no such watch (etcd: use steep_store_wait_change) or memory is
 * short.
 */
struct steep_store_watch;
typedef void (*steep_store_wake_fn)(void *arg);
struct steep_store_watch *steep_store_watch(struct steep_store *store, const void *key,
                                            size_t key_len, steep_store_wake_fn wake, void *arg);
void steep_store_unwatch(struct steep_store *store, struct steep_store_watch *watch);

/* What WaitChange asks of a read (get_rc, current): 1 when the record
 * differs from what the caller knows (known_absent: it knows none), 0 when
 * not, -1 when the read failed. */
int steep_store_differs(int get_rc, const struct steep_buf *current, bool known_absent,
                        const void *known, size_t known_len);

/*
 * Per-queue FIFO, named by an arbitrary non-empty byte string. Queues live
 * in their own key space. The element and the queue's head/tail counters are
 * written in one synced WriteBatch, so each element is dequeued exactly once,
 * also across crashes. Dequeue returns OK with the element, or EMPTY.
 */
int steep_store_enqueue(struct steep_store *store, const void *queue, size_t queue_len,
                        const void *value, size_t value_len);
int steep_store_dequeue(struct steep_store *store, const void *queue, size_t queue_len,
                        struct steep_buf *value);

#endif
