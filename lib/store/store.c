/*
 * The public storage calls (store.h): argument checks shared by every
 * back-end, then the back-end's operation (backend.h).
 */
#include "core/error.h"
#include "store/backend.h"
#include "store/etcd.h"

static int check_key(const void *key, size_t key_len)
{
    ENSURE(key != NULL && key_len > 0, "empty key");
    return 0;
}

static int check_queue(const void *queue, size_t queue_len)
{
    ENSURE(queue != NULL && queue_len > 0, "empty queue name");
    return 0;
}

bool steep_store_unavailable(void)
{
    return steep_etcd_last_unavailable();
}

const char *steep_store_backend_name(const struct steep_store *store)
{
    return store->backend->name;
}

void steep_store_compact(struct steep_store *store)
{
    if (store->backend->compact)
        store->backend->compact(store);
}

void steep_store_close(struct steep_store *store)
{
    if (store)
        store->backend->close(store);
}

int steep_store_get(struct steep_store *store, const void *key, size_t key_len,
                    struct steep_buf *value)
{
    GUARD(check_key(key, key_len));
    return store->backend->get(store, key, key_len, value);
}

int steep_store_put(struct steep_store *store, const void *key, size_t key_len, const void *value,
                    size_t value_len)
{
    struct steep_store_op op = {false, key, key_len, value, value_len};
    return steep_store_batch(store, &op, 1);
}

int steep_store_delete(struct steep_store *store, const void *key, size_t key_len)
{
    struct steep_store_op op = {true, key, key_len, NULL, 0};
    return steep_store_batch(store, &op, 1);
}

int steep_store_scan(struct steep_store *store, const void *prefix, size_t prefix_len,
                     steep_store_scan_fn fn, void *arg)
{
    return store->backend->scan(store, prefix_len ? prefix : "", prefix_len, fn, arg);
}

int steep_store_batch(struct steep_store *store, const struct steep_store_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        GUARD(check_key(ops[i].key, ops[i].key_len));
    if (n == 0)
        return STEEP_STORE_OK;
    return store->backend->batch(store, ops, n);
}

int steep_store_compare_and_swap(struct steep_store *store, struct steep_store_cas *cas)
{
    GUARD(check_key(cas->key, cas->key_len));
    cas->swapped = false;
    cas->current_absent = false;
    return store->backend->compare_and_swap(store, cas);
}

int steep_store_wait_change(struct steep_store *store, const void *key, size_t key_len,
                            bool known_absent, const void *known, size_t known_len, int timeout_ms,
                            bool *changed)
{
    *changed = false;
    GUARD(check_key(key, key_len));
    return store->backend->wait_change(store, key, key_len, known_absent, known, known_len,
                                       timeout_ms, changed);
}

struct steep_store_watch *steep_store_watch(struct steep_store *store, const void *key,
                                            size_t key_len, steep_store_wake_fn wake, void *arg)
{
    if (check_key(key, key_len) < 0)
        return NULL;
    if (!store->backend->watch) {
        steep_error_set("the %s store has no change watch", store->backend->name);
        return NULL;
    }
    return store->backend->watch(store, key, key_len, wake, arg);
}

void steep_store_unwatch(struct steep_store *store, struct steep_store_watch *watch)
{
    if (watch)
        store->backend->unwatch(store, watch);
}

int steep_store_enqueue(struct steep_store *store, const void *queue, size_t queue_len,
                        const void *value, size_t value_len)
{
    GUARD(check_queue(queue, queue_len));
    return store->backend->enqueue(store, queue, queue_len, value, value_len);
}

int steep_store_dequeue(struct steep_store *store, const void *queue, size_t queue_len,
                        struct steep_buf *value)
{
    GUARD(check_queue(queue, queue_len));
    return store->backend->dequeue(store, queue, queue_len, value);
}
