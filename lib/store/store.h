/*
 * The storage engine: a sealed, durable key-value store on LevelDB.
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
/* Closes LevelDB and wipes the key. Call once every other call on the store
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
