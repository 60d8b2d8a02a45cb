/*
 * Driver of bench/wasm/run.sh: runs tasks on one node through
 * steep_task_run (the real sandboxed runner and the wasm executor's
 * compile job and cache), as the execution service does.
 *
 *   bench_wasm task EXECUTOR_TYPE FUNCTION PAYLOAD|- ARGS_JSON REPEAT
 *              [in:NAME=PATH]... [out:NAME=PATH]...
 *       prints "ms <wall ms of each run>" and "result <text>";
 *   bench_wasm compile PAYLOAD      cold compile (empty cache): "ms <wall>";
 *   bench_wasm start PAYLOAD REPEAT start -> entrypoint: the payload
 *       returns CLOCK_REALTIME in microseconds mod 2^31 at its entry;
 *       prints "p50 <ms>" (BENCH_RUNNER_POOL=N: with N pre-started
 *       runners, each task finding its runner ready).
 * Inputs are raw files read through file:// URLs; outputs are written as
 * teaclave-file-128 (zero key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/error.h"
#include "executors/runner_pool.h"
#include "executors/staged_task.h"
#include "executors/task.h"
#include "executors/wamr/cache.h"

static char dir[256];
static struct steep_task_environment environment;
static char runner[1200], work[300], cache[300];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
        exit(1);
    fclose(f);
    *len = (size_t)size;
    return data;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s/steep-bench-wasm-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        exit(1);
    snprintf(work, sizeof work, "%s/work", dir);
    /* BENCH_WASM_CACHE: a cache kept across runs (interleaved measurements). */
    const char *kept = getenv("BENCH_WASM_CACHE");
    snprintf(cache, sizeof cache, "%s", kept ? kept : "");
    if (!kept)
        snprintf(cache, sizeof cache, "%s/cache", dir);
    const char *build = getenv("STEEP_BUILD_DIR");
    snprintf(runner, sizeof runner, "%s/bin/steep-task-runner", build ? build : "build");
    environment.runner_path = runner;
    environment.work_dir = work;
    steep_sandbox_limits_default(&environment.limits);
    environment.allow_file_urls = true;
    steep_wamr_config_default(&environment.wamr);
    environment.wamr.cache_dir = cache;
    /* BENCH_RUNNER_POOL=N: pre-started runners (executors/runner_pool.h). */
    const char *pool = getenv("BENCH_RUNNER_POOL");
    if (pool && atoi(pool) > 0) {
        struct steep_runner_pool_config config = {(unsigned)atoi(pool), runner, NULL, work,
                                                  environment.limits};
        environment.pool = steep_runner_pool_start(&config);
        if (!environment.pool) {
            fprintf(stderr, "runner pool: %s\n", steep_error_get());
            exit(1);
        }
    }
}

static json_t *file_entry(const char *path, bool output)
{
    char url[1200];
    snprintf(url, sizeof url, "file://%s", path);
    json_t *entry = json_object();
    json_object_set_new(entry, "url", json_string(url));
    json_t *crypto;
    if (output) {
        json_t *key = json_array();
        for (int i = 0; i < 16; i++)
            json_array_append_new(key, json_integer(0));
        crypto = json_pack("{s:{s:o}}", "TeaclaveFile128", "key", key);
    } else {
        crypto = json_string("Raw");
    }
    json_object_set_new(entry, "crypto_info", crypto);
    json_object_set_new(entry, "cmac", json_null());
    return entry;
}

static int run_task(const char *type, const char *function, const uint8_t *payload, size_t len,
                    const char *args, char **files, int n_files, struct steep_task_outcome *outcome)
{
    json_error_t error;
    json_t *task = json_object();
    json_object_set_new(task, "task_id", json_string("00000000-0000-4000-8000-00000000beef"));
    json_object_set_new(task, "executor", json_string(type));
    json_object_set_new(task, "executor_type", json_string(type));
    json_object_set_new(task, "function_name", json_string(function));
    json_t *payload_json = json_array();
    for (size_t i = 0; i < len; i++)
        json_array_append_new(payload_json, json_integer(payload[i]));
    json_object_set_new(task, "function_payload", payload_json);
    json_object_set_new(task, "function_arguments",
                        json_pack("{s:o}", "inner", json_loads(args, 0, &error)));
    json_t *inputs = json_object(), *outputs = json_object();
    for (int i = 0; i < n_files; i++) {
        bool out = strncmp(files[i], "out:", 4) == 0;
        char name[256];
        const char *spec = files[i] + (out ? 4 : 3), *eq = strchr(spec, '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
        json_object_set_new(out ? outputs : inputs, name, file_entry(eq + 1, out));
        if (out)
            unlink(eq + 1); /* file:// uploads never replace a file */
    }
    json_object_set_new(task, "input_data", json_pack("{s:o}", "inner", inputs));
    json_object_set_new(task, "output_data", json_pack("{s:o}", "inner", outputs));
    char *text = json_dumps(task, JSON_COMPACT);
    json_decref(task);
    struct steep_staged_task staged;
    if (steep_staged_task_parse((const uint8_t *)text, strlen(text), &staged) < 0) {
        fprintf(stderr, "bad task: %s\n", steep_error_get());
        exit(1);
    }
    free(text);
    steep_task_run(&environment, &staged, NULL, outcome);
    steep_staged_task_free(&staged);
    if (!outcome->ok) {
        fprintf(stderr, "task failed: %s\n", outcome->reason);
        return -1;
    }
    return 0;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    setup();
    size_t len = 0;
    uint8_t *payload = NULL;
    int rc = 0;
    if (strcmp(argv[1], "compile") == 0) {
        payload = read_all(argv[2], &len);
        struct steep_buf id = STEEP_BUF_INIT;
        mkdir(cache, 0700);
        /* The toolchain's identity is measured once per node, not per module. */
        extern int steep_wamr_toolchain_id(const struct steep_wamr_config *, struct steep_buf *);
        steep_wamr_toolchain_id(&environment.wamr, &id);
        double start = now_ms();
        int fd = -1;
        rc = steep_wamr_prepare(&environment.wamr, payload, len, &fd);
        printf("ms %.1f\n", now_ms() - start);
        if (rc < 0)
            fprintf(stderr, "compile failed: %s\n", steep_error_get());
    } else if (strcmp(argv[1], "start") == 0 && argc >= 4) {
        payload = read_all(argv[2], &len);
        int repeat = atoi(argv[3]);
        double *samples = calloc((size_t)repeat, sizeof *samples);
        struct steep_task_outcome outcome = {0};
        run_task("WAMicroRuntime", "start", payload, len, "{}", NULL, 0, &outcome); /* compile */
        for (int i = 0; i < repeat && rc == 0; i++) {
            steep_task_outcome_free(&outcome);
            /* With the pool: a task that finds its runner ready (the pool
             * refills between tasks, off the clock). */
            if (environment.pool &&
                !steep_runner_pool_wait_ready(environment.pool, "wamr", 1, 30000)) {
                fprintf(stderr, "no pre-started wasm runner got ready\n");
                return 1;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long long before = ((long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000) & 0x7fffffff;
            rc = run_task("WAMicroRuntime", "start", payload, len, "{}", NULL, 0, &outcome);
            long long entered = strtoll((const char *)outcome.summary.data, NULL, 10);
            samples[i] = (double)((entered - before) & 0x7fffffff) / 1000.0;
        }
        qsort(samples, (size_t)repeat, sizeof *samples, compare);
        printf("p50 %.2f\n", samples[repeat / 2]);
        steep_task_outcome_free(&outcome);
        free(samples);
    } else if (strcmp(argv[1], "task") == 0 && argc >= 7) {
        if (strcmp(argv[4], "-") != 0)
            payload = read_all(argv[4], &len);
        int repeat = atoi(argv[6]);
        struct steep_task_outcome outcome = {0};
        for (int i = 0; i < repeat && rc == 0; i++) {
            steep_task_outcome_free(&outcome);
            double start = now_ms();
            rc = run_task(argv[2], argv[3], payload, len, argv[5], argv + 7, argc - 7, &outcome);
            printf("ms %.1f\n", now_ms() - start);
        }
        if (rc == 0)
            printf("result %.*s\n", (int)outcome.summary.len, (const char *)outcome.summary.data);
        steep_task_outcome_free(&outcome);
    } else {
        return 2;
    }
    free(payload);
    steep_wamr_cache_forget();
    char command[400];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0)
        rc = -1;
    return rc < 0 ? 1 : 0;
}
