/*
 * Thread-less change watches on the etcd engine (steep_store_watch,
 * store.h): one pump thread per store, started by the first watch, keeps
 * one etcd watch on the store's whole prefix and calls the wake function
 * of every watch whose key an event names. Whenever the pump's etcd watch
 * (re)starts or ends (a member failed, the stream's time ran out) it wakes
 * every watch, so a write in the gap is seen when its owner reads again.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "store/etcd_store.h"
#include "store/records.h"

#define PUMP_WAIT_MS     500
#define PUMP_STREAM_MS   (10 * 60 * 1000) /* then a fresh stream (and a wake of all) */
#define PUMP_RETRY_PAUSE (200 * 1000000L) /* ns between failed attempts */

struct etcd_watcher {
    struct etcd_watcher *next;
    struct steep_buf key; /* the etcd key */
    steep_store_wake_fn wake;
    void *arg;
};

static void wake_all(struct steep_store_etcd *store)
{
    pthread_mutex_lock(&store->watch_lock);
    for (struct etcd_watcher *w = store->watchers; w; w = w->next)
        w->wake(w->arg);
    pthread_mutex_unlock(&store->watch_lock);
}

static void wake_key(struct steep_store_etcd *store, ProtobufCBinaryData key)
{
    pthread_mutex_lock(&store->watch_lock);
    for (struct etcd_watcher *w = store->watchers; w; w = w->next)
        if (w->key.len == key.len && memcmp(w->key.data, key.data, key.len) == 0)
            w->wake(w->arg);
    pthread_mutex_unlock(&store->watch_lock);
}

/* One etcd watch on the prefix, until it fails, its time ends or the store closes. */
static void pump_stream(struct steep_store_etcd *store, const struct steep_buf *end)
{
    struct steep_etcd_watch *watch = NULL;
    if (steep_etcd_watch_open(store->etcd, store->prefix.data, store->prefix.len, end->data,
                              end->len, 0, PUMP_STREAM_MS, &watch) < 0) {
        log_debug("store: etcd watch pump: %s", steep_error_get());
        return;
    }
    bool created = false;
    while (!atomic_load(&store->pump_stop)) {
        Etcdserverpb__WatchResponse *response = NULL;
        int rc = steep_etcd_watch_next(watch, PUMP_WAIT_MS, &response);
        if (rc < 0) {
            log_debug("store: etcd watch pump: %s", steep_error_get());
            break;
        }
        if (rc == 0)
            continue;
        if (!created) { /* writes before the watch began may have been missed */
            created = true;
            wake_all(store);
        }
        for (size_t i = 0; i < response->n_events; i++)
            if (response->events[i]->kv)
                wake_key(store, response->events[i]->kv->key);
        protobuf_c_message_free_unpacked(&response->base, NULL);
    }
    steep_etcd_watch_close(watch);
}

static void *pump_main(void *arg)
{
    struct steep_store_etcd *store = arg;
    struct steep_buf end = STEEP_BUF_INIT;
    if (etcd_range_end(&store->prefix, &end) < 0)
        log_error("store: etcd watch pump: %s", steep_error_get());
    while (end.len && !atomic_load(&store->pump_stop)) {
        pump_stream(store, &end);
        wake_all(store); /* the gap until the next stream */
        if (!atomic_load(&store->pump_stop))
            nanosleep(&(struct timespec){0, PUMP_RETRY_PAUSE}, NULL);
    }
    steep_buf_free(&end);
    return NULL;
}

struct steep_store_watch *etcd_watch(struct steep_store *base, const void *key, size_t key_len,
                                     steep_store_wake_fn wake, void *arg)
{
    struct steep_store_etcd *store = (struct steep_store_etcd *)base;
    struct etcd_watcher *watcher = calloc(1, sizeof *watcher);
    struct steep_buf ikey = STEEP_BUF_INIT;
    if (!watcher) {
        steep_error_set("out of memory");
        return NULL;
    }
    watcher->key = (struct steep_buf)STEEP_BUF_INIT;
    watcher->wake = wake;
    watcher->arg = arg;
    int rc = steep_store_user_key(&ikey, key, key_len);
    if (rc == 0)
        rc = etcd_key(store, &ikey, &watcher->key);
    steep_buf_free(&ikey);
    pthread_mutex_lock(&store->watch_lock);
    if (rc == 0 && !store->pump_started) {
        rc = pthread_create(&store->pump, NULL, pump_main, store) == 0
                 ? 0
                 : steep_error_set("cannot start the etcd watch thread");
        store->pump_started = rc == 0;
    }
    if (rc == 0) {
        watcher->next = store->watchers;
        store->watchers = watcher;
    }
    pthread_mutex_unlock(&store->watch_lock);
    if (rc != 0) {
        steep_buf_free(&watcher->key);
        free(watcher);
        return NULL;
    }
    return (struct steep_store_watch *)watcher;
}

void etcd_unwatch(struct steep_store *base, struct steep_store_watch *watch)
{
    struct steep_store_etcd *store = (struct steep_store_etcd *)base;
    struct etcd_watcher *watcher = (struct etcd_watcher *)watch;
    pthread_mutex_lock(&store->watch_lock); /* no wake is running after this */
    for (struct etcd_watcher **link = &store->watchers; *link; link = &(*link)->next)
        if (*link == watcher) {
            *link = watcher->next;
            break;
        }
    pthread_mutex_unlock(&store->watch_lock);
    steep_buf_free(&watcher->key);
    free(watcher);
}

void etcd_watch_stop(struct steep_store_etcd *store)
{
    atomic_store(&store->pump_stop, true);
    if (store->pump_started)
        pthread_join(store->pump, NULL);
    pthread_mutex_destroy(&store->watch_lock);
}
