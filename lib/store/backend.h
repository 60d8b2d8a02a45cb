/*
 * The storage back-end interface: what every engine behind store.h
 * implements. A store object starts with struct steep_store, whose backend
 * names the engine's operations; store.c checks the arguments once and
 * dispatches. Two engines: LevelDB, embedded (open.c and the files around
 * it), and an etcd cluster (etcd_store.c). Each keeps the contract of
 * store.h: sealed values, atomic batches and compare-and-swap, queues that
 * hand out every element exactly once, prefix scans in byte order from one
 * snapshot, and change waits.
 */
#ifndef STEEP_STORE_BACKEND_H
#define STEEP_STORE_BACKEND_H

#include "store/store.h"

struct steep_store_backend {
    const char *name; /* "leveldb", "etcd" */
    void (*close)(struct steep_store *store);
    int (*get)(struct steep_store *store, const void *key, size_t key_len, struct steep_buf *value);
    int (*scan)(struct steep_store *store, const void *prefix, size_t prefix_len,
                steep_store_scan_fn fn, void *arg);
    int (*batch)(struct steep_store *store, const struct steep_store_op *ops, size_t n);
    int (*compare_and_swap)(struct steep_store *store, struct steep_store_cas *cas);
    int (*wait_change)(struct steep_store *store, const void *key, size_t key_len,
                       bool known_absent, const void *known, size_t known_len, int timeout_ms,
                       bool *changed);
    /* optional (NULL: steep_store_watch fails) */
    struct steep_store_watch *(*watch)(struct steep_store *store, const void *key, size_t key_len,
                                       steep_store_wake_fn wake, void *arg);
    void (*unwatch)(struct steep_store *store, struct steep_store_watch *watch);
    int (*enqueue)(struct steep_store *store, const void *queue, size_t queue_len,
                   const void *value, size_t value_len);
    int (*dequeue)(struct steep_store *store, const void *queue, size_t queue_len,
                   struct steep_buf *value);
    void (*compact)(struct steep_store *store); /* optional */
};

struct steep_store {
    const struct steep_store_backend *backend;
};

#endif
