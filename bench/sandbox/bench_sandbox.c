/*
 * Cost of one sandboxed task: steep_sandbox_run() of builtin-echo from
 * start to reaped runner, p50/p99 over N runs, and in the same run the
 * reference of a bare fork+exec+wait of /bin/true (what any process-per-task
 * design pays), so the ratio shows what the confinement itself adds. Then
 * the same task in a pre-started runner (executors/runner_pool.h): the
 * task's path from a ready runner to its result, and the CPU per task
 * including the background start of the runner that served it.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "executors/runner_pool.h"
#include "executors/sandbox.h"

extern char **environ;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of this process and its reaped children: what a task costs
 * whatever else the machine runs. */
static double cpu_ms(void)
{
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    return (self.ru_utime.tv_sec + self.ru_stime.tv_sec + children.ru_utime.tv_sec +
            children.ru_stime.tv_sec) *
               1e3 +
           (self.ru_utime.tv_usec + self.ru_stime.tv_usec + children.ru_utime.tv_usec +
            children.ru_stime.tv_usec) /
               1e3;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof *ms, compare);
    printf("%-28s p50 %.3f ms  p99 %.3f ms\n", what, ms[n / 2], ms[n * 99 / 100]);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    const char *build = getenv("STEEP_BUILD_DIR");
    char runner[1024], jail[] = "/tmp/steep-bench-sandbox-XXXXXX";
    snprintf(runner, sizeof runner, "%s/bin/steep-task-runner", build ? build : "build");
    if (getenv("BENCH_RUNNER")) /* another build's runner, for a before/after */
        snprintf(runner, sizeof runner, "%s", getenv("BENCH_RUNNER"));
    if (n < 10 || !mkdtemp(jail))
        return 2;
    chmod(jail, 0500);
    double *sandboxed = calloc((size_t)n, sizeof *sandboxed);
    double *bare = calloc((size_t)n, sizeof *bare);
    double *cpu = calloc((size_t)n, sizeof *cpu);
    double *bare_cpu = calloc((size_t)n, sizeof *bare_cpu);
    struct steep_runner_request request;
    memset(&request, 0, sizeof request);
    request.executor = "builtin";
    request.function_name = "builtin-echo";
    request.arguments = "{\"message\":\"bench\"}";
    request.jail_dir = jail;
    struct steep_sandbox_task task = {runner, &request, {0}, NULL};
    steep_sandbox_limits_default(&task.limits);
    task.limits.memory_bytes = 256u << 20;
    for (int i = 0; i < n; i++) {
        struct steep_sandbox_result result;
        double start = now_ms(), start_cpu = cpu_ms();
        if (steep_sandbox_run(&task, &result) < 0 || !result.ok) {
            fprintf(stderr, "run %d failed: %s\n", i, result.reason);
            return 1;
        }
        sandboxed[i] = now_ms() - start;
        cpu[i] = cpu_ms() - start_cpu;
        steep_sandbox_result_free(&result);
        char *args[] = {"true", NULL};
        pid_t pid;
        start = now_ms();
        start_cpu = cpu_ms();
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0)
            return 1;
        waitpid(pid, NULL, 0);
        bare[i] = now_ms() - start;
        bare_cpu[i] = cpu_ms() - start_cpu;
    }
    report("sandboxed builtin-echo", sandboxed, n);
    report("reference spawn /bin/true", bare, n);
    printf("ratio (p50)                  %.2f\n", sandboxed[n / 2] / bare[n / 2]);
    report("CPU per sandboxed task", cpu, n);
    report("CPU per reference spawn", bare_cpu, n);
    printf("CPU ratio (p50)              %.2f\n", cpu[n / 2] / bare_cpu[n / 2]);

    /* Pre-started: one runner made ready ahead of each task. */
    char work[] = "/tmp/steep-bench-pool-XXXXXX";
    if (!mkdtemp(work))
        return 2;
    struct steep_runner_pool_config config = {1, runner, NULL, work, task.limits};
    struct steep_runner_pool *pool = steep_runner_pool_start(&config);
    if (!pool) {
        fprintf(stderr, "runner pool: %s\n", steep_error_get());
        return 1;
    }
    double *pooled = calloc((size_t)n, sizeof *pooled);
    double *pooled_cpu = calloc((size_t)n, sizeof *pooled_cpu);
    for (int i = 0; i < n; i++) {
        double start_cpu = cpu_ms();
        if (!steep_runner_pool_wait_ready(pool, "builtin", 1, 10000)) {
            fprintf(stderr, "no pre-started runner got ready\n");
            return 1;
        }
        struct steep_sandbox_result result;
        pid_t pid;
        int channel;
        double start = now_ms();
        if (steep_runner_pool_take(pool, "builtin", -1, &task.limits, &pid, &channel) != 1 ||
            steep_sandbox_run_prestarted(&task, pid, channel, &result) != 0 || !result.ok) {
            fprintf(stderr, "pooled run %d failed\n", i);
            return 1;
        }
        pooled[i] = now_ms() - start;
        pooled_cpu[i] = cpu_ms() - start_cpu;
        steep_sandbox_result_free(&result);
    }
    steep_runner_pool_stop(pool);
    rmdir(work);
    double cold_p50 = sandboxed[n / 2], cold_cpu_p50 = cpu[n / 2];
    report("pre-started builtin-echo", pooled, n);
    printf("ratio to its own start (p50)  %.3f\n", pooled[n / 2] / cold_p50);
    report("CPU per pre-started task", pooled_cpu, n);
    printf("CPU ratio to its own start    %.2f\n", pooled_cpu[n / 2] / cold_cpu_p50);
    rmdir(jail);
    return 0;
}
