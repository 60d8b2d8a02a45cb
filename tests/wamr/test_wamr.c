/*
 * The WebAssembly executor on one node (executors/wamr, through
 * steep_task_run and the real sandboxed runner): Teaclave's ABI on the
 * simple-add payload built here with Debian's clang, each trap naming
 * itself, link and decode errors with their reason, hostile modules
 * (out-of-bounds pointers to every import, memory.grow to the cap, deep
 * recursion, an endless loop against the timeout, a 50 MiB module), and
 * the cache: a second run does not compile, a corrupted entry is detected
 * and rebuilt; a WASI program's argv, stdout/stderr log and exit code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "executors/staged_task.h"
#include "executors/task.h"
#include "executors/wamr/cache.h"
#include "helpers.h"
#include "staged_json.h"

struct fixture {
    char dir[400];
    char work[512], cache[512], runner[1024];
    struct steep_task_environment environment;
    struct steep_task_outcome outcome;
};

static struct fixture *fx;

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    test_temp_dir(f->dir, sizeof f->dir, "wamr");
    snprintf(f->work, sizeof f->work, "%s/work", f->dir);
    snprintf(f->cache, sizeof f->cache, "%s/cache", f->dir);
    const char *build = getenv("STEEP_BUILD_DIR");
    snprintf(f->runner, sizeof f->runner, "%s/bin/steep-task-runner", build ? build : "build");
    f->environment.runner_path = f->runner;
    f->environment.work_dir = f->work;
    steep_sandbox_limits_default(&f->environment.limits);
    f->environment.limits.wall_seconds = 20;
    f->environment.limits.memory_bytes = 512u << 20;
    steep_wamr_config_default(&f->environment.wamr);
    f->environment.wamr.cache_dir = f->cache;
    fx = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    steep_task_outcome_free(&f->outcome);
    steep_wamr_cache_forget();
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* Runs a shell command in the fixture's directory; aborts the test on failure. */
static void sh(const char *fmt, ...)
{
    char command[4096], full[4600];
    va_list args;
    va_start(args, fmt);
    vsnprintf(command, sizeof command, fmt, args);
    va_end(args);
    snprintf(full, sizeof full, "cd '%s' && %s", fx->dir, command);
    if (system(full) != 0) {
        fprintf(stderr, "command failed: %s\n", command);
        fail();
    }
}

static uint8_t *load(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    uint8_t *data = (uint8_t *)test_read_file(path, len);
    assert_non_null(data);
    return data;
}

/* A module from WebAssembly text. */
static uint8_t *wat(const char *text, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/m.wat", fx->dir);
    test_write_file(path, text, strlen(text));
    sh("wat2wasm m.wat -o m.wasm");
    return load("m.wasm", len);
}

static uint8_t *simple_add(size_t *len)
{
    const char *src = getenv("STEEP_SOURCE_DIR");
    sh("clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-all "
       "-Wl,--allow-undefined -o add.wasm '%s/tests/wamr/payloads/simple_add.c'",
       src ? src : ".");
    return load("add.wasm", len);
}

/* Runs the payload as a wamr task with the given arguments (a JSON object). */
static void run(struct fixture *f, const uint8_t *payload, size_t len, const char *args_json)
{
    json_error_t error;
    json_t *args = json_loads(args_json, 0, &error);
    assert_non_null(args);
    json_t *json = test_staged_task("00000000-0000-4000-8000-0000000000aa", "WAMicroRuntime",
                                    "WAMicroRuntime", "entrypoint", args);
    json_object_set_new(json, "function_payload", test_bytes(payload, len));
    char *text = test_dump(json);
    struct steep_staged_task task;
    assert_int_equal(steep_staged_task_parse((const uint8_t *)text, strlen(text), &task), 0);
    steep_task_outcome_free(&f->outcome);
    steep_task_run(&f->environment, &task, NULL, &f->outcome);
    steep_staged_task_free(&task);
    json_decref(json);
    free(text);
}

static void expect_result(struct fixture *f, const char *result)
{
    if (!f->outcome.ok)
        fprintf(stderr, "task failed: %s\n", f->outcome.reason);
    assert_true(f->outcome.ok);
    assert_int_equal(f->outcome.summary.len, strlen(result));
    assert_memory_equal(f->outcome.summary.data, result, strlen(result));
}

static void expect_failure(struct fixture *f, const char *reason)
{
    if (f->outcome.ok)
        fprintf(stderr, "task succeeded: %.*s\n", (int)f->outcome.summary.len,
                (const char *)f->outcome.summary.data);
    else if (!strstr(f->outcome.reason, reason))
        fprintf(stderr, "reason: %s\nwanted: %s\n", f->outcome.reason, reason);
    assert_false(f->outcome.ok);
    assert_non_null(strstr(f->outcome.reason, reason));
}

static void test_simple_add(void **state)
{
    struct fixture *f = *state;
    size_t len;
    uint8_t *wasm = simple_add(&len);
    run(f, wasm, len, "{\"a\":\"3\",\"b\":\"4\"}");
    expect_result(f, "7");
    /* Sorted keys: b's value is argv[3] even when given first. */
    run(f, wasm, len, "{\"zz\":\"-10\",\"aa\":\"25\"}");
    expect_result(f, "15");
    run(f, wasm, len, "{\"a\":\"3\"}");
    expect_result(f, "-1");
    free(wasm);
}

static const char *trap_module =
    "(module (type $t (func (result i32)))"
    " (table 1 funcref) (elem (i32.const 0) $f) (memory 1)"
    " (func $f (param i32) (result i32) (local.get 0))"
    " (func $deep (param i32) (result i32) (i32.add (call $deep (local.get 0)) (i32.const 1)))"
    " (func (export \"entrypoint\") (param i32 i32) (result i32)"
    "  (local $c i32) (local.set $c (i32.load8_u (i32.load (i32.add (local.get 1) (i32.const 4)))))"
    "  (if (i32.eq (local.get $c) (i32.const 100)) (then (return (i32.div_s (i32.const 1) (i32.sub "
    "(local.get 0) (local.get 0))))))"
    "  (if (i32.eq (local.get $c) (i32.const 117)) (then (unreachable)))"
    "  (if (i32.eq (local.get $c) (i32.const 111)) (then (return (i32.load (i32.const "
    "0x7ffffff0)))))"
    "  (if (i32.eq (local.get $c) (i32.const 115)) (then (return (call $deep (i32.const 0)))))"
    "  (if (i32.eq (local.get $c) (i32.const 105)) (then (return (call_indirect (type $t) "
    "(i32.const 0)))))"
    "  (if (i32.eq (local.get $c) (i32.const 110)) (then (return (i32.trunc_f32_s (f32.const "
    "nan)))))"
    "  (i32.const 42)))";

static void test_traps(void **state)
{
    struct fixture *f = *state;
    size_t len;
    uint8_t *wasm = wat(trap_module, &len);
    static const struct {
        const char *which, *reason;
    } cases[] = {
        {"d", "WebAssembly trap: integer divide by zero"},
        {"u", "WebAssembly trap: unreachable instruction executed"},
        {"o", "WebAssembly trap: out-of-bounds access in linear memory"},
        {"s", "WebAssembly trap: call stack exhausted"},
        {"i", "WebAssembly trap: invalid call_indirect"},
        {"n", "WebAssembly trap: conversion from NaN to integer"},
    };
    char args[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "{\"t\":\"%s\"}", cases[i].which);
        run(f, wasm, len, args);
        expect_failure(f, cases[i].reason);
    }
    run(f, wasm, len, "{\"t\":\"x\"}");
    expect_result(f, "42");
    free(wasm);
}

static void test_link_and_decode_errors(void **state)
{
    struct fixture *f = *state;
    size_t len;
    uint8_t *wasm =
        wat("(module (import \"env\" \"system\" (func (param i32) (result i32)))"
            " (func (export \"entrypoint\") (param i32 i32) (result i32) (i32.const 0)))",
            &len);
    run(f, wasm, len, "{}");
    expect_failure(f, "unknown import env.system");
    free(wasm);
    wasm = wat("(module (import \"env\" \"teaclave_open_input\" (func (param i64) (result i32)))"
               " (func (export \"entrypoint\") (param i32 i32) (result i32) (i32.const 0)))",
               &len);
    run(f, wasm, len, "{}");
    expect_failure(f, "import env.teaclave_open_input has type (i64) -> (i32)");
    free(wasm);
    wasm = wat("(module (func (export \"main\")))", &len);
    run(f, wasm, len, "{}");
    expect_failure(f, "exports neither entrypoint");
    free(wasm);
    /* A name that would end wasm2c's comment and inject C. */
    wasm = wat("(module (func (export \"x*/ int y; /*\")) "
               "(func (export \"entrypoint\") (param i32 i32) (result i32) (i32.const 0)))",
               &len);
    run(f, wasm, len, "{}");
    expect_failure(f, "a name contains");
    free(wasm);
    static const uint8_t garbage[] = "\0asm\1\0\0\0\1\xff\xff";
    run(f, garbage, sizeof garbage - 1, "{}");
    expect_failure(f, "invalid WebAssembly module");
    /* Decodes but does not validate: wasm2c's reason. */
    uint8_t *good = wat("(module (func (export \"entrypoint\") (param i32 i32) (result i32) "
                        "(i32.const 0)))",
                        &len);
    /* i32.const 0 -> i64.const 0 (0x41 -> 0x42): a type mismatch. */
    uint8_t *op = memchr(good + 8, 0x41, len - 8);
    assert_non_null(op);
    *op = 0x42;
    run(f, good, len, "{}");
    expect_failure(f, "invalid WebAssembly module:");
    free(good);
}

static const char *oob_module =
    "(module"
    " (import \"env\" \"teaclave_open_input\" (func $open (param i32) (result i32)))"
    " (import \"env\" \"teaclave_create_output\" (func $create (param i32) (result i32)))"
    " (import \"env\" \"teaclave_read_file\" (func $read (param i32 i32 i32) (result i32)))"
    " (import \"env\" \"teaclave_write_file\" (func $write (param i32 i32 i32) (result i32)))"
    " (import \"env\" \"teaclave_close_file\" (func $close (param i32) (result i32)))"
    " (memory 1)"
    " (func (export \"entrypoint\") (param i32 i32) (result i32)"
    "  (i32.store8 (i32.const 65535) (i32.const 65))" /* a name without NUL at the end */
    "  (i32.add (i32.add (i32.add (i32.add (i32.add (i32.add (i32.add"
    "   (call $open (i32.const 0x7ffffff0))"
    "   (call $open (i32.const 65535)))"
    "   (call $create (i32.const -1)))"
    "   (call $read (i32.const 1) (i32.const 65530) (i32.const 100)))"
    "   (call $read (i32.const 1) (i32.const 0) (i32.const -1)))"
    "   (call $write (i32.const 0x40000001) (i32.const -16) (i32.const 64)))"
    "   (call $close (i32.const 7)))"
    "   (call $close (i32.const 0x40000009)))))";

static void test_hostile(void **state)
{
    struct fixture *f = *state;
    size_t len;
    /* Every import refuses pointers outside linear memory: 8 calls, -1 each. */
    uint8_t *wasm = wat(oob_module, &len);
    run(f, wasm, len, "{}");
    expect_result(f, "-8");
    free(wasm);
    /* memory.grow stops at the cap (256 MiB = 4096 pages), then returns -1. */
    wasm = wat("(module (memory 1)"
               " (func (export \"entrypoint\") (param i32 i32) (result i32)"
               "  (block $done (loop $more"
               "   (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))"
               "   (i32.store (i32.mul (i32.sub (memory.size) (i32.const 1)) (i32.const 65536))"
               "              (i32.const 1))"
               "   (br $more)))"
               "  (memory.size)))",
               &len);
    run(f, wasm, len, "{}");
    expect_result(f, "4096");
    free(wasm);
    /* A module that wants more than the cap at the start. */
    wasm = wat("(module (memory 5000) (func (export \"entrypoint\") (param i32 i32) (result i32)"
               " (i32.const 0)))",
               &len);
    run(f, wasm, len, "{}");
    expect_failure(f, "needs 312 MiB of linear memory; the limit is 256 MiB");
    free(wasm);
    /* An endless loop ends at the wall-clock limit. */
    f->environment.limits.wall_seconds = 2;
    wasm = wat("(module (func (export \"entrypoint\") (param i32 i32) (result i32)"
               " (loop $l (br $l)) (i32.const 0)))",
               &len);
    time_t start = time(NULL);
    run(f, wasm, len, "{}");
    expect_failure(f, "function timed out after 2 s");
    assert_true(time(NULL) - start < 10);
    free(wasm);
    f->environment.limits.wall_seconds = 20;
    /* A 50 MiB module is refused before any work (straight to the node
     * side: a 50 MiB StagedTask JSON takes the test a minute to build; the
     * platform test sends one through the whole platform). */
    size_t big = 50u << 20;
    uint8_t *huge = calloc(1, big);
    assert_non_null(huge);
    memcpy(huge, "\0asm\1\0\0\0", 8);
    int fd = -1;
    assert_int_equal(steep_wamr_prepare(&f->environment.wamr, huge, big, &fd), -1);
    assert_string_equal(steep_error_get(),
                        "WebAssembly module too large (50.0 MiB; the limit is 16 MiB)");
    free(huge);
}

static int count_entries(const char *dir, const char *suffix)
{
    char command[1200];
    snprintf(command, sizeof command, "ls '%s' | grep -c '%s$' > '%s/count'", dir, suffix, fx->dir);
    if (system(command) < 0)
        return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/count", fx->dir);
    char *text = test_read_file(path, NULL);
    int n = text ? atoi(text) : -1;
    free(text);
    return n;
}

static void test_cache(void **state)
{
    struct fixture *f = *state;
    size_t len;
    uint8_t *wasm = simple_add(&len);
    run(f, wasm, len, "{\"a\":\"1\",\"b\":\"2\"}");
    expect_result(f, "3");
    assert_int_equal(count_entries(f->cache, ".so"), 1);
    /* Truncate the entry on disk; the process's own copy is dropped too (as
     * after a restart): the damage is detected and the entry rebuilt. */
    sh("for e in cache/*.so; do head -c 100 \"$e\" > t && mv t \"$e\"; done");
    steep_wamr_cache_forget();
    run(f, wasm, len, "{\"a\":\"2\",\"b\":\"2\"}");
    expect_result(f, "4");
    sh("for e in cache/*.so; do test $(stat -c %%s \"$e\") -gt 1000; done");
    /* Flip one byte in the middle: same. */
    sh("for e in cache/*.so; do printf 'X' | dd of=\"$e\" bs=1 seek=2000 conv=notrunc 2>/dev/null; "
       "done");
    steep_wamr_cache_forget();
    run(f, wasm, len, "{\"a\":\"3\",\"b\":\"2\"}");
    expect_result(f, "5");
    free(wasm);
}

/* A compiler that refuses everything: the task fails with its first error
 * line, and only that task. */
static void test_compile_failure(void **state)
{
    struct fixture *f = *state;
    size_t len;
    uint8_t *wasm = simple_add(&len);
    char script[600];
    snprintf(script, sizeof script, "%s/fakecc", f->dir);
    const char *text = "#!/bin/sh\n"
                       "case \"$1\" in --version) echo fakecc 1.0; exit 0;; esac\n"
                       "echo 'In file included from payload.c:1:' >&2\n"
                       "echo 'payload.c:3:7: error: this compiler refuses everything' >&2\n"
                       "echo 'payload.c:4:1: error: and this too' >&2\n"
                       "exit 1\n";
    test_write_file(script, text, strlen(text));
    /* The compile job runs as nobody: the script must be reachable. */
    sh("chmod 0755 . fakecc");
    f->environment.wamr.cc = script;
    run(f, wasm, len, "{\"a\":\"1\",\"b\":\"2\"}");
    expect_failure(
        f, "cannot compile the module: payload.c:3:7: error: this compiler refuses everything");
    f->environment.wamr.cc = "cc";
    run(f, wasm, len, "{\"a\":\"1\",\"b\":\"2\"}");
    expect_result(f, "3");
    free(wasm);
}

static bool has_log_line(struct fixture *f, const char *line)
{
    for (size_t i = 0; i < f->outcome.n_log; i++)
        if (strcmp(f->outcome.log[i], line) == 0)
            return true;
    return false;
}

static void test_wasi(void **state)
{
    struct fixture *f = *state;
    size_t len;
    const char *src = getenv("STEEP_SOURCE_DIR");
    sh("clang --target=wasm32-wasi --sysroot=/usr -O2 -o hello.wasm "
       "'%s/tests/wamr/payloads/wasi_hello.c'",
       src ? src : ".");
    uint8_t *wasm = load("hello.wasm", &len);
    run(f, wasm, len, "{\"save_log\":\"true\",\"a\":\"1\"}");
    expect_result(f, "33");
    for (size_t i = 0; i < f->outcome.n_log; i++)
        fprintf(stderr, "log: %s\n", f->outcome.log[i]);
    assert_true(has_log_line(f, "hello from entrypoint with 4 arguments"));
    assert_true(has_log_line(f, "argv[1]=a"));
    assert_true(has_log_line(f, "argv[2]=1"));
    assert_true(has_log_line(f, "argv[3]=save_log"));
    assert_true(has_log_line(f, "argv[4]=true"));
    assert_true(has_log_line(f, "to stderr"));
    /* Without save_log nothing is kept. */
    run(f, wasm, len, "{\"a\":\"1\",\"b\":\"2\"}");
    expect_result(f, "33");
    assert_int_equal(f->outcome.n_log, 0);
    free(wasm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_simple_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_traps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_and_decode_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wasi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
