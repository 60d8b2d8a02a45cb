/*
 * The handler thread pool. Handlers may block for a while (a call to
 * another service), so the pool never lets work wait while it can still
 * grow: a thread is added whenever queued work outnumbers idle workers, up
 * to max_threads. Threads beyond min_threads exit after idle_ms without
 * work. Threads are detached; the pool counts them and its free waits for
 * the count to reach zero.
 *
 * Both the threads and the queue have a ceiling (issue 14, item 8): once
 * max_threads are busy, at most max_queued calls wait; submit refuses more
 * (the server answers them RESOURCE_EXHAUSTED), so a flood costs neither
 * unbounded threads nor unbounded memory. Continuations of held calls
 * (steep_rpc_call_resume) pass the queue bound: they were admitted once,
 * and refusing them would lose their answer.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/internal.h"

struct steep_rpc_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t exited;
    struct steep_rpc_call *head, *tail;
    int queued, threads, idle, min_threads, max_threads, idle_ms, max_queued;
    bool stopping;
    void (*run)(struct steep_rpc_call *call);
};

static struct steep_rpc_call *take(struct steep_rpc_pool *pool)
{
    struct steep_rpc_call *call = pool->head;
    pool->head = call->queue_next;
    if (!pool->head)
        pool->tail = NULL;
    call->queue_next = NULL;
    pool->queued--;
    return call;
}

/* Waits for work; false when this thread should exit. Called locked. */
static bool wait_for_work(struct steep_rpc_pool *pool)
{
    while (!pool->head) {
        if (pool->stopping)
            return false;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += pool->idle_ms / 1000;
        until.tv_nsec += (long)(pool->idle_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pool->idle++;
        int rc = pthread_cond_timedwait(&pool->work, &pool->lock, &until);
        pool->idle--;
        if (rc != 0 && !pool->head && pool->threads > pool->min_threads)
            return false;
    }
    return true;
}

static void *worker(void *arg)
{
    struct steep_rpc_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    while (wait_for_work(pool)) {
        struct steep_rpc_call *call = take(pool);
        pthread_mutex_unlock(&pool->lock);
        pool->run(call);
        pthread_mutex_lock(&pool->lock);
    }
    /* Workers are detached: steep_rpc_pool_free returns once the count
     * below reaches 0, which can be before this thread has run its
     * thread-local destructors, and the process may exit right after.
     * Free OpenSSL's per-thread state (its DRBGs, error queue) first, so
     * none of it outlives the pool (LeakSanitizer saw it once). */
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        OPENSSL_thread_stop();
        pthread_mutex_lock(&pool->lock);
    }
    pool->threads--;
    pthread_cond_broadcast(&pool->exited);
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Called locked. */
static int spawn(struct steep_rpc_pool *pool)
{
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&thread, &attr, worker, pool);
    pthread_attr_destroy(&attr);
    ENSURE(rc == 0, "cannot start a worker thread: %s", strerror(rc));
    pool->threads++;
    return 0;
}

struct steep_rpc_pool *steep_rpc_pool_new(int min_threads, int max_threads, int idle_ms,
                                          int max_queued, void (*run)(struct steep_rpc_call *call))
{
    struct steep_rpc_pool *pool = calloc(1, sizeof(*pool));
    if (!pool) {
        steep_error_set("out of memory");
        return NULL;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, &attr);
    pthread_cond_init(&pool->exited, NULL);
    pthread_condattr_destroy(&attr);
    pool->min_threads = min_threads;
    pool->max_threads = max_threads < min_threads ? min_threads : max_threads;
    pool->idle_ms = idle_ms;
    pool->max_queued = max_queued > 0 ? max_queued : 1;
    pool->run = run;
    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < min_threads; i++) {
        if (spawn(pool) < 0)
            break;
    }
    bool ok = pool->threads > 0;
    pthread_mutex_unlock(&pool->lock);
    if (!ok) {
        steep_rpc_pool_free(pool);
        return NULL;
    }
    return pool;
}

int steep_rpc_pool_submit(struct steep_rpc_pool *pool, struct steep_rpc_call *call, bool force)
{
    pthread_mutex_lock(&pool->lock);
    /* Full: every thread busy or about to be, and max_queued calls waiting
     * beyond the idle ones. */
    if (!force && pool->threads >= pool->max_threads &&
        pool->queued - pool->idle >= pool->max_queued) {
        pthread_mutex_unlock(&pool->lock);
        return -1;
    }
    call->queue_next = NULL;
    if (pool->tail)
        pool->tail->queue_next = call;
    else
        pool->head = call;
    pool->tail = call;
    pool->queued++;
    if (pool->queued > pool->idle && pool->threads < pool->max_threads) {
        if (spawn(pool) < 0)
            log_warn("rpc: %s", steep_error_get());
    }
    if (pool->idle > 0)
        pthread_cond_signal(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

int steep_rpc_pool_threads(struct steep_rpc_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    int threads = pool->threads;
    pthread_mutex_unlock(&pool->lock);
    return threads;
}

void steep_rpc_pool_free(struct steep_rpc_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->work);
    while (pool->threads > 0)
        pthread_cond_wait(&pool->exited, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work);
    pthread_cond_destroy(&pool->exited);
    free(pool);
}
