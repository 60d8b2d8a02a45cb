/*
 * The node's pre-started runners; see runner_pool.h.
 *
 * One mutex guards the list of runners (starting or ready), the counters
 * and the module the wasm runners are made for. The refill thread starts
 * runners outside the lock (each start is a clone + exec, or a request to
 * the Python zygote), then polls every idle channel and a wake-up pipe:
 * READY from a starting runner makes it ready, anything else from a
 * starting runner (its ERROR frame, its end) is a failed start, and any
 * event on a ready runner's channel means it is gone. Takers remove a
 * runner under the lock after checking once more that it still runs
 * (waitid WNOWAIT, and a channel with nothing to read), so a runner that
 * died after the thread last looked is never handed a task either; the
 * thread is woken to replace what was taken or lost.
 */
#include "runner_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "python/node/python_zygote.h"
#include "runner_protocol.h"

#define MAX_SIZE      64
#define MAX_RUNNERS   (3 * MAX_SIZE)
#define BACKOFF_FIRST 1000
#define BACKOFF_MAX   30000

enum kind { KIND_BUILTIN, KIND_PYTHON, KIND_WAMR, KINDS };

static const char *const kind_executor[KINDS] = {"builtin", "python", "wamr"};

struct runner {
    enum kind kind;
    pid_t pid;
    int channel;
    bool ready;
    unsigned generation; /* steep_sandbox_generation() at its start */
    dev_t module_dev;    /* wamr: which module it loaded */
    ino_t module_ino;
};

struct steep_runner_pool {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t thread;
    bool thread_started, stopping;
    int wake[2];
    struct steep_runner_pool_config config;
    char runner_path[4096];
    char jail[4096];
    struct steep_sandbox_spawner python;
    struct runner runners[MAX_RUNNERS];
    size_t n;
    int module_fd; /* wamr runners are made with it; -1: none yet */
    dev_t module_dev;
    ino_t module_ino;
    int64_t backoff_until[KINDS], backoff_ms[KINDS]; /* per kind: a broken zygote
                                                      * does not slow builtins */
    struct steep_runner_pool_stats stats;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(struct steep_runner_pool *pool)
{
    char byte = 1;
    ssize_t n = write(pool->wake[1], &byte, 1);
    (void)n; /* a full pipe already wakes the thread */
}

static void discard(pid_t pid, int channel)
{
    close(channel);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static void remove_at(struct steep_runner_pool *pool, size_t i)
{
    pool->runners[i] = pool->runners[--pool->n];
}

static bool matches(const struct steep_runner_pool *pool, const struct runner *runner,
                    enum kind kind)
{
    if (runner->kind != kind || runner->generation != steep_sandbox_generation())
        return false;
    return kind != KIND_WAMR ||
           (runner->module_dev == pool->module_dev && runner->module_ino == pool->module_ino);
}

static bool kind_enabled(const struct steep_runner_pool *pool, enum kind kind)
{
    if (kind == KIND_PYTHON)
        return pool->config.python != NULL;
    if (kind == KIND_WAMR)
        return pool->module_fd >= 0;
    return true;
}

static void fail_start(struct steep_runner_pool *pool, enum kind kind, const char *why)
{
    pool->stats.failed++;
    int64_t *backoff = &pool->backoff_ms[kind];
    *backoff = *backoff ? *backoff * 2 : BACKOFF_FIRST;
    if (*backoff > BACKOFF_MAX)
        *backoff = BACKOFF_MAX;
    pool->backoff_until[kind] = now_ms() + *backoff;
    log_warn("runner pool: a %s runner could not get ready: %s; next try in %lld ms",
             kind_executor[kind], why, (long long)*backoff);
}

/* With the lock held; releases it while a runner starts. */
static void refill(struct steep_runner_pool *pool)
{
    /* Runners of another sandbox configuration, and wasm runners of a
     * module the pool no longer uses, are retired. */
    for (size_t i = 0; i < pool->n;) {
        struct runner r = pool->runners[i];
        if (!matches(pool, &r, r.kind)) {
            remove_at(pool, i);
            pthread_mutex_unlock(&pool->lock);
            discard(r.pid, r.channel);
            pthread_mutex_lock(&pool->lock);
            continue;
        }
        i++;
    }
    for (int kind = 0; kind < KINDS && !pool->stopping; kind++) {
        for (;;) {
            if (!kind_enabled(pool, kind) || pool->stopping || now_ms() < pool->backoff_until[kind])
                break;
            size_t have = 0;
            for (size_t i = 0; i < pool->n; i++)
                have += matches(pool, &pool->runners[i], kind);
            if (have >= pool->config.size || pool->n >= MAX_RUNNERS)
                break;
            struct steep_sandbox_prestart prestart = {
                .runner_path = pool->runner_path,
                .spawner = kind == KIND_PYTHON ? &pool->python : NULL,
                .executor = kind_executor[kind],
                .jail_dir = pool->jail,
                .limits = pool->config.limits,
                .module_fd = kind == KIND_WAMR ? fcntl(pool->module_fd, F_DUPFD_CLOEXEC, 0) : -1,
                .generation = steep_sandbox_generation(),
            };
            if (kind == KIND_WAMR && prestart.module_fd < 0) {
                fail_start(pool, kind, strerror(errno));
                break;
            }
            struct runner runner = {.kind = kind,
                                    .generation = prestart.generation,
                                    .module_dev = pool->module_dev,
                                    .module_ino = pool->module_ino};
            pthread_mutex_unlock(&pool->lock);
            int rc = steep_sandbox_prestart(&prestart, &runner.pid, &runner.channel);
            if (prestart.module_fd >= 0)
                close(prestart.module_fd);
            pthread_mutex_lock(&pool->lock);
            if (rc < 0) {
                fail_start(pool, kind, steep_error_get());
                break;
            }
            pool->stats.started++;
            pool->runners[pool->n++] = runner;
        }
    }
}

/* A starting runner spoke: READY, or why it could not start. */
static void hear(struct steep_runner_pool *pool, size_t i)
{
    struct runner *runner = &pool->runners[i];
    uint8_t data[1024];
    ssize_t n = read(runner->channel, data, sizeof data - 1);
    if (n == STEEP_RUNNER_FRAME_HEADER && data[4] == STEEP_RUNNER_READY && data[0] == 0 &&
        data[1] == 0 && data[2] == 0 && data[3] == 0) {
        runner->ready = true;
        pool->backoff_ms[runner->kind] = 0;
        pthread_cond_broadcast(&pool->changed);
        return;
    }
    char why[512] = "it ended";
    if (n > STEEP_RUNNER_FRAME_HEADER && data[4] == STEEP_RUNNER_ERROR) {
        data[n] = 0;
        snprintf(why, sizeof why, "%s", (const char *)data + STEEP_RUNNER_FRAME_HEADER);
    } else if (n > 0) {
        snprintf(why, sizeof why, "it sent frame %u", data[4]);
    }
    struct runner gone = *runner;
    remove_at(pool, i);
    fail_start(pool, gone.kind, why);
    pthread_mutex_unlock(&pool->lock);
    discard(gone.pid, gone.channel);
    pthread_mutex_lock(&pool->lock);
}

static void lost(struct steep_runner_pool *pool, size_t i)
{
    struct runner gone = pool->runners[i];
    remove_at(pool, i);
    pool->stats.replaced++;
    log_warn("runner pool: idle %s runner %d died while waiting; replacing it",
             kind_executor[gone.kind], (int)gone.pid);
    pthread_mutex_unlock(&pool->lock);
    discard(gone.pid, gone.channel);
    pthread_mutex_lock(&pool->lock);
}

static void *refill_main(void *arg)
{
    struct steep_runner_pool *pool = arg;
    struct pollfd fds[MAX_RUNNERS + 1];
    pid_t pids[MAX_RUNNERS + 1];
    pthread_mutex_lock(&pool->lock);
    while (!pool->stopping) {
        refill(pool);
        if (pool->stopping)
            break;
        size_t n = 0;
        fds[n++] = (struct pollfd){pool->wake[0], POLLIN, 0};
        for (size_t i = 0; i < pool->n; i++) {
            pids[n] = pool->runners[i].pid;
            fds[n++] = (struct pollfd){pool->runners[i].channel, POLLIN, 0};
        }
        /* Woken by a take, a runner's frame or end, or a backoff's end. */
        int timeout = -1;
        for (int kind = 0; kind < KINDS; kind++) {
            int64_t left = pool->backoff_until[kind] - now_ms();
            if (left > 0 && (timeout < 0 || left < timeout))
                timeout = (int)(left > BACKOFF_MAX ? BACKOFF_MAX : left);
        }
        pthread_mutex_unlock(&pool->lock);
        int ready = poll(fds, n, timeout);
        pthread_mutex_lock(&pool->lock);
        if (ready <= 0)
            continue;
        if (fds[0].revents) {
            char drain[64];
            while (read(pool->wake[0], drain, sizeof drain) > 0)
                ;
        }
        for (size_t k = 1; k < n; k++) {
            if (!fds[k].revents)
                continue;
            /* Taken (or replaced) meanwhile: not the pool's any more. */
            size_t i = 0;
            while (i < pool->n && pool->runners[i].pid != pids[k])
                i++;
            if (i == pool->n)
                continue;
            if (pool->runners[i].ready)
                lost(pool, i);
            else
                hear(pool, i);
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

struct steep_runner_pool *steep_runner_pool_start(const struct steep_runner_pool_config *config)
{
    if (config->size < 1 || config->size > MAX_SIZE) {
        steep_error_set("[execution] runner_pool must be 0..%d", MAX_SIZE);
        return NULL;
    }
    struct steep_runner_pool *pool = calloc(1, sizeof *pool);
    if (!pool) {
        steep_error_set("out of memory");
        return NULL;
    }
    pool->config = *config;
    pool->module_fd = -1;
    pool->wake[0] = pool->wake[1] = -1;
    snprintf(pool->runner_path, sizeof pool->runner_path, "%s", config->runner_path);
    pool->config.runner_path = pool->runner_path;
    pool->python = (struct steep_sandbox_spawner){steep_python_zygote_spawn, config->python};
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->changed, NULL);
    int rc = 0;
    if (mkdir(config->work_dir, 0700) < 0 && errno != EEXIST)
        rc = steep_error_set("cannot create %s: %s", config->work_dir, strerror(errno));
    if (rc == 0 && (size_t)snprintf(pool->jail, sizeof pool->jail, "%s/pool-root-XXXXXX",
                                    config->work_dir) >= sizeof pool->jail)
        rc = steep_error_set("work directory path too long");
    /* The runners' shared root: empty, and not writable (runner_confine.c
     * mounts it read-only, nosuid, nodev, noexec in each runner). */
    if (rc == 0 && !mkdtemp(pool->jail)) {
        rc = steep_error_set("cannot create %s: %s", pool->jail, strerror(errno));
        pool->jail[0] = 0;
    }
    if (rc == 0)
        chmod(pool->jail, 0500);
    if (rc == 0 && pipe2(pool->wake, O_CLOEXEC | O_NONBLOCK) < 0)
        rc = steep_error_set("cannot create the runner pool's pipe: %s", strerror(errno));
    if (rc == 0) {
        int err = pthread_create(&pool->thread, NULL, refill_main, pool);
        if (err != 0)
            rc = steep_error_set("cannot start the runner pool's thread: %s", strerror(err));
        pool->thread_started = err == 0;
    }
    if (rc < 0) {
        steep_runner_pool_stop(pool);
        return NULL;
    }
    log_info("runner pool: %u ready runner(s) per executor kind", config->size);
    return pool;
}

void steep_runner_pool_stop(struct steep_runner_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_mutex_unlock(&pool->lock);
    if (pool->thread_started) {
        wake(pool);
        pthread_join(pool->thread, NULL);
    }
    for (size_t i = 0; i < pool->n; i++)
        discard(pool->runners[i].pid, pool->runners[i].channel);
    pool->n = 0;
    log_info("runner pool: %llu tasks served by pre-started runners, %llu started their own, "
             "%llu idle runners replaced, %llu failed to start",
             (unsigned long long)pool->stats.served, (unsigned long long)pool->stats.missed,
             (unsigned long long)pool->stats.replaced, (unsigned long long)pool->stats.failed);
    if (pool->module_fd >= 0)
        close(pool->module_fd);
    for (int i = 0; i < 2; i++)
        if (pool->wake[i] >= 0)
            close(pool->wake[i]);
    if (pool->jail[0])
        rmdir(pool->jail);
    pthread_cond_destroy(&pool->changed);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

static int kind_of(const char *executor)
{
    for (int kind = 0; kind < KINDS; kind++)
        if (strcmp(executor, kind_executor[kind]) == 0)
            return kind;
    return -1;
}

/* Still waiting: not exited, and nothing (no end, no frame) on its channel. */
static bool alive(const struct runner *runner)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)runner->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0 ||
        info.si_pid == runner->pid)
        return false;
    struct pollfd pfd = {runner->channel, POLLIN, 0};
    return poll(&pfd, 1, 0) == 0;
}

/* Field by field: padding bytes of copied structs need not agree. */
static bool same_limits(const struct steep_sandbox_limits *a, const struct steep_sandbox_limits *b)
{
    return a->cpu_seconds == b->cpu_seconds && a->wall_seconds == b->wall_seconds &&
           a->open_files == b->open_files && a->memory_bytes == b->memory_bytes &&
           a->file_size_bytes == b->file_size_bytes && a->message_bytes == b->message_bytes;
}

int steep_runner_pool_take(struct steep_runner_pool *pool, const char *executor, int module_fd,
                           const struct steep_sandbox_limits *limits, pid_t *pid, int *channel)
{
    int kind = pool ? kind_of(executor) : -1;
    if (kind < 0)
        return 0;
    struct stat module;
    if (kind == KIND_WAMR && (module_fd < 0 || fstat(module_fd, &module) < 0))
        return 0;
    int taken = 0;
    pthread_mutex_lock(&pool->lock);
    bool usable = same_limits(limits, &pool->config.limits) &&
                  (kind != KIND_WAMR ||
                   (module.st_dev == pool->module_dev && module.st_ino == pool->module_ino));
    for (size_t i = 0; usable && i < pool->n && !taken;) {
        struct runner runner = pool->runners[i];
        if (!runner.ready || !matches(pool, &runner, kind)) {
            i++;
            continue;
        }
        remove_at(pool, i);
        if (!alive(&runner)) {
            pool->stats.replaced++;
            log_warn("runner pool: idle %s runner %d died while waiting; replacing it", executor,
                     (int)runner.pid);
            pthread_mutex_unlock(&pool->lock);
            discard(runner.pid, runner.channel);
            pthread_mutex_lock(&pool->lock);
            i = 0; /* the list may have changed meanwhile */
            continue;
        }
        *pid = runner.pid;
        *channel = runner.channel;
        taken = 1;
    }
    if (taken)
        pool->stats.served++;
    else
        pool->stats.missed++;
    pthread_mutex_unlock(&pool->lock);
    char labels[64];
    snprintf(labels, sizeof labels, "executor=\"%s\",outcome=\"%s\"", executor,
             taken ? "served" : "missed");
    steep_metrics_count("steep_runner_pool_tasks_total",
                        "Tasks that found a pre-started runner (served) or started their own "
                        "(missed), by executor",
                        labels, 1);
    wake(pool);
    return taken;
}

void steep_runner_pool_use_module(struct steep_runner_pool *pool, int module_fd)
{
    struct stat module;
    if (!pool || module_fd < 0 || fstat(module_fd, &module) < 0)
        return;
    pthread_mutex_lock(&pool->lock);
    bool same = pool->module_fd >= 0 && module.st_dev == pool->module_dev &&
                module.st_ino == pool->module_ino;
    int copy = same ? -1 : fcntl(module_fd, F_DUPFD_CLOEXEC, 0);
    if (copy >= 0) {
        if (pool->module_fd >= 0)
            close(pool->module_fd);
        pool->module_fd = copy;
        pool->module_dev = module.st_dev;
        pool->module_ino = module.st_ino;
    }
    pthread_mutex_unlock(&pool->lock);
    if (copy >= 0)
        wake(pool);
}

void steep_runner_pool_stats(struct steep_runner_pool *pool, struct steep_runner_pool_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    *stats = pool->stats;
    for (size_t i = 0; i < pool->n; i++)
        stats->ready += pool->runners[i].ready;
    pthread_mutex_unlock(&pool->lock);
}

static size_t count_ready(struct steep_runner_pool *pool, int kind, pid_t *pids, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < pool->n; i++) {
        const struct runner *runner = &pool->runners[i];
        if (!runner->ready || !matches(pool, runner, kind))
            continue;
        if (count < max)
            pids[count] = runner->pid;
        count++;
    }
    return count;
}

size_t steep_runner_pool_ready_pids(struct steep_runner_pool *pool, const char *executor,
                                    pid_t *pids, size_t max)
{
    int kind = pool ? kind_of(executor) : -1;
    if (kind < 0)
        return 0;
    pthread_mutex_lock(&pool->lock);
    size_t count = count_ready(pool, kind, pids, max);
    pthread_mutex_unlock(&pool->lock);
    return count;
}

bool steep_runner_pool_wait_ready(struct steep_runner_pool *pool, const char *executor,
                                  size_t count, int timeout_ms)
{
    int kind = pool ? kind_of(executor) : -1;
    if (kind < 0)
        return false;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    wake(pool); /* the configuration may have changed: runners to retire and start */
    pthread_mutex_lock(&pool->lock);
    bool enough;
    while (!(enough = count_ready(pool, kind, NULL, 0) >= count))
        if (pthread_cond_timedwait(&pool->changed, &pool->lock, &deadline) == ETIMEDOUT)
            break;
    enough = count_ready(pool, kind, NULL, 0) >= count;
    pthread_mutex_unlock(&pool->lock);
    return enough;
}
