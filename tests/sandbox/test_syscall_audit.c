/*
 * The syscall audit (issue: the allow-list is exactly what correct code
 * needs): every built-in function runs on Teaclave's fixtures through the
 * real runner with the seccomp filter in audit mode, where a refused call
 * is recorded and fails with ENOSYS instead of ending the task. A run that
 * recorded any refused call fails with "sandbox audit: refused system
 * calls: ..." naming them, so this test fails on the first system call a
 * built-in needs that the filter would refuse. Inputs are the plaintext
 * fixtures (raw) plus a teaclave-file-128 one; outputs are
 * teaclave-file-128, as the node stages them. In builds with the Python
 * executor, a Python echo and a numpy payload run the same way, as forks of
 * the node's zygote (pid 1 of their own PID namespace, the same chain). The
 * last case checks that the audit does see a refused call.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/tf128.h"
#include "executors/runner_pool.h"
#include "executors/runner_protocol.h"
#include "executors/sandbox.h"
#ifdef STEEP_AUDIT_PYTHON
#include "executors/python/node/python_zygote.h"
#endif
#include "test_util.h"

#define MAX_CASE_FILES 4

struct input {
    const char *name;
    const char *fixture; /* relative to the functions fixtures */
    bool tf128;          /* encrypted with the zero key */
};

struct audit_case {
    const char *function;
    const char *arguments;
    struct input inputs[MAX_CASE_FILES];
    const char *outputs[MAX_CASE_FILES];
    const char *summary; /* expected summary (prefix) */
};

static char runner[1024];
static char jail[600];

static const struct audit_case cases[] = {
    {"builtin-echo",
     "{\"message\":\"Hello Teaclave!\",\"save_log\":\"true\"}",
     {{0}},
     {0},
     "Hello Teaclave!"},
    {"builtin-ordered-set-intersect",
     "{\"order\":\"ascending\"}",
     {{"input_data1", "ordered_set_intersect/psi0.txt.enc", true},
      {"input_data2", "ordered_set_intersect/psi1.txt", false}},
     {"output_result1", "output_result2", false},
     "3 common items"},
    {"builtin-ordered-set-join",
     "{\"left_column\":0,\"right_column\":0,\"ascending\":true,\"drop\":true}",
     {{"input_data1", "ordered_set_join/join0.csv", false},
      {"input_data2", "ordered_set_join/join1.csv", false}},
     {"output_result"},
     "120 records"},
    {"builtin-private-join-and-compute",
     "{\"num_user\":3}",
     {{"input_data0", "private_join_and_compute/three_party_data/bank_a.txt", false},
      {"input_data1", "private_join_and_compute/three_party_data/bank_b.txt", false},
      {"input_data2", "private_join_and_compute/three_party_data/bank_c.txt", false}},
     {"output_data0", "output_data1", "output_data2"},
     "3 users join the task in total."},
    {"builtin-password-check",
     "{}",
     {{"password", "password_check/password.txt", false},
      {"exposed_passwords", "password_check/exposed_passwords.txt.enc", true}},
     {0},
     "true"},
    {"builtin-rsa-sign",
     "{\"data\":\"test data\"}",
     {{"rsa_key", "rsa_sign/key.der", false}},
     {0},
     NULL},
    {"builtin_online_decrypt",
     "{\"key\":\"aqUdgZ0lJnuz9yiPkoDxMw==\",\"nonce\":\"AAECAwQFBgcICQoL\",\"encrypted_data\":"
     "\"OqMscYqxk1CshHQZulTrrDlJjS/v6BE/clWJyTerUw==\",\"algorithm\":\"aes128gcm\"}",
     {{0}},
     {0},
     "Hello Teaclave!"},
    {"builtin-logistic-regression-predict",
     "{}",
     {{"model_file", "logistic_regression_prediction/model.txt", false},
      {"data_file", "logistic_regression_prediction/predict_input.txt", false}},
     {"result_file"},
     "Predicted 5 lines of data."},
    {"builtin-gbdt-predict",
     "{}",
     {{"model_file", "gbdt_prediction/model.txt", false},
      {"data_file", "gbdt_prediction/test_data.txt", false}},
     {"result_file"},
     "Predict result has 30 lines of data."},
    {"builtin-gbdt-train",
     "{\"feature_size\":4,\"max_depth\":4,\"iterations\":100,\"shrinkage\":0.1,"
     "\"feature_sample_ratio\":1.0,\"data_sample_ratio\":1.0,\"min_leaf_size\":1,"
     "\"loss\":\"LAD\",\"training_optimization_level\":2}",
     {{"training_data", "gbdt_training/train.txt", false}},
     {"trained_model"},
     "Trained 120 lines of data."},
    {"builtin-logistic-regression-train",
     "{\"alg_alpha\":0.3,\"alg_iters\":100,\"feature_size\":30}",
     {{"training_data", "logistic_regression_training/train.txt", false}},
     {"model_file"},
     "Trained 100 lines of data."},
    {"builtin_principal_components_analysis",
     "{\"n\":2,\"center\":true,\"feature_size\":4}",
     {{"input_data", "princopal_components_analysis/input.txt", false}},
     {"output_data"},
     "transform 90 rows * 2 cols lines of data."},
};

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Runs one case under the audit; returns the result (caller frees). */
/* STEEP_TEST_RUNNER_POOL=1 (ctest execution_syscall_audit_pool_test): each
 * task runs in a pre-started runner (executors/runner_pool.h) instead,
 * which must be found, and must refuse nothing either. */
static bool pooled;
static char pool_dir[600];

static int run_task(const struct steep_sandbox_task *task,
                    const struct steep_sandbox_spawner *spawner,
                    struct steep_sandbox_result *result)
{
    if (!pooled)
        return steep_sandbox_run_spawned(task, spawner, result);
    struct steep_runner_pool_config config = {1, runner, spawner ? spawner->arg : NULL, pool_dir,
                                              task->limits};
    struct steep_runner_pool *pool = steep_runner_pool_start(&config);
    if (!pool)
        fail_msg("%s", steep_error_get());
    const char *executor = task->request->executor;
    pid_t pid;
    int channel;
    int rc = -1;
    if (steep_runner_pool_wait_ready(pool, executor, 1, 60000) &&
        steep_runner_pool_take(pool, executor, -1, &task->limits, &pid, &channel) == 1)
        rc = steep_sandbox_run_prestarted(task, pid, channel, result);
    else
        fprintf(stderr, "no pre-started %s runner\n", executor);
    steep_runner_pool_stop(pool);
    return rc;
}

static void run_case(const struct audit_case *c, struct steep_sandbox_result *result)
{
    struct steep_runner_file inputs[MAX_CASE_FILES], outputs[MAX_CASE_FILES];
    char names[MAX_CASE_FILES][300];
    struct steep_runner_request request;
    memset(&request, 0, sizeof request);
    memset(inputs, 0, sizeof inputs);
    memset(outputs, 0, sizeof outputs);
    request.executor = "builtin";
    request.function_name = (char *)c->function;
    request.arguments = (char *)c->arguments;
    request.jail_dir = jail;
    request.save_log = true;
    request.inputs = inputs;
    request.outputs = outputs;
    for (size_t i = 0; i < MAX_CASE_FILES && c->inputs[i].name; i++) {
        char path[4096];
        test_fixture_path(path, sizeof path, c->inputs[i].fixture);
        struct steep_runner_file *file = &inputs[request.n_inputs++];
        file->name = (char *)c->inputs[i].name;
        snprintf(names[i], sizeof names[i], "%s", base_name(path));
        file->file_name = names[i];
        file->fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(file->fd >= 0);
        if (c->inputs[i].tf128) {
            /* The cmac the node would have registered. */
            file->scheme = STEEP_RUNNER_SCHEME_TF128;
            struct steep_reader *reader = steep_tf128_reader_open(
                open(path, O_RDONLY | O_CLOEXEC), file->file_name, file->key, file->cmac);
            if (!reader)
                fail_msg("%s: %s", path, steep_error_get());
            steep_reader_close(reader);
        }
    }
    for (size_t i = 0; i < MAX_CASE_FILES && c->outputs[i]; i++) {
        char path[4096], name[300];
        snprintf(name, sizeof name, "audit-%s", c->outputs[i]);
        test_temp_path(path, sizeof path, name);
        struct steep_runner_file *file = &outputs[request.n_outputs++];
        file->name = (char *)c->outputs[i];
        file->file_name = (char *)c->outputs[i];
        file->scheme = STEEP_RUNNER_SCHEME_TF128;
        memset(file->key, 0x5a, sizeof file->key);
        file->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(file->fd >= 0);
        unlink(path);
    }
    struct steep_sandbox_task task = {runner, &request, {0}, NULL};
    steep_sandbox_limits_default(&task.limits);
    task.limits.wall_seconds = 60;
    task.limits.memory_bytes = 512u << 20;
    assert_int_equal(run_task(&task, NULL, result), 0);
    for (size_t i = 0; i < request.n_inputs; i++)
        close(inputs[i].fd);
    for (size_t i = 0; i < request.n_outputs; i++)
        close(outputs[i].fd);
}

#ifdef STEEP_AUDIT_PYTHON
static char python_runner[1024];

static void set_audit(bool on);

/* Python payloads: an echo and numpy's linear algebra, random generator,
 * formatting and the task log (print). */
static const char *const python_cases[][3] = {
    {"echo", "def entrypoint(argv):\n    return argv[1]\n", "Hello Teaclave!"},
    {"numpy",
     "import numpy\n"
     "def entrypoint(argv):\n"
     "    rng = numpy.random.default_rng(7)\n"
     "    a = rng.standard_normal((64, 64)) + 64 * numpy.eye(64)\n"
     "    x = numpy.linalg.solve(a, numpy.ones(64))\n"
     "    s = numpy.sort(rng.integers(0, 1000, 4096))\n"
     "    print('residual', float(numpy.abs(a @ x - 1).max()))\n"
     "    return 'numpy %d %s' % (int(s[0] <= s[-1]), numpy.array2string(x[:1] * 0 + 1))\n",
     "numpy 1 [1.]"},
};

static void test_python_under_audit(void **state)
{
    struct steep_python_zygote *zygote = steep_python_zygote_start(python_runner, 1 << 20);
    assert_non_null(zygote);
    struct steep_sandbox_spawner spawner = {steep_python_zygote_spawn, zygote};
    set_audit(true);
    int failures = 0;
    for (size_t i = 0; i < sizeof python_cases / sizeof python_cases[0]; i++) {
        struct steep_runner_request request;
        memset(&request, 0, sizeof request);
        request.executor = "python";
        request.function_name = (char *)python_cases[i][0];
        request.arguments = "{\"message\":\"Hello Teaclave!\"}";
        request.payload = (uint8_t *)python_cases[i][1];
        request.payload_len = strlen(python_cases[i][1]);
        request.jail_dir = jail;
        request.save_log = true;
        struct steep_sandbox_task task = {python_runner, &request, {0}, NULL};
        steep_sandbox_limits_default(&task.limits);
        task.limits.wall_seconds = 60;
        task.limits.memory_bytes = 512u << 20;
        struct steep_sandbox_result result;
        assert_int_equal(run_task(&task, &spawner, &result), 0);
        const char *want = python_cases[i][2];
        bool good = result.ok && result.summary.len == strlen(want) &&
                    memcmp(result.summary.data, want, strlen(want)) == 0;
        if (!good) {
            fprintf(stderr, "python %s: %s\n", python_cases[i][0],
                    result.ok ? "unexpected summary" : result.reason);
            failures++;
        }
        steep_sandbox_result_free(&result);
    }
    set_audit(false);
    steep_python_zygote_stop(zygote);
    assert_int_equal(failures, 0);
}
#endif

static void set_audit(bool on)
{
    struct steep_sandbox_options options;
    steep_sandbox_options_default(&options);
    options.audit_syscalls = on;
    assert_int_equal(steep_sandbox_configure(&options), 0);
}

static void test_every_builtin_under_audit(void **state)
{
    set_audit(true);
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct audit_case *c = &cases[i];
        struct steep_sandbox_result result;
        run_case(c, &result);
        bool good =
            result.ok &&
            (!c->summary || (result.summary.len >= strlen(c->summary) &&
                             memcmp(result.summary.data, c->summary, strlen(c->summary)) == 0));
        if (!good) {
            fprintf(stderr, "%s: %s\n", c->function,
                    result.ok ? "unexpected summary" : result.reason);
            failures++;
        }
        steep_sandbox_result_free(&result);
    }
    set_audit(false);
    assert_int_equal(failures, 0);
}

static void test_audit_records_refused_calls(void **state)
{
    /* A refused call is seen and named, and the function went on (its
     * connect failed with ENOSYS rather than ending the task). */
    set_audit(true);
    const struct audit_case network = {"test-network", "{\"port\":1}", {{0}}, {0}, NULL};
    struct steep_sandbox_result result;
    run_case(&network, &result);
    set_audit(false);
    assert_false(result.ok);
    assert_string_equal(result.reason, "sandbox audit: refused system calls: socket");
    steep_sandbox_result_free(&result);
    /* Outside the audit the same call ends the task with its name. */
    run_case(&network, &result);
    assert_false(result.ok);
    assert_string_equal(result.reason, "function violated the sandbox policy (syscall socket)");
    steep_sandbox_result_free(&result);
}

int main(void)
{
    const char *build = getenv("STEEP_BUILD_DIR");
    snprintf(runner, sizeof runner, "%s/bin/steep-task-runner", build ? build : "build");
#ifdef STEEP_AUDIT_PYTHON
    snprintf(python_runner, sizeof python_runner, "%s/bin/steep-python-runner",
             build ? build : "build");
#endif
    test_temp_dir_init("steep-audit");
    test_temp_path(jail, sizeof jail, "jail");
    mkdir(jail, 0500);
    test_temp_path(pool_dir, sizeof pool_dir, "pool");
    pooled = getenv("STEEP_TEST_RUNNER_POOL") && strcmp(getenv("STEEP_TEST_RUNNER_POOL"), "1") == 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_builtin_under_audit),
#ifdef STEEP_AUDIT_PYTHON
        cmocka_unit_test(test_python_under_audit),
#endif
        cmocka_unit_test(test_audit_records_refused_calls),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(jail);
    test_temp_dir_cleanup();
    return rc;
}
