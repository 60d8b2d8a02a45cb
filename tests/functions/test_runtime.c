/*
 * The staged-file runtime (functions/runtime.h): a task-like run of
 * builtin-ordered-set-intersect over tf128 fixtures with their registered
 * cmacs, output cmacs recorded and matching the files, a wrong cmac
 * refused, unknown names, and an aes-gcm input staged to tf128 first.
 */
#include "functions/runtime.h"
#include "test_util.h"

#include "core/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void add_fixture(struct steep_fn_runtime *rt, const char *name, const char *rel,
                        const char *cmac_hex)
{
    char path[4096];
    uint8_t zero[16] = {0}, cmac[16];
    struct steep_file_crypto crypto;
    test_fixture_path(path, sizeof(path), rel);
    assert_int_equal(steep_file_crypto_init(&crypto, "teaclave-file-128", zero, 16, NULL, 0), 0);
    assert_int_equal(steep_hex_decode(cmac_hex, cmac, 16), 0);
    assert_int_equal(steep_fn_runtime_add_input(rt, name, path, &crypto, cmac), 0);
}

static void test_intersect_task(void **state)
{
    struct steep_fn_runtime rt;
    steep_fn_runtime_init(&rt);
    add_fixture(&rt, "input_data1", "ordered_set_intersect/psi0.txt.enc",
                "92f686d4ac2ba6b4ffd93bc7ac5dbf58");
    add_fixture(&rt, "input_data2", "ordered_set_intersect/psi1.txt.enc",
                "8b3104972a6f0de949315e0b45d5dd66");
    struct steep_file_crypto out_crypto[2];
    char paths[2][4096];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(steep_file_crypto_random_tf128(&out_crypto[i]), 0);
        test_temp_path(paths[i], sizeof(paths[i]), i ? "output_result2" : "output_result1");
        assert_int_equal(steep_fn_runtime_add_output(&rt, i ? "output_result2" : "output_result1",
                                                     paths[i], &out_crypto[i]),
                         0);
    }
    assert_null(steep_fn_runtime_output_cmac(&rt, "output_result1"));
    const struct steep_builtin *fn = steep_builtin_find("builtin-ordered-set-intersect");
    struct steep_buf summary = STEEP_BUF_INIT;
    assert_int_equal(steep_builtin_run(fn, "{\"order\":\"ascending\"}", &rt.io, &summary), 0);
    assert_int_equal(steep_buf_terminate(&summary), 0);
    assert_string_equal((char *)summary.data, "3 common items");
    for (int i = 0; i < 2; i++) {
        const uint8_t *cmac =
            steep_fn_runtime_output_cmac(&rt, i ? "output_result2" : "output_result1");
        assert_non_null(cmac);
        uint8_t file_cmac[16];
        assert_int_equal(steep_file_cmac(paths[i], &out_crypto[i], file_cmac), 0);
        assert_memory_equal(cmac, file_cmac, 16);
        unlink(paths[i]);
    }
    steep_buf_free(&summary);
    steep_fn_runtime_free(&rt);
}

static void test_wrong_cmac_and_names(void **state)
{
    struct steep_fn_runtime rt;
    steep_fn_runtime_init(&rt);
    add_fixture(&rt, "input_data1", "ordered_set_intersect/psi0.txt.enc",
                "92f686d4ac2ba6b4ffd93bc7ac5dbf59");
    assert_null(rt.io.open_input(rt.io.ctx, "input_data1"));
    assert_string_equal(steep_error_get(), "Corrupted input file: cmac mismatch");
    assert_null(rt.io.open_input(rt.io.ctx, "nope"));
    assert_string_equal(steep_error_get(), "Invalid input file identifier.");
    assert_null(rt.io.create_output(rt.io.ctx, "nope"));
    assert_string_equal(steep_error_get(), "Invalid output file identifier");
    struct steep_file_crypto raw = {.scheme = STEEP_SCHEME_RAW};
    assert_int_equal(steep_fn_runtime_add_output(&rt, "out", "/tmp/x", &raw), 0);
    assert_null(rt.io.create_output(rt.io.ctx, "out"));
    assert_string_equal(steep_error_get(), "OutputFile: unsupported type");
    assert_int_equal(steep_fn_runtime_add_output(&rt, "out", "/tmp/y", &raw), -1);
    /* Echo's log line reaches the runtime's log. */
    struct steep_buf summary = STEEP_BUF_INIT;
    assert_int_equal(steep_builtin_run(steep_builtin_find("builtin-echo"),
                                       "{\"message\":\"Hello, Teaclave Tests!\"}", &rt.io,
                                       &summary),
                     0);
    assert_int_equal(steep_buf_terminate(&rt.log), 0);
    assert_non_null(
        strstr((char *)rt.log.data, "[INFO teaclave_function::echo] Hello, Teaclave Tests!\n"));
    steep_buf_free(&summary);
    steep_fn_runtime_free(&rt);
}

static void test_staged_aes_gcm_input(void **state)
{
    /* Teaclave's staging: aes-gcm input (tag = registered cmac) → tf128 with a random key. */
    char src[4096], staged[4096];
    test_fixture_path(src, sizeof(src), "gbdt_training/train.aes_gcm_128");
    test_temp_path(staged, sizeof(staged), "training_data");
    uint8_t zero[16] = {0}, iv[12], tag[16], staged_cmac[16];
    memset(iv, 1, sizeof(iv));
    assert_int_equal(steep_hex_decode("592f1e607649d89ff2aa8a2841a57cad", tag, 16), 0);
    struct steep_file_crypto gcm, tf;
    assert_int_equal(steep_file_crypto_init(&gcm, "aes-gcm-128", zero, 16, iv, 12), 0);
    assert_int_equal(steep_file_crypto_random_tf128(&tf), 0);
    assert_int_equal(steep_file_convert(src, &gcm, tag, staged, &tf, staged_cmac), 0);
    struct steep_fn_runtime rt;
    steep_fn_runtime_init(&rt);
    assert_int_equal(steep_fn_runtime_add_input(&rt, "password", staged, &tf, staged_cmac), 0);
    char exposed[4096];
    test_fixture_path(exposed, sizeof(exposed), "password_check/exposed_passwords.txt");
    struct steep_file_crypto raw = {.scheme = STEEP_SCHEME_RAW};
    assert_int_equal(steep_fn_runtime_add_input(&rt, "exposed_passwords", exposed, &raw, NULL), 0);
    /* The staged file is named training_data but registered as "password": the name inside is
     * the staged basename, so it opens; its first line is a train.txt row, not exposed. */
    struct steep_buf summary = STEEP_BUF_INIT;
    assert_int_equal(
        steep_builtin_run(steep_builtin_find("builtin-password-check"), "{}", &rt.io, &summary), 0);
    assert_int_equal(steep_buf_terminate(&summary), 0);
    assert_string_equal((char *)summary.data, "false");
    steep_buf_free(&summary);
    steep_fn_runtime_free(&rt);
    unlink(staged);
}

int main(void)
{
    test_temp_dir_init("steep-fn-runtime");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intersect_task),
        cmocka_unit_test(test_wrong_cmac_and_names),
        cmocka_unit_test(test_staged_aes_gcm_input),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_temp_dir_cleanup();
    return rc;
}
