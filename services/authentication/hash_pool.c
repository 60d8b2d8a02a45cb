/* The bounded hashing pool; see hash_pool.h. Jobs live on their callers'
 * stacks (a caller waits until its job is done or dropped); the queue is
 * an array in arrival order, scanned linearly: it holds at most `queue`
 * entries, and each entry stands for tens of milliseconds of argon2. */
#include "authentication/hash_pool.h"

#include "core/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_DROPPED };

struct job {
    uint8_t source[STEEP_AUTH_SOURCE_LEN];
    void (*fn)(void *arg);
    void *arg;
    bool (*cancelled)(const void *call);
    const void *call;
    enum job_state state;
    uint64_t round; /* start-time fair queueing: see pick() */
};

struct steep_auth_pool {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or stop */
    pthread_cond_t done; /* a job finished */
    bool stop;
    int n_threads, max_queue, per_source;
    int run_cap; /* hashes one source may run at once: half the threads */
    pthread_t *threads;
    int started;
    struct job **queue; /* arrival order */
    int n_queued;
    struct job **running; /* one slot per thread, NULL when idle */
    uint64_t round;       /* the round of the job started last */
    struct steep_auth_pool_stats stats;
};

static bool same_source(const struct job *a, const struct job *b)
{
    return memcmp(a->source, b->source, STEEP_AUTH_SOURCE_LEN) == 0;
}

static int running_of(const struct steep_auth_pool *pool, const struct job *job)
{
    int n = 0;
    for (int i = 0; i < pool->n_threads; i++)
        n += pool->running[i] && same_source(pool->running[i], job);
    return n;
}

/*
 * Round-robin between sources (start-time fair queueing): a job's round is
 * one past the last round of its source's jobs still queued or running, and
 * at least the round of the job started last; the lowest round starts
 * first, ties in arrival order. A source arriving while another has
 * queued ten jobs gets the next thread, not the eleventh.
 */
static uint64_t round_of(const struct steep_auth_pool *pool, const struct job *job)
{
    uint64_t round = pool->round;
    for (int i = 0; i < pool->n_threads; i++)
        if (pool->running[i] && same_source(pool->running[i], job) &&
            pool->running[i]->round + 1 > round)
            round = pool->running[i]->round + 1;
    for (int i = 0; i < pool->n_queued; i++)
        if (same_source(pool->queue[i], job) && pool->queue[i]->round + 1 > round)
            round = pool->queue[i]->round + 1;
    return round;
}

/* The next job to start, or -1 when every queued job's source already
 * runs its share (run_cap), which keeps threads free for other sources. */
static int pick(const struct steep_auth_pool *pool)
{
    int best = -1;
    for (int i = 0; i < pool->n_queued; i++)
        if ((best < 0 || pool->queue[i]->round < pool->queue[best]->round) &&
            running_of(pool, pool->queue[i]) < pool->run_cap)
            best = i;
    return best;
}

static void unqueue(struct steep_auth_pool *pool, int i)
{
    memmove(&pool->queue[i], &pool->queue[i + 1],
            (size_t)(pool->n_queued - i - 1) * sizeof pool->queue[0]);
    pool->n_queued--;
}

struct worker {
    struct steep_auth_pool *pool;
    int slot;
};

static void *worker_main(void *arg)
{
    struct steep_auth_pool *pool = ((struct worker *)arg)->pool;
    int slot = ((struct worker *)arg)->slot;
    free(arg);
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        int i = -1;
        while (!pool->stop && (i = pick(pool)) < 0)
            pthread_cond_wait(&pool->work, &pool->lock);
        if (pool->stop)
            break;
        struct job *job = pool->queue[i];
        unqueue(pool, i);
        /* Checked once more here: the caller polls only every 50 ms. */
        if (job->cancelled && job->cancelled(job->call)) {
            job->state = JOB_DROPPED;
            pool->stats.cancelled++;
            pthread_cond_broadcast(&pool->done);
            continue;
        }
        job->state = JOB_RUNNING;
        pool->running[slot] = job;
        pool->round = job->round;
        pthread_mutex_unlock(&pool->lock);
        job->fn(job->arg);
        pthread_mutex_lock(&pool->lock);
        pool->running[slot] = NULL;
        job->state = JOB_DONE;
        pool->stats.ran++;
        pthread_cond_broadcast(&pool->done);
        pthread_cond_broadcast(&pool->work); /* a job held back by run_cap may start */
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

struct steep_auth_pool *steep_auth_pool_new(const struct steep_auth_pool_config *config)
{
    struct steep_auth_pool *pool = calloc(1, sizeof *pool);
    if (!pool) {
        steep_error_set("out of memory");
        return NULL;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    pool->n_threads = config->threads > 0 ? config->threads : cpus < 1 ? 1 : cpus > 8 ? 8 : cpus;
    pool->max_queue = config->queue > 0 ? config->queue : 128;
    pool->per_source = config->per_source > 0 ? config->per_source : 64;
    pool->run_cap = pool->n_threads > 1 ? pool->n_threads / 2 : 1;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->threads = calloc((size_t)pool->n_threads, sizeof *pool->threads);
    pool->running = calloc((size_t)pool->n_threads, sizeof *pool->running);
    pool->queue = calloc((size_t)pool->max_queue, sizeof *pool->queue);
    if (!pool->threads || !pool->running || !pool->queue) {
        steep_auth_pool_free(pool);
        steep_error_set("out of memory");
        return NULL;
    }
    for (; pool->started < pool->n_threads; pool->started++) {
        struct worker *w = malloc(sizeof *w);
        int rc = w ? 0 : ENOMEM;
        if (w) {
            *w = (struct worker){pool, pool->started};
            rc = pthread_create(&pool->threads[pool->started], NULL, worker_main, w);
        }
        if (rc != 0) {
            free(w);
            steep_auth_pool_free(pool);
            steep_error_set("cannot start a hashing thread: %s", strerror(rc));
            return NULL;
        }
    }
    return pool;
}

void steep_auth_pool_free(struct steep_auth_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stop = true;
    for (int i = 0; i < pool->n_queued; i++)
        pool->queue[i]->state = JOB_DROPPED;
    pool->n_queued = 0;
    pthread_cond_broadcast(&pool->work);
    pthread_cond_broadcast(&pool->done);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->started; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->work);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool->running);
    free(pool->queue);
    free(pool);
}

/* Jobs of job's source waiting or running. */
static int share_of(const struct steep_auth_pool *pool, const struct job *job)
{
    int n = running_of(pool, job);
    for (int i = 0; i < pool->n_queued; i++)
        n += same_source(pool->queue[i], job);
    return n;
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += ms * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

enum steep_auth_pool_result steep_auth_pool_run(struct steep_auth_pool *pool,
                                                const uint8_t source[STEEP_AUTH_SOURCE_LEN],
                                                bool (*cancelled)(const void *call),
                                                const void *call, void (*fn)(void *arg), void *arg)
{
    struct job job = {.fn = fn, .arg = arg, .cancelled = cancelled, .call = call};
    memcpy(job.source, source, STEEP_AUTH_SOURCE_LEN);
    pthread_mutex_lock(&pool->lock);
    if (pool->stop || pool->n_queued >= pool->max_queue ||
        share_of(pool, &job) >= pool->per_source) {
        pool->stats.busy++;
        pthread_mutex_unlock(&pool->lock);
        return STEEP_AUTH_POOL_BUSY;
    }
    job.state = JOB_QUEUED;
    job.round = round_of(pool, &job);
    pool->queue[pool->n_queued++] = &job;
    if (pool->n_queued > pool->stats.peak_waiting)
        pool->stats.peak_waiting = pool->n_queued;
    pthread_cond_signal(&pool->work);
    while (job.state == JOB_QUEUED || job.state == JOB_RUNNING) {
        struct timespec ts;
        deadline_in(&ts, 50);
        pthread_cond_timedwait(&pool->done, &pool->lock, &ts);
        if (job.state == JOB_QUEUED && cancelled && cancelled(call)) {
            for (int i = 0; i < pool->n_queued; i++)
                if (pool->queue[i] == &job) {
                    unqueue(pool, i);
                    break;
                }
            job.state = JOB_DROPPED;
            pool->stats.cancelled++;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return job.state == JOB_DONE ? STEEP_AUTH_POOL_DONE : STEEP_AUTH_POOL_CANCELLED;
}

void steep_auth_pool_stats(struct steep_auth_pool *pool, struct steep_auth_pool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    *out = pool->stats;
    pthread_mutex_unlock(&pool->lock);
}
