/* One task end to end on the node (executors/task.h): staging of tf128,
 * aes-gcm-128/256 and raw inputs with right and wrong cmacs, outputs
 * re-encrypted into each owner scheme and uploaded over HTTP, file:// and
 * fusion, tags that match the uploaded files, and the failure reasons. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/error.h"
#include "crypto/file_crypto.h"
#include "executors/file_agent.h"
#include "executors/staged_task.h"
#include "executors/task.h"
#include "helpers.h"
#include "staged_json.h"

static const uint8_t zero_key[16] = {0};
static const uint8_t psi0_cmac[16] = {0x92, 0xf6, 0x86, 0xd4, 0xac, 0x2b, 0xa6, 0xb4,
                                      0xff, 0xd9, 0x3b, 0xc7, 0xac, 0x5d, 0xbf, 0x58};
static const uint8_t psi1_cmac[16] = {0x8b, 0x31, 0x04, 0x97, 0x2a, 0x6f, 0x0d, 0xe9,
                                      0x49, 0x31, 0x5e, 0x0b, 0x45, 0xd5, 0xdd, 0x66};
static const uint8_t key_a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t key_b[32] = {0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                  0x42, 0x42, 0x42, 0x42, 0x42, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24,
                                  0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24};
static const uint8_t iv_a[12] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};

struct fixture {
    char dir[400];
    char served[512], work[512], fusion[512], runner[1024];
    struct test_http_server http;
    uint8_t aes0_cmac[16], aes1_cmac[16];
    struct steep_task_environment environment;
    struct steep_task_outcome outcome;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char path[1024], plain[1024];
    struct steep_file_crypto crypto;
    test_temp_dir(f->dir, sizeof f->dir, "task");
    snprintf(f->served, sizeof f->served, "%s/served", f->dir);
    snprintf(f->work, sizeof f->work, "%s/work", f->dir);
    snprintf(f->fusion, sizeof f->fusion, "%s/fusion", f->dir);
    mkdir(f->served, 0700);
    const char *build = getenv("STEEP_BUILD_DIR");
    snprintf(f->runner, sizeof f->runner, "%s/bin/steep-task-runner", build ? build : "build");
    snprintf(path, sizeof path, "%s/psi0.txt.enc", f->served);
    test_copy_fixture("functions/ordered_set_intersect/psi0.txt.enc", path);
    snprintf(path, sizeof path, "%s/psi1.txt.enc", f->served);
    test_copy_fixture("functions/ordered_set_intersect/psi1.txt.enc", path);
    /* aes-gcm-128 and aes-gcm-256 copies of the plaintexts. */
    test_fixture_path(plain, sizeof plain, "functions/ordered_set_intersect/psi0.txt");
    snprintf(path, sizeof path, "%s/psi0.aes128", f->served);
    assert_int_equal(steep_file_crypto_init(&crypto, "aes-gcm-128", key_a, 16, iv_a, 12), 0);
    assert_int_equal(steep_file_encrypt(plain, path, &crypto, NULL, NULL, f->aes0_cmac), 0);
    test_fixture_path(plain, sizeof plain, "functions/ordered_set_intersect/psi1.txt");
    snprintf(path, sizeof path, "%s/psi1.aes256", f->served);
    assert_int_equal(steep_file_crypto_init(&crypto, "aes-gcm-256", key_b, 32, iv_a, 12), 0);
    assert_int_equal(steep_file_encrypt(plain, path, &crypto, NULL, NULL, f->aes1_cmac), 0);
    test_http_start(&f->http, f->served);
    f->environment.runner_path = f->runner;
    f->environment.work_dir = f->work;
    f->environment.fusion_base = f->fusion;
    steep_sandbox_limits_default(&f->environment.limits);
    f->environment.limits.wall_seconds = 30;
    f->environment.allow_test_payloads = true;
    f->environment.allow_file_urls = true;
    f->environment.limits.memory_bytes = 256u << 20;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    test_http_stop(&f->http);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

static bool work_dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return true;
    struct dirent *entry;
    int count = 0;
    while ((entry = readdir(d)))
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
            count++;
    closedir(d);
    return count == 0;
}

/* Runs the task JSON and leaves the outcome in f->outcome. */
static void run(struct fixture *f, json_t *json)
{
    char *text = test_dump(json);
    struct steep_staged_task task;
    assert_int_equal(steep_staged_task_parse((const uint8_t *)text, strlen(text), &task), 0);
    steep_task_outcome_free(&f->outcome);
    steep_task_run(&f->environment, &task, NULL, &f->outcome);
    if (!f->outcome.ok)
        fprintf(stderr, "task failed: %s\n", f->outcome.reason);
    assert_true(work_dir_empty(f->work));
    steep_staged_task_free(&task);
    json_decref(json);
    free(text);
}

static const char *url(struct fixture *f, int slot, const char *name)
{
    static char urls[4][1024];
    snprintf(urls[slot], sizeof urls[slot], "http://127.0.0.1:%d/%s", f->http.port, name);
    return urls[slot];
}

static json_t *intersect_task(void)
{
    json_t *args = json_object();
    json_object_set_new(args, "order", json_string("ascending"));
    return test_staged_task("00000000-0000-4000-8000-000000000001", "Builtin", "Builtin",
                            "builtin-ordered-set-intersect", args);
}

/* Decrypts an uploaded output and checks its content and the reported tag. */
static void check_output(struct fixture *f, const char *path,
                         const struct steep_file_crypto *crypto, const char *name,
                         const char *expected)
{
    char plain[1200];
    uint8_t cmac[16];
    snprintf(plain, sizeof plain, "%s.plain", path);
    assert_int_equal(steep_file_decrypt(path, plain, crypto, NULL, NULL, cmac), 0);
    char *text = test_read_file(plain, NULL);
    assert_string_equal(text, expected);
    free(text);
    bool found = false;
    for (size_t i = 0; i < f->outcome.n_tags; i++) {
        if (strcmp(f->outcome.tags[i].name, name) == 0) {
            assert_memory_equal(f->outcome.tags[i].cmac, cmac, 16);
            found = true;
        }
    }
    assert_true(found);
}

static void test_echo(void **state)
{
    struct fixture *f = *state;
    json_t *args = json_object();
    json_object_set_new(args, "message", json_string("Hello Teaclave!"));
    run(f, test_staged_task("00000000-0000-4000-8000-000000000000", "Builtin", "Builtin",
                            "builtin-echo", args));
    assert_true(f->outcome.ok);
    assert_int_equal(f->outcome.summary.len, 15);
    assert_memory_equal(f->outcome.summary.data, "Hello Teaclave!", 15);
    assert_int_equal(f->outcome.n_tags, 0);
}

static void test_intersect_tf128_over_http(void **state)
{
    struct fixture *f = *state;
    json_t *task = intersect_task();
    test_add_input(task, "input_data1", url(f, 0, "psi0.txt.enc"), psi0_cmac,
                   test_crypto("TeaclaveFile128", zero_key, 16, NULL));
    test_add_input(task, "input_data2", url(f, 1, "psi1.txt.enc"), psi1_cmac,
                   test_crypto("TeaclaveFile128", zero_key, 16, NULL));
    test_add_output(task, "output_result1", url(f, 2, "result1.gcm"),
                    test_crypto("AesGcm128", key_a, 16, iv_a));
    test_add_output(task, "output_result2", url(f, 3, "result2.enc"),
                    test_crypto("TeaclaveFile128", key_a, 16, NULL));
    run(f, task);
    assert_true(f->outcome.ok);
    assert_int_equal(f->outcome.summary.len, strlen("3 common items"));
    assert_memory_equal(f->outcome.summary.data, "3 common items", 14);
    assert_int_equal(f->outcome.n_tags, 2);
    struct steep_file_crypto gcm, tf128;
    char path[1024];
    steep_file_crypto_init(&gcm, "aes-gcm-128", key_a, 16, iv_a, 12);
    steep_file_crypto_init(&tf128, "teaclave-file-128", key_a, 16, NULL, 0);
    snprintf(path, sizeof path, "%s/result1.gcm", f->served);
    check_output(f, path, &gcm, "output_result1", "0101010");
    snprintf(path, sizeof path, "%s/result2.enc", f->served);
    check_output(f, path, &tf128, "output_result2", "01101");
}

static void test_intersect_aes_inputs_to_fusion_and_file(void **state)
{
    struct fixture *f = *state;
    char in0[1024], in1[1024], out2[1024];
    json_t *task = intersect_task();
    snprintf(in0, sizeof in0, "file://%s/psi0.aes128", f->served);
    snprintf(in1, sizeof in1, "file://%s/psi1.aes256", f->served);
    snprintf(out2, sizeof out2, "file://%s/out2.aes256", f->dir);
    test_add_input(task, "input_data1", in0, f->aes0_cmac,
                   test_crypto("AesGcm128", key_a, 16, iv_a));
    test_add_input(task, "input_data2", in1, f->aes1_cmac,
                   test_crypto("AesGcm256", key_b, 32, iv_a));
    test_add_output(task, "output_result1", "fusion:///TEACLAVE_FUSION_BASE/r1.fusion",
                    test_crypto("TeaclaveFile128", key_a, 16, NULL));
    test_add_output(task, "output_result2", out2, test_crypto("AesGcm256", key_b, 32, iv_a));
    run(f, task);
    assert_true(f->outcome.ok);
    struct steep_file_crypto gcm, tf128;
    char path[1024];
    steep_file_crypto_init(&tf128, "teaclave-file-128", key_a, 16, NULL, 0);
    steep_file_crypto_init(&gcm, "aes-gcm-256", key_b, 32, iv_a, 12);
    snprintf(path, sizeof path, "%s/r1.fusion", f->fusion);
    check_output(f, path, &tf128, "output_result1", "0101010");
    snprintf(path, sizeof path, "%s/out2.aes256", f->dir);
    check_output(f, path, &gcm, "output_result2", "01101");
}

static void test_wrong_cmacs(void **state)
{
    struct fixture *f = *state;
    uint8_t wrong[16];
    memcpy(wrong, f->aes0_cmac, 16);
    wrong[0] ^= 1;
    json_t *task = intersect_task();
    test_add_input(task, "input_data1", url(f, 0, "psi0.aes128"), wrong,
                   test_crypto("AesGcm128", key_a, 16, iv_a));
    test_add_input(task, "input_data2", url(f, 1, "psi1.txt.enc"), psi1_cmac,
                   test_crypto("TeaclaveFile128", zero_key, 16, NULL));
    test_add_output(task, "output_result1", url(f, 2, "w1"),
                    test_crypto("AesGcm128", key_a, 16, iv_a));
    test_add_output(task, "output_result2", url(f, 3, "w2"),
                    test_crypto("AesGcm128", key_a, 16, iv_a));
    run(f, task);
    assert_false(f->outcome.ok);
    assert_non_null(strstr(f->outcome.reason, "input_data1"));
    /* tf128 with a wrong registered cmac fails when the function opens it. */
    memcpy(wrong, psi1_cmac, 16);
    wrong[15] ^= 0x80;
    task = intersect_task();
    test_add_input(task, "input_data1", url(f, 0, "psi0.txt.enc"), psi0_cmac,
                   test_crypto("TeaclaveFile128", zero_key, 16, NULL));
    test_add_input(task, "input_data2", url(f, 1, "psi1.txt.enc"), wrong,
                   test_crypto("TeaclaveFile128", zero_key, 16, NULL));
    test_add_output(task, "output_result1", url(f, 2, "w1"),
                    test_crypto("AesGcm128", key_a, 16, iv_a));
    test_add_output(task, "output_result2", url(f, 3, "w2"),
                    test_crypto("AesGcm128", key_a, 16, iv_a));
    run(f, task);
    assert_false(f->outcome.ok);
    assert_non_null(strstr(f->outcome.reason, "Corrupted input file"));
    char path[1024];
    snprintf(path, sizeof path, "%s/w1", f->served);
    assert_false(test_file_exists(path));
}

static void test_raw_input_and_raw_output(void **state)
{
    struct fixture *f = *state;
    char path[1024], plain[1024];
    size_t len;
    test_fixture_path(plain, sizeof plain, "functions/ordered_set_intersect/psi0.txt");
    char *data = test_read_file(plain, &len);
    snprintf(path, sizeof path, "%s/psi0.raw", f->served);
    test_write_file(path, data, len);
    free(data);
    json_t *task = intersect_task();
    test_add_input(task, "input_data1", url(f, 0, "psi0.raw"), zero_key,
                   test_crypto("Raw", NULL, 0, NULL));
    test_add_input(task, "input_data2", url(f, 1, "psi1.txt.enc"), psi1_cmac,
                   test_crypto("TeaclaveFile128", zero_key, 16, NULL));
    test_add_output(task, "output_result1", url(f, 2, "raw1"),
                    test_crypto("AesGcm128", key_a, 16, iv_a));
    test_add_output(task, "output_result2", url(f, 3, "raw2"), test_crypto("Raw", NULL, 0, NULL));
    run(f, task);
    /* The function ran on the raw input; the raw output cannot be produced. */
    assert_false(f->outcome.ok);
    assert_non_null(strstr(f->outcome.reason, "unsupported type"));
}

static void test_failures(void **state)
{
    struct fixture *f = *state;
    json_t *args = json_object();
    json_object_set_new(args, "message", json_string("x"));
    json_t *task = test_staged_task("00000000-0000-4000-8000-000000000002", "Builtin", "Builtin",
                                    "builtin-echo", args);
    test_add_output(task, "never_written", url(f, 0, "nw"),
                    test_crypto("AesGcm128", key_a, 16, iv_a));
    run(f, task);
    assert_false(f->outcome.ok);
    assert_non_null(strstr(f->outcome.reason, "never_written"));

    run(f, test_staged_task("00000000-0000-4000-8000-000000000003", "Python", "MesaPy", "anything",
                            NULL));
    assert_false(f->outcome.ok);
    assert_string_equal(f->outcome.reason, "function not available: (Python, MesaPy)");

    run(f, test_staged_task("00000000-0000-4000-8000-000000000004", "Builtin", "Builtin",
                            "builtin-no-such-function", NULL));
    assert_false(f->outcome.ok);
    assert_string_equal(f->outcome.reason, "Function not found.");

    task = intersect_task();
    test_add_input(task, "input_data1", url(f, 0, "absent.enc?sig=SECRET"), psi0_cmac,
                   test_crypto("TeaclaveFile128", zero_key, 16, NULL));
    run(f, task);
    assert_false(f->outcome.ok);
    assert_non_null(strstr(f->outcome.reason, "absent.enc"));
    assert_null(strstr(f->outcome.reason, "SECRET"));

    /* Hostile test functions exist in this build but stay off unless the
     * platform's config turns them on. */
    f->environment.allow_test_payloads = false;
    run(f, test_staged_task("00000000-0000-4000-8000-000000000005", "Builtin", "Builtin",
                            "test-crash", NULL));
    f->environment.allow_test_payloads = true;
    assert_false(f->outcome.ok);
    assert_string_equal(f->outcome.reason, "Function not found.");
}

int main(void)
{
    steep_file_agent_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_intersect_tf128_over_http),
        cmocka_unit_test(test_intersect_aes_inputs_to_fusion_and_file),
        cmocka_unit_test(test_wrong_cmacs),
        cmocka_unit_test(test_raw_input_and_raw_output),
        cmocka_unit_test(test_failures),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc;
}
