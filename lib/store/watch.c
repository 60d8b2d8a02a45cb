/*
 * Change notification for long polls: steep_store_wait_change (store.h).
 *
 * A waiter registers itself (its internal key) before it reads the record,
 * so a write committed between the read and the wait is not missed: the
 * commit leader, after the group's synced write, marks and wakes every
 * registered waiter whose key the group wrote. A woken waiter reads the
 * record again and compares it with what its caller knows; only a real
 * difference ends the wait. Nothing here is on the write path unless
 * someone waits (the leader walks an empty list).
 *
 * A watch (steep_store_watch) is the same entry without a thread: the
 * leader calls its wake function instead of signalling, for every group
 * that wrote the key, and its owner reads and compares.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/internal.h"

void steep_store_watch_notify(struct steep_store_leveldb *store,
                              bool (*touched)(void *group, const struct steep_buf *ikey),
                              void *group)
{
    pthread_mutex_lock(&store->watch_mutex);
    for (struct steep_store_watcher *w = store->watchers; w; w = w->next) {
        if (w->wake_fn) {
            if (touched(group, &w->ikey))
                w->wake_fn(w->wake_arg);
        } else if (!w->changed && touched(group, &w->ikey)) {
            w->changed = true;
            pthread_cond_signal(&w->wake);
        }
    }
    pthread_mutex_unlock(&store->watch_mutex);
}

static void watch_remove(struct steep_store_leveldb *store, struct steep_store_watcher *watcher)
{
    pthread_mutex_lock(&store->watch_mutex);
    for (struct steep_store_watcher **p = &store->watchers; *p; p = &(*p)->next) {
        if (*p == watcher) {
            *p = watcher->next;
            break;
        }
    }
    pthread_mutex_unlock(&store->watch_mutex);
}

int steep_store_differs(int get_rc, const struct steep_buf *current, bool known_absent,
                        const void *known, size_t known_len)
{
    if (get_rc == STEEP_STORE_NOT_FOUND)
        return !known_absent;
    if (get_rc != STEEP_STORE_OK)
        return -1;
    return known_absent || current->len != known_len ||
           (known_len && memcmp(current->data, known, known_len) != 0);
}

/* 1 when the stored record differs from what the caller knows, 0 when not. */
static int differs(struct steep_store_leveldb *store, const struct steep_buf *ikey,
                   bool known_absent, const void *known, size_t known_len)
{
    struct steep_buf current = STEEP_BUF_INIT;
    int rc = steep_store_read_record(store, ikey->data, ikey->len, &current);
    int result = steep_store_differs(rc, &current, known_absent, known, known_len);
    steep_buf_free(&current);
    return result;
}

int steep_store_leveldb_wait_change(struct steep_store_leveldb *store, const void *key,
                                    size_t key_len, bool known_absent, const void *known,
                                    size_t known_len, int timeout_ms, bool *changed)
{
    *changed = false;
    GUARD(steep_store_check_key(key, key_len));
    struct steep_store_watcher watcher = {.ikey = STEEP_BUF_INIT};
    if (steep_store_user_key(&watcher.ikey, key, key_len) < 0) {
        steep_buf_free(&watcher.ikey);
        return STEEP_STORE_ERROR;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&watcher.wake, &attr);
    pthread_condattr_destroy(&attr);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int64_t ns = deadline.tv_nsec + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) % 1000 * 1000000;
    deadline.tv_sec += (timeout_ms > 0 ? timeout_ms : 0) / 1000 + ns / 1000000000;
    deadline.tv_nsec = ns % 1000000000;

    pthread_mutex_lock(&store->watch_mutex);
    watcher.next = store->watchers;
    store->watchers = &watcher;
    pthread_mutex_unlock(&store->watch_mutex);
    int rc = STEEP_STORE_OK;
    for (;;) {
        int d = differs(store, &watcher.ikey, known_absent, known, known_len);
        if (d != 0) {
            rc = d < 0 ? STEEP_STORE_ERROR : STEEP_STORE_OK;
            *changed = d > 0;
            break;
        }
        bool timed_out = false;
        pthread_mutex_lock(&store->watch_mutex);
        while (!watcher.changed && !timed_out)
            timed_out =
                pthread_cond_timedwait(&watcher.wake, &store->watch_mutex, &deadline) == ETIMEDOUT;
        bool woken = watcher.changed;
        watcher.changed = false;
        pthread_mutex_unlock(&store->watch_mutex);
        if (!woken)
            break; /* timed out, nothing written */
    }
    watch_remove(store, &watcher);
    pthread_cond_destroy(&watcher.wake);
    steep_buf_free(&watcher.ikey);
    return rc;
}

struct steep_store_watch *steep_store_leveldb_watch(struct steep_store_leveldb *store,
                                                    const void *key, size_t key_len,
                                                    steep_store_wake_fn wake, void *arg)
{
    struct steep_store_watcher *watcher = calloc(1, sizeof *watcher);
    if (!watcher) {
        steep_error_set("out of memory");
        return NULL;
    }
    watcher->ikey = (struct steep_buf)STEEP_BUF_INIT;
    if (steep_store_user_key(&watcher->ikey, key, key_len) < 0) {
        steep_buf_free(&watcher->ikey);
        free(watcher);
        return NULL;
    }
    watcher->wake_fn = wake;
    watcher->wake_arg = arg;
    pthread_mutex_lock(&store->watch_mutex);
    watcher->next = store->watchers;
    store->watchers = watcher;
    pthread_mutex_unlock(&store->watch_mutex);
    return (struct steep_store_watch *)watcher;
}

void steep_store_leveldb_unwatch(struct steep_store_leveldb *store, struct steep_store_watch *watch)
{
    struct steep_store_watcher *watcher = (struct steep_store_watcher *)watch;
    watch_remove(store, watcher); /* under watch_mutex: no wake is running after it */
    steep_buf_free(&watcher->ikey);
    free(watcher);
}
