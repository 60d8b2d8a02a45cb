/*
 * Rust-compatible number handling of the ML built-ins: {:?} shortest
 * round-trip formatting, the f64/f32 parse grammar, and PCA on Teaclave's
 * fixture and logistic-regression training, both byte-identical to
 * Teaclave's expected files.
 */
#include "fn_test_io.h"
#include "functions/float_format.h"
#include "functions/number.h"
#include "test_util.h"

#include "core/error.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void expect_format(double x, const char *want)
{
    struct steep_buf b = STEEP_BUF_INIT;
    assert_int_equal(steep_format_f64_debug(&b, x), 0);
    assert_int_equal(steep_buf_terminate(&b), 0);
    assert_string_equal((char *)b.data, want);
    steep_buf_free(&b);
}

static void test_debug_format(void **state)
{
    expect_format(-2.4154563605850874, "-2.4154563605850874");
    expect_format(0.1, "0.1");
    expect_format(3.0, "3.0");
    expect_format(-0.0, "-0.0");
    expect_format(0.0, "0.0");
    expect_format(1e-7, "1e-7");
    expect_format(1.5e-7, "1.5e-7");
    expect_format(0.0001, "0.0001");
    expect_format(123456789012345.0, "123456789012345.0");
    expect_format(1e16, "1e16");
    expect_format(1.0 / 3.0, "0.3333333333333333");
    expect_format(NAN, "NaN");
    expect_format(-INFINITY, "-inf");
}

static void test_json_format(void **state)
{
    struct steep_buf b = STEEP_BUF_INIT;
    assert_int_equal(steep_format_f64_json(&b, 0.00005), 0);
    assert_int_equal(steep_buf_append_u8(&b, ' '), 0);
    assert_int_equal(steep_format_f64_json(&b, 5e-6), 0);
    assert_int_equal(steep_buf_append_u8(&b, ' '), 0);
    assert_int_equal(steep_format_f64_json(&b, 0.3), 0);
    assert_int_equal(steep_buf_append_u8(&b, ' '), 0);
    assert_int_equal(steep_format_f64_json(&b, NAN), 0);
    assert_int_equal(steep_buf_terminate(&b), 0);
    assert_string_equal((char *)b.data, "0.00005 5e-6 0.3 null");
    steep_buf_free(&b);
}

static void test_parse(void **state)
{
    double d;
    float f;
    assert_int_equal(steep_parse_f64("1.5", 3, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(steep_parse_f64("-.5e1", 5, &d), 0);
    assert_true(d == -5.0);
    assert_int_equal(steep_parse_f64("5.", 2, &d), 0);
    assert_int_equal(steep_parse_f64("inf", 3, &d), 0);
    assert_true(isinf(d));
    assert_int_equal(steep_parse_f32("0.1", 3, &f), 0);
    assert_true(f == 0.1f);
    assert_int_equal(steep_parse_f64(" 1", 2, &d), -1);
    assert_string_equal(steep_error_get(), "invalid float literal");
    assert_int_equal(steep_parse_f64("0x10", 4, &d), -1);
    assert_int_equal(steep_parse_f64("1e", 2, &d), -1);
    assert_int_equal(steep_parse_f64(".", 1, &d), -1);
    assert_int_equal(steep_parse_f64("", 0, &d), -1);
    assert_string_equal(steep_error_get(), "cannot parse float from empty string");
}

static void test_pca(void **state)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    fn_test_add_fixture(&t, "input_data", "princopal_components_analysis/input.txt");
    fn_test_add_output(&t, "output_data", 1);
    struct steep_buf summary = STEEP_BUF_INIT, out = STEEP_BUF_INIT, want = STEEP_BUF_INIT;
    if (fn_test_run(&t, "builtin_principal_components_analysis",
                    "{\"n\":2,\"center\":true,\"feature_size\":4}", &summary) != 0)
        fail_msg("%s", steep_error_get());
    assert_string_equal((char *)summary.data, "transform 90 rows * 2 cols lines of data.");
    fn_test_read_output(&t, "output_data", &out);
    char path[4096];
    test_fixture_path(path, sizeof(path), "princopal_components_analysis/expected_result.txt");
    assert_int_equal(steep_read_file(path, 1 << 20, &want), 0);
    assert_int_equal(steep_buf_terminate(&want), 0);
    assert_int_equal(out.len, want.len);
    assert_memory_equal(out.data, want.data, want.len);
    assert_int_equal(fn_test_run(&t, "builtin_principal_components_analysis",
                                 "{\"n\":5,\"center\":true,\"feature_size\":4}", &summary),
                     -1);
    assert_non_null(strstr(steep_error_get(), "equal or larger number of columns than n"));
    assert_int_equal(fn_test_run(&t, "builtin_principal_components_analysis",
                                 "{\"n\":2,\"center\":true,\"feature_size\":3}", &summary),
                     -1);
    assert_string_equal(steep_error_get(),
                        "Data format error: column len = 5, expected = 4 (input_data line 1)");
    assert_int_equal(fn_test_run(&t, "builtin_principal_components_analysis",
                                 "{\"n\":2,\"center\":1,\"feature_size\":4}", &summary),
                     -1);
    assert_string_equal(steep_error_get(), "Cannot deserialize arguments");
    steep_buf_free(&summary);
    steep_buf_free(&out);
    steep_buf_free(&want);
    fn_test_io_free(&t);
}

static void test_logistic_regression_train(void **state)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    fn_test_add_fixture(&t, "training_data", "logistic_regression_training/train.txt");
    fn_test_add_output(&t, "model_file", 1);
    struct steep_buf summary = STEEP_BUF_INIT, out = STEEP_BUF_INIT, want = STEEP_BUF_INIT;
    if (fn_test_run(&t, "builtin-logistic-regression-train",
                    "{\"alg_alpha\":0.3,\"alg_iters\":100,\"feature_size\":30}", &summary) != 0)
        fail_msg("%s", steep_error_get());
    assert_string_equal((char *)summary.data, "Trained 100 lines of data.");
    fn_test_read_output(&t, "model_file", &out);
    char path[4096];
    test_fixture_path(path, sizeof(path), "logistic_regression_training/expected_model.txt");
    assert_int_equal(steep_read_file(path, 1 << 20, &want), 0);
    assert_int_equal(steep_buf_terminate(&want), 0);
    assert_int_equal(out.len, want.len);
    assert_memory_equal(out.data, want.data, want.len);
    assert_int_equal(fn_test_run(&t, "builtin-logistic-regression-train",
                                 "{\"alg_alpha\":0.3,\"alg_iters\":100,\"feature_size\":29}",
                                 &summary),
                     -1);
    assert_string_equal(steep_error_get(),
                        "Data format error: column len = 31, expected = 30 (training_data line 1)");
    steep_buf_free(&summary);
    steep_buf_free(&out);
    steep_buf_free(&want);
    fn_test_io_free(&t);
}

int main(void)
{
    test_temp_dir_init("steep-fn-numbers");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debug_format),
        cmocka_unit_test(test_json_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_pca),
        cmocka_unit_test(test_logistic_regression_train),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_temp_dir_cleanup();
    return rc;
}
