/*
 * Private to the storage engine: the store object, the internal key space,
 * record sealing, and the group committer that every write goes through.
 *
 * Internal key space (keys stay plaintext so LevelDB can order them; every
 * value is sealed):
 *   "m"                                   marker record, checked at open
 *   "u" + key                             user records (get/put/scan)
 *   "q" + u32be(len) + name + "h"         queue head counter (u64be)
 *   "q" + u32be(len) + name + "t"         queue tail counter (u64be)
 *   "q" + u32be(len) + name + "e" + u64be element at that index
 * The length prefix keeps one queue's records from ever matching another's.
 */
#ifndef STEEP_STORE_INTERNAL_H
#define STEEP_STORE_INTERNAL_H

#include <leveldb/c.h>
#include <openssl/types.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/error.h"
#include "store/store.h"

#define STEEP_STORE_NS_MARKER 'm'
#define STEEP_STORE_NS_USER   'u'
#define STEEP_STORE_NS_QUEUE  'q'

enum steep_store_request_kind {
    STEEP_STORE_REQUEST_BATCH,
    STEEP_STORE_REQUEST_CAS,
    STEEP_STORE_REQUEST_ENQUEUE,
    STEEP_STORE_REQUEST_DEQUEUE,
};

/* One caller's pending write, waiting in the committer's queue. */
struct steep_store_request {
    enum steep_store_request_kind kind;
    const struct steep_store_op *ops; /* batch */
    size_t n_ops;
    struct steep_store_cas *cas;
    const void *queue; /* enqueue / dequeue */
    size_t queue_len;
    const void *value; /* enqueue */
    size_t value_len;
    struct steep_buf *out; /* dequeue */
    /* set by the leader */
    int result;
    char error[STEEP_ERROR_MAX];
    bool done;
    pthread_cond_t wake;
    struct steep_store_request *next;
};

/* AES-256-GCM under the store key, with a pool of keyed cipher contexts (seal.c). */
#define STEEP_STORE_SEALER_IDLE 32
struct steep_store_sealer {
    uint8_t key[STEEP_STORE_KEY_BYTES];
    EVP_CIPHER *cipher;
    pthread_mutex_t lock;
    EVP_CIPHER_CTX *idle[STEEP_STORE_SEALER_IDLE];
    size_t n_idle;
};

struct steep_store {
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *filter;
    leveldb_readoptions_t *read_options;
    leveldb_writeoptions_t *write_options;
    struct steep_store_sealer sealer;
    char *path;
    pthread_mutex_t commit_mutex;
    struct steep_store_request *pending_head, *pending_tail;
    pthread_mutex_t watch_mutex; /* guards watchers (watch.c) */
    struct steep_store_watcher *watchers;
    /* Failing closed after a failed write (recover.c): db_lock guards db and
     * last_reopen_ms; failed is set by the commit leader without it (so a
     * stream of readers cannot delay it) after it wrote failure. */
    pthread_rwlock_t db_lock;
    atomic_bool failed;
    char failure[STEEP_ERROR_MAX];
    int64_t last_reopen_ms;
};

/* ---- failing closed and recovering (recover.c) ---- */
/* Holds the handle shared for a group's reads and write; a store that
 * failed is reopened first (or the call fails with the reason, unlocked). */
int steep_store_begin_write(struct steep_store *store);
/* Holds the handle shared for a read (reopening a store whose handle is gone). */
int steep_store_begin_read(struct steep_store *store);
void steep_store_end(struct steep_store *store);
/* After a failed LevelDB write: no more writes to this handle. */
void steep_store_mark_failed(struct steep_store *store, const char *why);
/* open.c: opens LevelDB on the existing store and checks its marker. */
int steep_store_reopen_db(struct steep_store *store);

/* ---- change notification (watch.c) ---- */
/* One thread waiting in steep_store_wait_change for a user record to change. */
struct steep_store_watcher {
    struct steep_buf ikey;
    bool changed;
    pthread_cond_t wake;
    struct steep_store_watcher *next;
};
/* Called by the commit leader after a group's synced write: wakes every
 * watcher whose key the group wrote (touched says whether it did). */
void steep_store_watch_notify(struct steep_store *store,
                              bool (*touched)(void *group, const struct steep_buf *ikey),
                              void *group);

/* ---- internal keys (keyspace.c) ---- */
int steep_store_user_key(struct steep_buf *out, const void *key, size_t key_len);
int steep_store_queue_key(struct steep_buf *out, const void *queue, size_t queue_len, char part,
                          uint64_t index);
/* A printable, bounded rendering of a key for log lines. */
void steep_store_describe_key(const uint8_t *key, size_t key_len, char *out, size_t out_len);

/* ---- sealing (seal.c) ---- */
int steep_store_sealer_init(struct steep_store_sealer *sealer,
                            const uint8_t key[STEEP_STORE_KEY_BYTES]);
/* Frees the contexts and wipes the key; safe on a zeroed or freed sealer. */
void steep_store_sealer_free(struct steep_store_sealer *sealer);
int steep_store_seal(struct steep_store_sealer *sealer, const uint8_t *record_key,
                     size_t record_key_len, const void *plain, size_t plain_len,
                     struct steep_buf *sealed);
/* Fails (without logging) when the record does not authenticate. */
int steep_store_unseal(struct steep_store_sealer *sealer, const uint8_t *record_key,
                       size_t record_key_len, const uint8_t *sealed, size_t sealed_len,
                       struct steep_buf *plain);

/* ---- reads (read.c) ---- */
/* Reads and unseals one internal record: OK, NOT_FOUND or ERROR (logged). */
int steep_store_read_record(struct steep_store *store, const uint8_t *ikey, size_t ikey_len,
                            struct steep_buf *plain);

/* ---- writes (commit.c, apply.c) ---- */
/* Queues the request, group-commits it, returns its result. */
int steep_store_submit(struct steep_store *store, struct steep_store_request *request);

struct steep_store_group;
/* Inside the leader: the group's view (pending writes over LevelDB). */
int steep_store_group_read(struct steep_store_group *group, const struct steep_buf *ikey,
                           struct steep_buf *plain);
int steep_store_group_put(struct steep_store_group *group, const struct steep_buf *ikey,
                          const void *plain, size_t plain_len);
int steep_store_group_delete(struct steep_store_group *group, const struct steep_buf *ikey);
/* Apply one request to the group (write.c, queue.c). Every read happens
 * before any write, so a request that fails has written nothing. */
int steep_store_apply_batch(struct steep_store_group *group, struct steep_store_request *request);
int steep_store_apply_cas(struct steep_store_group *group, struct steep_store_request *request);
int steep_store_apply_enqueue(struct steep_store_group *group, struct steep_store_request *request);
int steep_store_apply_dequeue(struct steep_store_group *group, struct steep_store_request *request);
/* Rejects an empty key (INVALID_ARGUMENT at the service). */
int steep_store_check_key(const void *key, size_t key_len);

#endif
