/*
 * Sandboxed start of a Python task: from the node asking for a task
 * process (steep_sandbox_run_spawned, as executors/task.c does) to the
 * payload's entrypoint being called, p50/p99, with the node's zygote; and
 * the same with a freshly exec'd steep-python-runner (interpreter and
 * numpy loaded for the task) as the reference; then in a pre-started
 * runner (executors/runner_pool.h: a zygote child confined ahead of the
 * task), each task finding its runner ready. The payload returns
 * CLOCK_MONOTONIC at entrypoint, which this process shares.
 *
 *   bench_python_start RUNNER_PATH JAIL_DIR RUNS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "executors/python/node/python_zygote.h"
#include "executors/runner_pool.h"
#include "executors/sandbox.h"

static const char payload[] = "import time\n"
                              "def entrypoint(argv):\n"
                              "    return str(time.clock_gettime_ns(time.CLOCK_MONOTONIC))\n";

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct steep_runner_pool *pool;

/* Start → entrypoint of one task in ms, or -1. */
static double one(const char *runner, char *jail, struct steep_sandbox_spawner *spawner)
{
    struct steep_runner_request request;
    memset(&request, 0, sizeof request);
    request.executor = "python";
    request.function_name = "bench";
    request.arguments = "{}";
    request.payload = (uint8_t *)payload;
    request.payload_len = sizeof payload - 1;
    request.jail_dir = jail;
    struct steep_sandbox_task task = {runner, &request, {0}, NULL};
    steep_sandbox_limits_default(&task.limits);
    task.limits.wall_seconds = 30;
    struct steep_sandbox_result result;
    if (pool && !steep_runner_pool_wait_ready(pool, "python", 1, 30000)) {
        fprintf(stderr, "bench_python_start: no pre-started runner got ready\n");
        return -1;
    }
    long long start = now_ns();
    pid_t pid;
    int channel;
    int rc = pool ? steep_runner_pool_take(pool, "python", -1, &task.limits, &pid, &channel) == 1
                        ? steep_sandbox_run_prestarted(&task, pid, channel, &result)
                        : steep_error_set("the pool had no runner")
                  : steep_sandbox_run_spawned(&task, spawner, &result);
    if (rc < 0) {
        fprintf(stderr, "bench_python_start: %s\n", steep_error_get());
        return -1;
    }
    double ms = -1;
    if (result.ok) {
        char text[64] = {0};
        memcpy(text, result.summary.data,
               result.summary.len < sizeof text - 1 ? result.summary.len : sizeof text - 1);
        ms = (double)(atoll(text) - start) / 1e6;
    } else {
        fprintf(stderr, "bench_python_start: task failed: %s\n", result.reason);
    }
    steep_sandbox_result_free(&result);
    return ms;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare);
    printf("%-36s p50 %7.2f ms  p99 %7.2f ms  (%d runs)\n", what, v[n / 2],
           v[(int)(0.99 * (n - 1))], n);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    int runs = atoi(argv[3]);
    struct steep_python_zygote *zygote = steep_python_zygote_start(argv[1], 1 << 20);
    if (!zygote || runs <= 0)
        return 1;
    struct steep_sandbox_spawner spawner = {steep_python_zygote_spawn, zygote};
    double *zygote_ms = calloc((size_t)runs, sizeof(double));
    double cold_ms[10];
    int cold = 10;
    if (one(argv[1], argv[2], &spawner) < 0) /* the zygote finishes loading */
        return 1;
    for (int i = 0; i < runs; i++)
        if ((zygote_ms[i] = one(argv[1], argv[2], &spawner)) < 0)
            return 1;
    for (int i = 0; i < cold; i++)
        if ((cold_ms[i] = one(argv[1], argv[2], NULL)) < 0)
            return 1;
    /* The pool's own empty root goes beside the jail. */
    char work[4200];
    snprintf(work, sizeof work, "%s-pool", argv[2]);
    /* Its builtin runners (unused here) are the task runner beside it. */
    char task_runner[4200];
    snprintf(task_runner, sizeof task_runner, "%s", argv[1]);
    char *slash = strrchr(task_runner, '/');
    snprintf(slash ? slash + 1 : task_runner,
             sizeof task_runner - (size_t)(slash ? slash + 1 - task_runner : 0),
             "steep-task-runner");
    struct steep_runner_pool_config config = {1, task_runner, zygote, work, {0}};
    steep_sandbox_limits_default(&config.limits);
    config.limits.wall_seconds = 30;
    pool = steep_runner_pool_start(&config);
    double *pooled_ms = calloc((size_t)runs, sizeof(double));
    for (int i = 0; pool && i < runs; i++)
        if ((pooled_ms[i] = one(argv[1], argv[2], NULL)) < 0)
            return 1;
    steep_runner_pool_stop(pool);
    rmdir(work);
    report("start -> entrypoint, zygote fork", zygote_ms, runs);
    report("start -> entrypoint, exec per task", cold_ms, cold);
    printf("zygote speed-up: %.1fx (budget: p50 <= 30 ms)\n",
           cold_ms[cold / 2] / zygote_ms[runs / 2]);
    report("start -> entrypoint, pre-started", pooled_ms, runs);
    printf("pre-started / zygote fork (p50): %.2f\n", pooled_ms[runs / 2] / zygote_ms[runs / 2]);
    free(pooled_ms);
    steep_python_zygote_stop(zygote);
    free(zygote_ms);
    return 0;
}
