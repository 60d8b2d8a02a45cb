/*
 * Private to the LevelDB back-end: the store object, and the group
 * committer that every write goes through. The internal key space and the
 * sealing it shares with the etcd back-end are in records.h.
 */
#ifndef STEEP_STORE_INTERNAL_H
#define STEEP_STORE_INTERNAL_H

#include <leveldb/c.h>
#include <openssl/types.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/error.h"
#include "store/backend.h"
#include "store/records.h"

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

struct steep_store_leveldb {
    struct steep_store base; /* first: the back-end interface (backend.h) */
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

/* ---- the operations behind the back-end interface (read.c, write.c, queue.c, watch.c) ---- */
int steep_store_leveldb_get(struct steep_store_leveldb *store, const void *key, size_t key_len,
                            struct steep_buf *value);
int steep_store_leveldb_scan(struct steep_store_leveldb *store, const void *prefix,
                             size_t prefix_len, steep_store_scan_fn fn, void *arg);
int steep_store_leveldb_batch(struct steep_store_leveldb *store, const struct steep_store_op *ops,
                              size_t n);
int steep_store_leveldb_compare_and_swap(struct steep_store_leveldb *store,
                                         struct steep_store_cas *cas);
int steep_store_leveldb_wait_change(struct steep_store_leveldb *store, const void *key,
                                    size_t key_len, bool known_absent, const void *known,
                                    size_t known_len, int timeout_ms, bool *changed);
int steep_store_leveldb_enqueue(struct steep_store_leveldb *store, const void *queue,
                                size_t queue_len, const void *value, size_t value_len);
int steep_store_leveldb_dequeue(struct steep_store_leveldb *store, const void *queue,
                                size_t queue_len, struct steep_buf *value);

/* ---- failing closed and recovering (recover.c) ---- */
/* Holds the handle shared for a group's reads and write; a store that
 * failed is reopened first (or the call fails with the reason, unlocked). */
int steep_store_begin_write(struct steep_store_leveldb *store);
/* Holds the handle shared for a read (reopening a store whose handle is gone). */
int steep_store_begin_read(struct steep_store_leveldb *store);
void steep_store_end(struct steep_store_leveldb *store);
/* After a failed LevelDB write: no more writes to this handle. */
void steep_store_mark_failed(struct steep_store_leveldb *store, const char *why);
/* open.c: opens LevelDB on the existing store and checks its marker. */
int steep_store_reopen_db(struct steep_store_leveldb *store);

/* ---- change notification (watch.c) ---- */
/* One thread waiting in steep_store_wait_change for a user record to change,
 * or (wake_fn set) a steep_store_watch woken through its function. */
struct steep_store_watcher {
    struct steep_buf ikey;
    bool changed;
    pthread_cond_t wake;
    steep_store_wake_fn wake_fn;
    void *wake_arg;
    struct steep_store_watcher *next;
};
struct steep_store_watch *steep_store_leveldb_watch(struct steep_store_leveldb *store,
                                                    const void *key, size_t key_len,
                                                    steep_store_wake_fn wake, void *arg);
void steep_store_leveldb_unwatch(struct steep_store_leveldb *store,
                                 struct steep_store_watch *watch);
/* Called by the commit leader after a group's synced write: wakes every
 * watcher whose key the group wrote (touched says whether it did). */
void steep_store_watch_notify(struct steep_store_leveldb *store,
                              bool (*touched)(void *group, const struct steep_buf *ikey),
                              void *group);

/* ---- reads (read.c) ---- */
/* Reads and unseals one internal record: OK, NOT_FOUND or ERROR (logged). */
int steep_store_read_record(struct steep_store_leveldb *store, const uint8_t *ikey, size_t ikey_len,
                            struct steep_buf *plain);

/* ---- writes (commit.c, apply.c) ---- */
/* Queues the request, group-commits it, returns its result. */
int steep_store_submit(struct steep_store_leveldb *store, struct steep_store_request *request);

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
