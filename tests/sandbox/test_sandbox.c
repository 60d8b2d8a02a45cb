/*
 * The task sandbox with hostile payloads (functions/test_payloads.c): each
 * fails only its own task with the right reason while a normal task in
 * another thread (another slot) finishes; timeouts and cancel kill only
 * their own process; the runner protocol refuses malformed requests. The
 * function runs as the sandbox user with no capabilities as pid 2 of its
 * own namespace, cannot make anything signal a process outside (a sleeping
 * child of this test survives every attempt), and cannot stat a path.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "executors/runner_pool.h"
#include "executors/runner_protocol.h"
#include "executors/sandbox.h"

static char runner[1024];
static char jail[600];
static char scratch[512];

struct job {
    const char *function;
    const char *arguments;
    const char *expect;  /* reason prefix, or NULL for success */
    const char *summary; /* expected summary on success */
    struct steep_sandbox_limits limits;
    bool with_output;
    bool save_log;
    struct steep_sandbox_control *control;
    struct steep_sandbox_result result;
    int rc;
    pthread_t thread;
};

static void limits_for_tests(struct steep_sandbox_limits *limits)
{
    steep_sandbox_limits_default(limits);
    limits->cpu_seconds = 1;
    limits->wall_seconds = 40;
    limits->memory_bytes = 128u << 20;
    limits->file_size_bytes = 1u << 20;
}

/* STEEP_TEST_RUNNER_POOL=1 (ctest execution_sandbox_pool_test): every job
 * runs in a pre-started runner (executors/runner_pool.h), one pool per set
 * of limits, and must find one; the runner was confined before the job
 * was known, and every expectation stays the same. */
static bool pooled;
static struct {
    struct steep_sandbox_limits limits;
    struct steep_runner_pool *pool;
} pools[8];
static size_t n_pools;
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;

static struct steep_runner_pool *pool_for(const struct steep_sandbox_limits *limits)
{
    pthread_mutex_lock(&pools_lock);
    struct steep_runner_pool *pool = NULL;
    for (size_t i = 0; i < n_pools && !pool; i++)
        if (memcmp(&pools[i].limits, limits, sizeof *limits) == 0)
            pool = pools[i].pool;
    if (!pool && n_pools < sizeof pools / sizeof pools[0]) {
        struct steep_runner_pool_config config = {2, runner, NULL, scratch, *limits};
        pool = steep_runner_pool_start(&config);
        if (pool) {
            pools[n_pools].limits = *limits;
            pools[n_pools++].pool = pool;
        }
    }
    pthread_mutex_unlock(&pools_lock);
    return pool;
}

static int run_pooled(struct steep_sandbox_task *task, struct steep_sandbox_result *result)
{
    struct steep_runner_pool *pool = pool_for(&task->limits);
    if (!pool)
        return -1;
    /* Other jobs may take the runner that got ready first: try again. */
    for (int attempt = 0; attempt < 100; attempt++) {
        pid_t pid;
        int channel;
        if (!steep_runner_pool_wait_ready(pool, "builtin", 1, 30000))
            break;
        if (steep_runner_pool_take(pool, "builtin", -1, &task->limits, &pid, &channel) == 1)
            return steep_sandbox_run_prestarted(task, pid, channel, result);
    }
    fprintf(stderr, "no pre-started runner for the job\n");
    return -1;
}

static void *run_job(void *arg)
{
    struct job *job = arg;
    struct steep_runner_request request;
    struct steep_runner_file output;
    char path[600];
    memset(&request, 0, sizeof request);
    memset(&output, 0, sizeof output);
    request.executor = "builtin";
    request.function_name = (char *)job->function;
    request.arguments = (char *)(job->arguments ? job->arguments : "{}");
    request.jail_dir = jail;
    request.save_log = job->save_log;
    if (job->with_output) {
        snprintf(path, sizeof path, "%s/out-%p", scratch, (void *)job);
        output.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        output.name = "output";
        output.file_name = "out";
        output.scheme = STEEP_RUNNER_SCHEME_TF128;
        request.outputs = &output;
        request.n_outputs = 1;
    }
    struct steep_sandbox_task task = {runner, &request, job->limits, job->control};
    job->rc = pooled ? run_pooled(&task, &job->result) : steep_sandbox_run(&task, &job->result);
    if (job->with_output) {
        close(output.fd);
        unlink(path);
    }
    return NULL;
}

static void check_job(struct job *job)
{
    assert_int_equal(job->rc, 0);
    if (!job->expect) {
        if (!job->result.ok)
            fprintf(stderr, "%s failed: %s\n", job->function, job->result.reason);
        assert_true(job->result.ok);
        if (job->summary) {
            assert_int_equal(job->result.summary.len, strlen(job->summary));
            assert_memory_equal(job->result.summary.data, job->summary, strlen(job->summary));
        }
        return;
    }
    if (job->result.ok || strncmp(job->result.reason, job->expect, strlen(job->expect)) != 0)
        fprintf(stderr, "%s: expected \"%s\", got ok=%d \"%s\"\n", job->function, job->expect,
                job->result.ok, job->result.reason);
    assert_false(job->result.ok);
    assert_memory_equal(job->result.reason, job->expect, strlen(job->expect));
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_echo_with_log(void **state)
{
    struct job job = {.function = "builtin-echo",
                      .arguments = "{\"message\":\"Hello Teaclave!\"}",
                      .summary = "Hello Teaclave!",
                      .save_log = true};
    limits_for_tests(&job.limits);
    run_job(&job);
    check_job(&job);
    assert_true(job.result.n_log >= 1);
    assert_string_equal(job.result.log[0], "[INFO teaclave_function::echo] Hello Teaclave!");
    steep_sandbox_result_free(&job.result);
    /* Without save_log no log line comes back. */
    job.save_log = false;
    run_job(&job);
    check_job(&job);
    assert_int_equal(job.result.n_log, 0);
    steep_sandbox_result_free(&job.result);
}

static void test_hostile_payloads_in_parallel(void **state)
{
    char network[64];
    snprintf(network, sizeof network, "{\"port\":%d}", 1);
    struct job jobs[] = {
        {.function = "test-crash", .expect = "function crashed: signal 11 (SIGSEGV)"},
        {.function = "test-loop", .expect = "function exceeded its CPU time limit"},
        {.function = "test-alloc", .expect = "function exceeded its memory limit"},
        {.function = "test-fork", .expect = "function violated the sandbox policy (syscall clone"},
        {.function = "test-network",
         .arguments = network,
         .expect = "function violated the sandbox policy (syscall socket)"},
        {.function = "test-open-file",
         .arguments = "{\"path\":\"/etc/hostname\"}",
         .expect = "function violated the sandbox policy (syscall open"},
        {.function = "test-write-big",
         .arguments = "{\"bytes\":8388608}",
         .with_output = true,
         .expect = "function exceeded its file size limit"},
        {.function = "test-sleep", .arguments = "{\"ms\":100}", .summary = "slept 100 ms"},
        /* Below the limit, allocation works. */
        {.function = "test-alloc", .arguments = "{\"max_mb\":48}", .summary = "allocated 48 MiB"},
        {.function = "builtin-echo",
         .arguments = "{\"message\":\"still here\"}",
         .summary = "still here"},
    };
    size_t n = sizeof jobs / sizeof jobs[0];
    double start = now_seconds();
    for (size_t i = 0; i < n; i++) {
        limits_for_tests(&jobs[i].limits);
        assert_int_equal(pthread_create(&jobs[i].thread, NULL, run_job, &jobs[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(jobs[i].thread, NULL);
    for (size_t i = 0; i < n; i++) {
        check_job(&jobs[i]);
        steep_sandbox_result_free(&jobs[i].result);
    }
    /* The CPU limit (1 s of CPU, a few seconds on a busy machine) ended the
     * loop, not the wall clock (40 s). */
    assert_true(now_seconds() - start < 35.0);
}

static void test_wall_clock_timeout(void **state)
{
    struct job job = {.function = "test-sleep",
                      .arguments = "{\"ms\":60000}",
                      .expect = "function timed out after 1 s"};
    limits_for_tests(&job.limits);
    job.limits.wall_seconds = 1;
    double start = now_seconds();
    run_job(&job);
    check_job(&job);
    assert_true(now_seconds() - start < 10.0);
    steep_sandbox_result_free(&job.result);
}

static void test_cancel_kills_only_its_task(void **state)
{
    struct steep_sandbox_control victim_control, other_control;
    steep_sandbox_control_init(&victim_control);
    steep_sandbox_control_init(&other_control);
    struct job victim = {.function = "test-sleep",
                         .arguments = "{\"ms\":30000}",
                         .expect = "task canceled",
                         .control = &victim_control};
    struct job other = {.function = "test-sleep",
                        .arguments = "{\"ms\":800}",
                        .summary = "slept 800 ms",
                        .control = &other_control};
    limits_for_tests(&victim.limits);
    limits_for_tests(&other.limits);
    double start = now_seconds();
    pthread_create(&victim.thread, NULL, run_job, &victim);
    pthread_create(&other.thread, NULL, run_job, &other);
    usleep(300 * 1000);
    steep_sandbox_cancel(&victim_control);
    pthread_join(victim.thread, NULL);
    double canceled_after = now_seconds() - start;
    pthread_join(other.thread, NULL);
    check_job(&victim);
    assert_true(victim.result.canceled);
    assert_true(canceled_after < 10.0);
    check_job(&other);
    assert_false(other.result.canceled);
    steep_sandbox_result_free(&victim.result);
    steep_sandbox_result_free(&other.result);
    steep_sandbox_control_destroy(&victim_control);
    steep_sandbox_control_destroy(&other_control);
}

static void run_expect(const char *function, const char *arguments, const char *expect,
                       const char *summary)
{
    struct job job = {
        .function = function, .arguments = arguments, .expect = expect, .summary = summary};
    limits_for_tests(&job.limits);
    run_job(&job);
    check_job(&job);
    steep_sandbox_result_free(&job.result);
}

static void test_identity(void **state)
{
    /* The sandbox user, no capabilities at all, pid 2 of its namespace (the
     * supervisor is pid 1). */
    const char *want = "uid 65534 euid 65534 gid 65534 egid 65534 pid 2 cap_effective 0 "
                       "cap_permitted 0 cap_inheritable 0";
    run_expect("test-identity", NULL, NULL, want);
    /* A configured user. */
    struct steep_sandbox_options options;
    steep_sandbox_options_default(&options);
    options.uid = 4242;
    options.gid = 4343;
    assert_int_equal(steep_sandbox_configure(&options), 0);
    run_expect("test-identity", NULL, NULL,
               "uid 4242 euid 4242 gid 4343 egid 4343 pid 2 cap_effective 0 cap_permitted 0 "
               "cap_inheritable 0");
    /* The loud test option for hosts without user namespaces keeps the
     * sandbox user and every other namespace. */
    steep_sandbox_options_default(&options);
    options.insecure_without_user_namespace = true;
    assert_int_equal(steep_sandbox_configure(&options), 0);
    run_expect("test-identity", NULL, NULL, want);
    /* Never root. */
    options.uid = 0;
    assert_int_equal(steep_sandbox_configure(&options), -1);
    steep_sandbox_options_default(&options);
    assert_int_equal(steep_sandbox_configure(&options), 0);
}

static pid_t victim;

/* Also when an assertion failed: the victim must not outlive the test. */
static int kill_victim(void **state)
{
    if (victim > 0) {
        kill(victim, SIGKILL);
        waitpid(victim, NULL, 0);
    }
    victim = 0;
    return 0;
}

static void test_signal_escape(void **state)
{
    /* The victim: a process outside the sandbox that any of SIGTERM, SIGIO
     * or SIGURG would end. */
    victim = fork();
    assert_true(victim >= 0);
    if (victim == 0) {
        for (;;)
            pause();
    }
    const char *steps[][2] = {
        {"F_SETOWN", "fcntl"}, {"F_SETOWN_EX", "fcntl"}, {"F_SETSIG", "fcntl"},
        {"O_ASYNC", "fcntl"},  {"F_SETLEASE", "fcntl"},  {"F_NOTIFY", "fcntl"},
        {"FIOASYNC", "ioctl"}, {"SIOCSPGRP", "ioctl"},   {"kill(pid)", "kill"},
        {"kill(1)", "kill"},   {"kill(-1)", "kill"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char arguments[128], expect[128];
        snprintf(arguments, sizeof arguments, "{\"pid\":%d,\"step\":\"%s\"}", (int)victim,
                 steps[i][0]);
        snprintf(expect, sizeof expect, "function violated the sandbox policy (syscall %s)",
                 steps[i][1]);
        run_expect("test-signal-escape", arguments, expect, NULL);
    }
    /* Every step in one run under the audit: each refused (ENOSYS) and
     * recorded, nothing else. */
    struct steep_sandbox_options options;
    steep_sandbox_options_default(&options);
    options.audit_syscalls = true;
    assert_int_equal(steep_sandbox_configure(&options), 0);
    char arguments[64];
    snprintf(arguments, sizeof arguments, "{\"pid\":%d}", (int)victim);
    run_expect("test-signal-escape", arguments,
               "sandbox audit: refused system calls: fcntl, ioctl, kill", NULL);
    steep_sandbox_options_default(&options);
    assert_int_equal(steep_sandbox_configure(&options), 0);
    /* Give a stray signal time to land, then the victim must still be there
     * and end by our SIGKILL only. */
    usleep(200 * 1000);
    int status;
    assert_int_equal(waitpid(victim, &status, WNOHANG), 0);
    assert_int_equal(kill(victim, SIGKILL), 0);
    assert_int_equal(waitpid(victim, &status, 0), victim);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    victim = 0;
}

static void test_stat_path(void **state)
{
    /* Path stats fail (EACCES whatever the flags), statx and open end the
     * task, descriptor stat works. */
    run_expect("test-stat-path", "{\"step\":\"newfstatat\"}", NULL,
               "newfstatat: Permission denied; ");
    run_expect("test-stat-path", "{\"step\":\"newfstatat-empty-path\"}", NULL,
               "newfstatat-empty-path: Permission denied; ");
    run_expect("test-stat-path", "{\"step\":\"stat\"}", NULL, "stat: Permission denied; ");
    run_expect("test-stat-path", "{\"step\":\"statx\"}",
               "function violated the sandbox policy (syscall statx)", NULL);
    run_expect("test-stat-path", "{\"step\":\"open\"}",
               "function violated the sandbox policy (syscall open", NULL);
    run_expect("test-stat-path", "{\"step\":\"fstat\"}", NULL,
               "fstat: returned 0; channel is a socket");
}

static void test_check_at_node_start(void **state)
{
    assert_int_equal(steep_sandbox_check(runner, scratch), 0);
    /* A sandbox that cannot start fails the node's start with the reason. */
    assert_int_equal(steep_sandbox_check("/nonexistent/steep-task-runner", scratch), -1);
    assert_non_null(strstr(steep_error_get(), "the task sandbox does not work on this host: "
                                              "cannot start the task runner"));
}

static void test_missing_runner(void **state)
{
    struct steep_runner_request request;
    struct steep_sandbox_result result;
    memset(&request, 0, sizeof request);
    request.executor = "builtin";
    request.function_name = "builtin-echo";
    request.arguments = "{}";
    request.jail_dir = "";
    struct steep_sandbox_task task = {"/nonexistent/steep-task-runner", &request, {0}, NULL};
    limits_for_tests(&task.limits);
    assert_int_equal(steep_sandbox_run(&task, &result), 0);
    assert_false(result.ok);
    assert_non_null(strstr(result.reason, "cannot start the task runner"));
    steep_sandbox_result_free(&result);
}

static void test_protocol_round_trip_and_truncation(void **state)
{
    struct steep_runner_file files[2] = {
        {.name = "in", .file_name = "a.enc", .fd = 4, .scheme = STEEP_RUNNER_SCHEME_TF128},
        {.name = "out", .file_name = "b.enc", .fd = 5, .scheme = STEEP_RUNNER_SCHEME_RAW},
    };
    memset(files[0].key, 7, 16);
    memset(files[0].cmac, 9, 16);
    struct steep_runner_request request = {.executor = "builtin",
                                           .function_name = "f",
                                           .arguments = "{\"a\":1}",
                                           .jail_dir = "/j",
                                           .save_log = true,
                                           .cpu_seconds = 3,
                                           .open_files = 9,
                                           .memory_bytes = 1ull << 33,
                                           .file_size_bytes = 77,
                                           .n_inputs = 1,
                                           .n_outputs = 1,
                                           .inputs = &files[0],
                                           .outputs = &files[1]};
    struct steep_buf encoded = STEEP_BUF_INIT;
    struct steep_runner_request decoded;
    assert_int_equal(steep_runner_request_encode(&request, &encoded), 0);
    assert_int_equal(steep_runner_request_decode(encoded.data, encoded.len, &decoded), 0);
    assert_string_equal(decoded.arguments, "{\"a\":1}");
    assert_string_equal(decoded.jail_dir, "/j");
    assert_true(decoded.save_log);
    assert_int_equal(decoded.memory_bytes, 1ull << 33);
    assert_int_equal(decoded.n_inputs, 1);
    assert_int_equal(decoded.inputs[0].fd, 4);
    assert_memory_equal(decoded.inputs[0].key, files[0].key, 16);
    assert_memory_equal(decoded.inputs[0].cmac, files[0].cmac, 16);
    assert_string_equal(decoded.outputs[0].file_name, "b.enc");
    steep_runner_request_free(&decoded);
    /* Every truncation and a trailing byte are refused. */
    for (size_t len = 0; len < encoded.len; len++)
        assert_int_equal(steep_runner_request_decode(encoded.data, len, &decoded), -1);
    steep_buf_append_u8(&encoded, 0);
    assert_int_equal(steep_runner_request_decode(encoded.data, encoded.len, &decoded), -1);
    steep_buf_free(&encoded);
}

int main(void)
{
    const char *build = getenv("STEEP_BUILD_DIR");
    snprintf(runner, sizeof runner, "%s/bin/steep-task-runner", build ? build : "build");
    snprintf(scratch, sizeof scratch, "/tmp/steep-sandbox-XXXXXX");
    if (!mkdtemp(scratch))
        return 1;
    snprintf(jail, sizeof jail, "%s/jail", scratch);
    mkdir(jail, 0500);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol_round_trip_and_truncation),
        cmocka_unit_test(test_echo_with_log),
        cmocka_unit_test(test_hostile_payloads_in_parallel),
        cmocka_unit_test(test_wall_clock_timeout),
        cmocka_unit_test(test_cancel_kills_only_its_task),
        cmocka_unit_test(test_missing_runner),
        cmocka_unit_test(test_identity),
        cmocka_unit_test_teardown(test_signal_escape, kill_victim),
        cmocka_unit_test(test_stat_path),
        cmocka_unit_test(test_check_at_node_start),
    };
    pooled = getenv("STEEP_TEST_RUNNER_POOL") && strcmp(getenv("STEEP_TEST_RUNNER_POOL"), "1") == 0;
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (size_t i = 0; i < n_pools; i++) {
        struct steep_runner_pool_stats stats;
        steep_runner_pool_stats(pools[i].pool, &stats);
        fprintf(stderr, "runner pool %zu: %llu tasks served by pre-started runners\n", i,
                (unsigned long long)stats.served);
        steep_runner_pool_stop(pools[i].pool);
    }
    rmdir(jail);
    rmdir(scratch);
    return rc;
}
