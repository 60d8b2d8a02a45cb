/*
 * Pre-started runners (executors/runner_pool.h) through steep_task_run, the
 * node's own task path: a builtin, a Python and a wasm task are each served
 * by a runner whose pid was ready before the task was submitted (and which
 * is gone after it: one task per runner); the pool refills; an idle runner
 * killed while waiting is replaced and never handed a task, even when the
 * task comes before the pool's thread noticed; a pooled task without files
 * makes no directory.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "executors/file_agent.h"
#include "executors/python/node/python_zygote.h"
#include "executors/runner_pool.h"
#include "executors/staged_task.h"
#include "executors/task.h"
#include "helpers.h"
#include "staged_json.h"

#define POOL 2

struct fixture {
    char dir[400], work[512], cache[512], runner[1024], python_runner[1024];
    struct steep_task_environment environment;
    struct steep_runner_pool *pool;
};

/* (module (memory 1)
 *   (func (export "entrypoint") (param i32 i32) (result i32) i32.const 42)) */
static const uint8_t answer_wasm[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07,
                                      0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01,
                                      0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x0e, 0x01, 0x0a,
                                      'e',  'n',  't',  'r',  'y',  'p',  'o',  'i',  'n',  't',
                                      0x00, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    test_temp_dir(f->dir, sizeof f->dir, "pool");
    snprintf(f->work, sizeof f->work, "%s/work", f->dir);
    snprintf(f->cache, sizeof f->cache, "%s/cache", f->dir);
    const char *build = getenv("STEEP_BUILD_DIR");
    snprintf(f->runner, sizeof f->runner, "%s/bin/steep-task-runner", build ? build : "build");
    snprintf(f->python_runner, sizeof f->python_runner, "%s/bin/steep-python-runner",
             build ? build : "build");
    f->environment.runner_path = f->runner;
    f->environment.work_dir = f->work;
    steep_sandbox_limits_default(&f->environment.limits);
    f->environment.limits.wall_seconds = 30;
    f->environment.limits.memory_bytes = 256u << 20;
    steep_wamr_config_default(&f->environment.wamr);
    f->environment.wamr.cache_dir = f->cache;
    f->environment.python = steep_python_zygote_start(f->python_runner, 1 << 20);
    assert_non_null(f->environment.python);
    struct steep_runner_pool_config config = {POOL, f->runner, f->environment.python, f->work,
                                              f->environment.limits};
    f->pool = steep_runner_pool_start(&config);
    assert_non_null(f->pool);
    f->environment.pool = f->pool;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    steep_runner_pool_stop(f->pool);
    steep_python_zygote_stop(f->environment.python);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

static void run(struct fixture *f, const char *type, const char *executor, const char *function,
                const uint8_t *payload, size_t len, const char *expect)
{
    json_t *args = json_object();
    json_object_set_new(args, "message", json_string("pooled"));
    json_t *json =
        test_staged_task("00000000-0000-4000-8000-0000000000cc", type, executor, function, args);
    if (payload)
        json_object_set_new(json, "function_payload", test_bytes(payload, len));
    char *text = test_dump(json);
    struct steep_staged_task task;
    assert_int_equal(steep_staged_task_parse((const uint8_t *)text, strlen(text), &task), 0);
    struct steep_task_outcome outcome;
    steep_task_run(&f->environment, &task, NULL, &outcome);
    if (!outcome.ok)
        fail_msg("%s task failed: %s", type, outcome.reason);
    assert_int_equal(outcome.summary.len, strlen(expect));
    assert_memory_equal(outcome.summary.data, expect, strlen(expect));
    steep_task_outcome_free(&outcome);
    steep_staged_task_free(&task);
    json_decref(json);
    free(text);
}

static bool exists(pid_t pid)
{
    return kill(pid, 0) == 0 || errno != ESRCH;
}

/* The task ran in one of the runners ready before it: that runner is gone
 * (reaped after its one task), the served count grew by one, and the pool
 * is full again with the other old runner still in it. */
static void served_by_prestarted(struct fixture *f, const char *executor, void (*task)(void *),
                                 void *arg)
{
    pid_t before[POOL], after[POOL];
    assert_true(steep_runner_pool_wait_ready(f->pool, executor, POOL, 30000));
    assert_int_equal(steep_runner_pool_ready_pids(f->pool, executor, before, POOL), POOL);
    struct steep_runner_pool_stats stats, later;
    steep_runner_pool_stats(f->pool, &stats);
    task(arg);
    steep_runner_pool_stats(f->pool, &later);
    assert_int_equal(later.served, stats.served + 1);
    int gone = 0;
    for (int i = 0; i < POOL; i++)
        gone += !exists(before[i]);
    assert_int_equal(gone, 1);
    assert_true(steep_runner_pool_wait_ready(f->pool, executor, POOL, 30000));
    assert_int_equal(steep_runner_pool_ready_pids(f->pool, executor, after, POOL), POOL);
    int kept = 0;
    for (int i = 0; i < POOL; i++)
        for (int j = 0; j < POOL; j++)
            kept += after[i] == before[j];
    assert_int_equal(kept, 1);
}

static void builtin_echo(void *arg)
{
    run(arg, "Builtin", "Builtin", "builtin-echo", NULL, 0, "pooled");
}

static void python_echo(void *arg)
{
    const char *source = "def entrypoint(argv):\n    return argv[1] + ' by python'\n";
    run(arg, "Python", "MesaPy", "pool-test", (const uint8_t *)source, strlen(source),
        "pooled by python");
}

static void wasm_answer(void *arg)
{
    run(arg, "WAMicroRuntime", "WAMicroRuntime", "entrypoint", answer_wasm, sizeof answer_wasm,
        "42");
}

static void test_builtin_served_by_prestarted(void **state)
{
    served_by_prestarted(*state, "builtin", builtin_echo, *state);
}

static void test_python_served_by_prestarted(void **state)
{
    served_by_prestarted(*state, "python", python_echo, *state);
}

/* A task without files served by a pre-started runner (whose empty root
 * is the pool's) needs no directory of its own: the node's work directory
 * is not touched (a directory made and removed in it would change its
 * modification time). */
static void test_pooled_task_makes_no_directory(void **state)
{
    struct fixture *f = *state;
    assert_true(steep_runner_pool_wait_ready(f->pool, "builtin", POOL, 30000));
    struct stat before, after;
    assert_int_equal(stat(f->work, &before), 0);
    struct steep_runner_pool_stats stats, later;
    steep_runner_pool_stats(f->pool, &stats);
    builtin_echo(f);
    steep_runner_pool_stats(f->pool, &later);
    assert_int_equal(later.served, stats.served + 1);
    assert_int_equal(stat(f->work, &after), 0);
    assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    assert_int_equal(after.st_nlink, before.st_nlink);
}

static void test_wasm_served_by_prestarted(void **state)
{
    struct fixture *f = *state;
    /* The first task of a module compiles it and starts its own runner;
     * the pool then keeps runners with that module loaded. */
    struct steep_runner_pool_stats stats, later;
    steep_runner_pool_stats(f->pool, &stats);
    wasm_answer(f);
    steep_runner_pool_stats(f->pool, &later);
    assert_int_equal(later.served, stats.served);
    served_by_prestarted(f, "wamr", wasm_answer, f);
}

static void test_killed_idle_runner_is_replaced(void **state)
{
    struct fixture *f = *state;
    pid_t ready[POOL];
    assert_true(steep_runner_pool_wait_ready(f->pool, "builtin", POOL, 30000));
    assert_int_equal(steep_runner_pool_ready_pids(f->pool, "builtin", ready, POOL), POOL);
    struct steep_runner_pool_stats stats, later;
    steep_runner_pool_stats(f->pool, &stats);
    assert_int_equal(kill(ready[0], SIGKILL), 0);
    /* Replaced in the background: two ready again, the killed one not among them. */
    bool replaced = false;
    for (int i = 0; i < 300 && !replaced; i++) {
        pid_t now[POOL];
        size_t n = steep_runner_pool_ready_pids(f->pool, "builtin", now, POOL);
        steep_runner_pool_stats(f->pool, &later);
        replaced = later.replaced > stats.replaced && n == POOL && now[0] != ready[0] &&
                   now[1] != ready[0];
        if (!replaced)
            usleep(10000);
    }
    assert_true(replaced);
    assert_false(exists(ready[0]));
    builtin_echo(f);
}

static void test_dead_runner_never_gets_a_task(void **state)
{
    struct fixture *f = *state;
    pid_t ready[POOL];
    assert_true(steep_runner_pool_wait_ready(f->pool, "builtin", POOL, 30000));
    assert_int_equal(steep_runner_pool_ready_pids(f->pool, "builtin", ready, POOL), POOL);
    /* Both die and the task comes at once, before the pool's thread may
     * have looked: the task still runs, in a runner that lives. */
    for (int i = 0; i < POOL; i++)
        assert_int_equal(kill(ready[i], SIGKILL), 0);
    /* Dead (zombies of this process, not reaped yet) before the task comes. */
    for (int i = 0; i < POOL; i++) {
        bool dead = false;
        for (int tries = 0; tries < 500 && !dead; tries++) {
            siginfo_t info;
            memset(&info, 0, sizeof info);
            dead = waitid(P_PID, (id_t)ready[i], &info, WEXITED | WNOHANG | WNOWAIT) < 0 ||
                   info.si_pid == ready[i];
            if (!dead)
                usleep(2000);
        }
        assert_true(dead);
    }
    builtin_echo(f);
    struct steep_runner_pool_stats stats;
    steep_runner_pool_stats(f->pool, &stats);
    assert_true(stats.replaced >= POOL);
    assert_true(steep_runner_pool_wait_ready(f->pool, "builtin", POOL, 30000));
}

int main(void)
{
    steep_file_agent_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_served_by_prestarted),
        cmocka_unit_test(test_pooled_task_makes_no_directory),
        cmocka_unit_test(test_python_served_by_prestarted),
        cmocka_unit_test(test_wasm_served_by_prestarted),
        cmocka_unit_test(test_killed_idle_runner_is_replaced),
        cmocka_unit_test(test_dead_runner_never_gets_a_task),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
