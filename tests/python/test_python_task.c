/* Python tasks on the node without a platform (executors/task.h with the
 * node's zygote): result, failure reasons of the sandbox (exception, memory,
 * wall clock, cancel) for forks of the zygote, which run as the sandbox
 * user in their own PID namespace, a zygote that died replaced
 * by the next task, and tasks at once that share nothing. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "executors/python/node/python_zygote.h"
#include "executors/staged_task.h"
#include "executors/task.h"
#include "helpers.h"
#include "staged_json.h"

struct fixture {
    char dir[400], work[512], runner[1024], python_runner[1024];
    struct steep_task_environment environment;
};

static struct fixture *fixture;

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    test_temp_dir(f->dir, sizeof f->dir, "python");
    snprintf(f->work, sizeof f->work, "%s/work", f->dir);
    const char *build = getenv("STEEP_BUILD_DIR");
    snprintf(f->runner, sizeof f->runner, "%s/bin/steep-task-runner", build ? build : "build");
    snprintf(f->python_runner, sizeof f->python_runner, "%s/bin/steep-python-runner",
             build ? build : "build");
    f->environment.runner_path = f->runner;
    f->environment.work_dir = f->work;
    f->environment.fusion_base = f->dir;
    steep_sandbox_limits_default(&f->environment.limits);
    f->environment.limits.wall_seconds = 20;
    f->environment.limits.memory_bytes = 256u << 20;
    f->environment.python = steep_python_zygote_start(f->python_runner, 1 << 20);
    assert_non_null(f->environment.python);
    fixture = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    steep_python_zygote_stop(f->environment.python);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* Runs a payload with {"id": id} as its arguments. */
static void run_payload(struct fixture *f, const char *source, const char *id,
                        struct steep_sandbox_control *control, struct steep_task_outcome *outcome)
{
    json_t *args = json_object();
    json_object_set_new(args, "id", json_string(id));
    json_t *json = test_staged_task("00000000-0000-4000-8000-0000000000aa", "Python", "MesaPy",
                                    "python-test", args);
    json_object_set_new(json, "function_payload",
                        test_bytes((const uint8_t *)source, strlen(source)));
    char *text = test_dump(json);
    struct steep_staged_task task;
    assert_int_equal(steep_staged_task_parse((const uint8_t *)text, strlen(text), &task), 0);
    steep_task_run(&f->environment, &task, control, outcome);
    steep_staged_task_free(&task);
    json_decref(json);
    free(text);
}

static void expect_failure(const char *source, const char *reason)
{
    struct steep_task_outcome outcome;
    run_payload(fixture, source, "x", NULL, &outcome);
    assert_false(outcome.ok);
    if (!strstr(outcome.reason, reason))
        fail_msg("reason \"%s\" lacks \"%s\"", outcome.reason, reason);
    steep_task_outcome_free(&outcome);
}

static void test_echo(void **state)
{
    struct steep_task_outcome outcome;
    run_payload(*state, "def entrypoint(argv):\n    return argv[1] + ' back'\n", "hello", NULL,
                &outcome);
    assert_true(outcome.ok);
    assert_int_equal(outcome.summary.len, strlen("hello back"));
    assert_memory_equal(outcome.summary.data, "hello back", outcome.summary.len);
    steep_task_outcome_free(&outcome);
}

/* The payload runs in the worker, pid 2 of the task's own PID namespace
 * (pid 1 is its supervisor), as the sandbox user mapped to itself in its
 * own user namespace: the chain of steep-task-runner (runner_confine.c). */
static void test_identity(void **state)
{
    struct steep_task_outcome outcome;
    run_payload(*state,
                "import logging\n"
                "def entrypoint(argv):\n"
                "    os = logging.os\n"
                "    return 'pid %d uid %d gid %d' % (os.getpid(), os.getuid(), os.getgid())\n",
                "x", NULL, &outcome);
    if (!outcome.ok)
        fail_msg("%s", outcome.reason);
    const char *want = "pid 2 uid 65534 gid 65534";
    assert_int_equal(outcome.summary.len, strlen(want));
    assert_memory_equal(outcome.summary.data, want, strlen(want));
    steep_task_outcome_free(&outcome);
}

/* Each fork draws its own random numbers (random and numpy's global state). */
static void test_random(void **state)
{
    const char *source = "import random, numpy\n"
                         "def entrypoint(argv):\n"
                         "    return repr((random.random(), float(numpy.random.random())))\n";
    struct steep_task_outcome first, second;
    run_payload(*state, source, "x", NULL, &first);
    run_payload(*state, source, "x", NULL, &second);
    assert_true(first.ok && second.ok);
    assert_true(first.summary.len > 10);
    assert_false(first.summary.len == second.summary.len &&
                 memcmp(first.summary.data, second.summary.data, first.summary.len) == 0);
    steep_task_outcome_free(&first);
    steep_task_outcome_free(&second);
}

static void test_failures(void **state)
{
    expect_failure("def entrypoint(argv):\n    raise KeyError('missing')\n",
                   "KeyError: 'missing'\nTraceback (most recent call last):\n"
                   "  File \"<payload>\", line 2, in entrypoint\n    raise KeyError('missing')");
    expect_failure("def entrypoint(argv):\n    x = []\n    while True:\n"
                   "        x.append(bytearray(1 << 20))\n",
                   "function exceeded its memory limit");
    expect_failure("import socket\n", "import of 'socket' is not allowed in the sandbox");
    expect_failure("def entrypoint(argv):\n    return 'x' * (2 << 20)\n",
                   "the limit is 1048576 bytes");
}

/* A payload beyond the runner's request limit fails with the limit named. */
static void test_payload_too_large(void **state)
{
    /* One byte over the platform's message limit (4 MiB by default). */
    size_t len = (4u << 20) + 1;
    char *source = malloc(len + 1);
    memset(source, '#', len);
    source[len] = 0;
    expect_failure(source, "function payload of 4194305 bytes exceeds the platform's message "
                           "limit of 4194304 bytes");
    free(source);
}

static void test_timeout(void **state)
{
    struct fixture *f = *state;
    f->environment.limits.wall_seconds = 1;
    expect_failure("def entrypoint(argv):\n    while True:\n        pass\n",
                   "function timed out after 1 s");
    f->environment.limits.wall_seconds = 20;
}

static void *cancel_later(void *arg)
{
    struct steep_sandbox_control *control = arg;
    usleep(500 * 1000);
    steep_sandbox_cancel(control);
    return NULL;
}

static void test_cancel(void **state)
{
    struct steep_sandbox_control control;
    struct steep_task_outcome outcome;
    pthread_t thread;
    steep_sandbox_control_init(&control);
    pthread_create(&thread, NULL, cancel_later, &control);
    time_t start = time(NULL);
    run_payload(*state, "def entrypoint(argv):\n    while True:\n        pass\n", "x", &control,
                &outcome);
    pthread_join(thread, NULL);
    assert_false(outcome.ok);
    assert_true(outcome.canceled);
    assert_true(time(NULL) - start < 10);
    steep_task_outcome_free(&outcome);
    steep_sandbox_control_destroy(&control);
}

static void test_zygote_restart(void **state)
{
    struct fixture *f = *state;
    test_echo(state);
    pid_t old = steep_python_zygote_pid(f->environment.python);
    assert_true(old > 0);
    kill(old, SIGKILL);
    usleep(100 * 1000);
    test_echo(state);
    pid_t new = steep_python_zygote_pid(f->environment.python);
    assert_true(new > 0 && new != old);
}

struct parallel {
    struct steep_task_outcome outcome;
    char id[16];
};

static void *run_parallel(void *arg)
{
    struct parallel *p = arg;
    run_payload(fixture,
                "import math, time\n"
                "def entrypoint(argv):\n"
                "    seen = hasattr(math, 'marker')\n"
                "    math.marker = argv[1]\n"
                "    time.sleep(0.2)\n"
                "    return argv[1] + (' saw another' if seen or math.marker != argv[1] else '')\n",
                p->id, NULL, &p->outcome);
    return NULL;
}

static void test_parallel(void **state)
{
    struct parallel tasks[6];
    pthread_t threads[6];
    for (int i = 0; i < 6; i++) {
        snprintf(tasks[i].id, sizeof tasks[i].id, "task%d", i);
        pthread_create(&threads[i], NULL, run_parallel, &tasks[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(threads[i], NULL);
        assert_true(tasks[i].outcome.ok);
        assert_int_equal(tasks[i].outcome.summary.len, strlen(tasks[i].id));
        assert_memory_equal(tasks[i].outcome.summary.data, tasks[i].id, strlen(tasks[i].id));
        steep_task_outcome_free(&tasks[i].outcome);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_payload_too_large),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_zygote_restart),
        cmocka_unit_test(test_parallel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
