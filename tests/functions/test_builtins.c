/*
 * Built-in functions on Teaclave's fixtures, each run inside the real
 * sandbox (a task runner with its files as descriptors, fn_test_io.c),
 * plaintext and teaclave-file-128 inputs and outputs compared byte for byte
 * with the expected files, plus Teaclave's error texts for bad arguments
 * and inputs; and, in this process, the test payloads that are safe here.
 */
#include "fn_test_io.h"
#include "test_util.h"

#include "core/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static void expect_ok(struct fn_test_io *t, const char *name, const char *args, const char *want)
{
    struct steep_buf summary = STEEP_BUF_INIT;
    if (fn_test_run(t, name, args, &summary) != 0)
        fail_msg("%s %s: %s", name, args, steep_error_get());
    if (want)
        assert_string_equal((const char *)summary.data, want);
    steep_buf_free(&summary);
}

/* The test payloads that are safe to run without the sandbox (it refuses them). */
static void expect_ok_in_process(struct fn_test_io *t, const char *name, const char *args,
                                 const char *want)
{
    struct steep_buf summary = STEEP_BUF_INIT;
    if (fn_test_run_in_process(t, name, args, &summary) != 0)
        fail_msg("%s %s: %s", name, args, steep_error_get());
    assert_string_equal((const char *)summary.data, want);
    steep_buf_free(&summary);
}

static void expect_error(struct fn_test_io *t, const char *name, const char *args, const char *want)
{
    struct steep_buf summary = STEEP_BUF_INIT;
    assert_int_equal(fn_test_run(t, name, args, &summary), -1);
    if (!strstr(steep_error_get(), want))
        fail_msg("%s %s: expected '%s', got '%s'", name, args, want, steep_error_get());
    steep_buf_free(&summary);
}

static void read_fixture(const char *rel, struct steep_buf *out)
{
    char path[4096];
    test_fixture_path(path, sizeof(path), rel);
    steep_buf_reset(out);
    assert_int_equal(steep_read_file(path, 1 << 24, out), 0);
    assert_int_equal(steep_buf_terminate(out), 0);
}

static void test_echo_and_lookup(void **state)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    expect_ok(&t, "builtin-echo", "{\"message\":\"Hello Teaclave!\",\"save_log\":\"true\"}",
              "Hello Teaclave!");
    assert_non_null(
        strstr((const char *)t.log.data, "[INFO teaclave_function::echo] Hello Teaclave!\n"));
    expect_error(&t, "builtin-echo", "{}", "Cannot deserialize arguments");
    expect_error(&t, "builtin-echo", "{\"message\":4}", "Cannot deserialize arguments");
    expect_error(&t, "builtin-echo", "not json", "Cannot deserialize arguments");
    expect_error(&t, "builtin-echo", "[1]", "Cannot deserialize arguments");
    assert_null(steep_builtin_find("builtin-nope"));
    assert_string_equal(steep_error_get(), "Function not found.");
    assert_null(steep_builtin_find("builtin-online-decrypt")); /* the name has underscores */
    assert_non_null(steep_builtin_find("builtin_online_decrypt"));
    fn_test_io_free(&t);
}

static void run_intersect(int encrypted)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    if (encrypted) {
        fn_test_add_fixture_tf128(&t, "input_data1", "ordered_set_intersect/psi0.txt.enc");
        fn_test_add_fixture_tf128(&t, "input_data2", "ordered_set_intersect/psi1.txt.enc");
    } else {
        fn_test_add_fixture(&t, "input_data1", "ordered_set_intersect/psi0.txt");
        fn_test_add_fixture(&t, "input_data2", "ordered_set_intersect/psi1.txt");
    }
    fn_test_add_output(&t, "output_result1", encrypted);
    fn_test_add_output(&t, "output_result2", encrypted);
    expect_ok(&t, "builtin-ordered-set-intersect", "{\"order\":\"ascending\"}", "3 common items");
    struct steep_buf out = STEEP_BUF_INIT;
    fn_test_read_output(&t, "output_result1", &out);
    assert_string_equal((const char *)out.data, "0101010");
    fn_test_read_output(&t, "output_result2", &out);
    assert_string_equal((const char *)out.data, "01101");
    expect_error(&t, "builtin-ordered-set-intersect", "{\"order\":\"desending\"}",
                 "Invalid ordering");
    expect_error(&t, "builtin-ordered-set-intersect", "{\"order\":\"up\"}", "Invalid order");
    expect_error(&t, "builtin-ordered-set-intersect", "{}", "Cannot deserialize arguments");
    steep_buf_free(&out);
    fn_test_io_free(&t);
}

static void test_ordered_set_intersect(void **state)
{
    run_intersect(0);
    run_intersect(1);
}

static void intersect_inputs(const char *a, const char *b, const char *args, const char *want,
                             const char *out1, const char *out2)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    fn_test_add_input_bytes(&t, "input_data1", a, strlen(a));
    fn_test_add_input_bytes(&t, "input_data2", b, strlen(b));
    fn_test_add_output(&t, "output_result1", 1);
    fn_test_add_output(&t, "output_result2", 1);
    struct steep_buf summary = STEEP_BUF_INIT, out = STEEP_BUF_INIT;
    int rc = fn_test_run(&t, "builtin-ordered-set-intersect", args, &summary);
    if (out1) {
        if (rc != 0)
            fail_msg("%s", steep_error_get());
        assert_string_equal((const char *)summary.data, want);
        fn_test_read_output(&t, "output_result1", &out);
        assert_string_equal((const char *)out.data, out1);
        fn_test_read_output(&t, "output_result2", &out);
        assert_string_equal((const char *)out.data, out2);
    } else {
        assert_int_equal(rc, -1);
        if (!strstr(steep_error_get(), want))
            fail_msg("expected '%s', got '%s'", want, steep_error_get());
    }
    steep_buf_free(&summary);
    steep_buf_free(&out);
    fn_test_io_free(&t);
}

static void test_ordered_set_intersect_edges(void **state)
{
    const char *asc = "{\"order\":\"ascending\"}", *desc = "{\"order\":\"desending\"}";
    intersect_inputs("01\n02\n02\n05\n", "02\n03\n05\n06", asc, "2 common items", "0101", "1010");
    intersect_inputs("05\r\n03\n01\n", "06\n05\n01\n00\n", desc, "2 common items", "101", "0110");
    intersect_inputs("", "01\n", asc, "0 common items", "", "0");
    intersect_inputs("\n01\n", "\n", asc, "1 common items", "10",
                     "1"); /* empty lines decode to "" */
    intersect_inputs("01\n00\n", "01\n", asc, "Invalid ordering", NULL, NULL);
    intersect_inputs("01\n02\n", "03\n01\n", asc, "Invalid ordering", NULL, NULL);
    intersect_inputs("012\n", "01\n", asc, "Odd number of digits", NULL, NULL);
    intersect_inputs("0g\n", "01\n", asc, "Invalid character 'g' at position 1", NULL, NULL);
}

static void test_ordered_set_join(void **state)
{
    for (int encrypted = 0; encrypted < 2; encrypted++) {
        struct fn_test_io t;
        fn_test_io_init(&t);
        if (encrypted) {
            fn_test_add_fixture_tf128(&t, "input_data1", "ordered_set_join/join0.csv.enc");
            fn_test_add_fixture_tf128(&t, "input_data2", "ordered_set_join/join1.csv.enc");
        } else {
            fn_test_add_fixture(&t, "input_data1", "ordered_set_join/join0.csv");
            fn_test_add_fixture(&t, "input_data2", "ordered_set_join/join1.csv");
        }
        fn_test_add_output(&t, "output_result", encrypted);
        expect_ok(&t, "builtin-ordered-set-join",
                  "{\"left_column\":0,\"right_column\":0,\"ascending\":true,\"drop\":true}",
                  "120 records");
        struct steep_buf out = STEEP_BUF_INIT, want = STEEP_BUF_INIT;
        fn_test_read_output(&t, "output_result", &out);
        read_fixture("gbdt_training/train.txt", &want);
        /* Teaclave's test compares trimmed texts; ours is byte-exact up to the final newline. */
        while (want.len && (want.data[want.len - 1] == '\n'))
            want.len--;
        assert_int_equal(out.len, want.len + 1);
        assert_memory_equal(out.data, want.data, want.len);
        assert_int_equal(out.data[out.len - 1], '\n');
        expect_error(&t, "builtin-ordered-set-join",
                     "{\"left_column\":9,\"right_column\":0,\"ascending\":true,\"drop\":true}",
                     "invalid index");
        expect_error(&t, "builtin-ordered-set-join",
                     "{\"left_column\":0,\"right_column\":0,\"ascending\":\"true\",\"drop\":true}",
                     "Cannot deserialize arguments");
        expect_error(&t, "builtin-ordered-set-join",
                     "{\"left_column\":-1,\"right_column\":0,\"ascending\":true,\"drop\":true}",
                     "Cannot deserialize arguments");
        steep_buf_free(&out);
        steep_buf_free(&want);
        fn_test_io_free(&t);
    }
}

static void join_inputs(const char *a, const char *b, const char *args, const char *want,
                        const char *output)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    fn_test_add_input_bytes(&t, "input_data1", a, strlen(a));
    fn_test_add_input_bytes(&t, "input_data2", b, strlen(b));
    fn_test_add_output(&t, "output_result", 1);
    struct steep_buf summary = STEEP_BUF_INIT, out = STEEP_BUF_INIT;
    int rc = fn_test_run(&t, "builtin-ordered-set-join", args, &summary);
    if (output) {
        if (rc != 0)
            fail_msg("%s", steep_error_get());
        assert_string_equal((const char *)summary.data, want);
        fn_test_read_output(&t, "output_result", &out);
        assert_string_equal((const char *)out.data, output);
    } else {
        assert_int_equal(rc, -1);
        if (!strstr(steep_error_get(), want))
            fail_msg("expected '%s', got '%s'", want, steep_error_get());
    }
    steep_buf_free(&summary);
    steep_buf_free(&out);
    fn_test_io_free(&t);
}

static void test_ordered_set_join_edges(void **state)
{
    const char *keep = "{\"left_column\":1,\"right_column\":0,\"ascending\":true,\"drop\":false}";
    const char *desc = "{\"left_column\":0,\"right_column\":0,\"ascending\":false,\"drop\":true}";
    join_inputs("x,a\ny,\"b,1\"\n\nz,c\n", "a,1\n\"b,1\",\"say \"\"hi\"\"\"\r\nc,3", keep,
                "3 records", "x,a,1\ny,\"b,1\",\"say \"\"hi\"\"\"\nz,c,3\n");
    join_inputs("c,1\nb,2\na,3\n", "c,x\na,y\n", desc, "2 records", "1,x\n3,y\n");
    join_inputs("a\n", "a\n", desc, "1 records", "\"\"\n");
    join_inputs("", "a,1\n", keep, "input1 is empty", NULL);
    join_inputs("a,1\n", "\n\n", keep, "input2 is empty", NULL);
    join_inputs("x,a\ny\n", "a,1\n", keep,
                "found record with 1 fields, but the previous record has 2", NULL);
}

static void test_private_join_and_compute(void **state)
{
    for (int encrypted = 0; encrypted < 2; encrypted++) {
        struct fn_test_io t;
        fn_test_io_init(&t);
        static const char *const banks[] = {"a", "b", "c"};
        static const char *const inputs[] = {"input_data0", "input_data1", "input_data2"};
        static const char *const outputs[] = {"output_data0", "output_data1", "output_data2"};
        for (int i = 0; i < 3; i++) {
            char rel[256];
            snprintf(rel, sizeof(rel), "private_join_and_compute/three_party_data/bank_%s.%s",
                     banks[i], encrypted ? "enc" : "txt");
            if (encrypted)
                fn_test_add_fixture_tf128(&t, inputs[i], rel);
            else
                fn_test_add_fixture(&t, inputs[i], rel);
            fn_test_add_output(&t, outputs[i], encrypted);
        }
        expect_ok(&t, "builtin-private-join-and-compute", "{\"num_user\":3}",
                  "3 users join the task in total.");
        struct steep_buf out = STEEP_BUF_INIT;
        for (int i = 0; i < 3; i++) {
            fn_test_read_output(&t, outputs[i], &out);
            /* HashMap order in Teaclave; first-input order here. */
            assert_true(strcmp((const char *)out.data, "c, 470000\ne, 5033000\n") == 0 ||
                        strcmp((const char *)out.data, "e, 5033000\nc, 470000\n") == 0);
        }
        expect_error(&t, "builtin-private-join-and-compute", "{\"num_user\":1}",
                     "at least two parties");
        expect_error(&t, "builtin-private-join-and-compute", "{\"num_user\":\"3\"}",
                     "Cannot deserialize arguments");
        expect_error(&t, "builtin-private-join-and-compute", "{\"num_user\":4}",
                     "Invalid input file identifier.");
        steep_buf_free(&out);
        fn_test_io_free(&t);
    }
}

static void test_password_check(void **state)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    fn_test_add_fixture(&t, "password", "password_check/password.txt");
    fn_test_add_fixture_tf128(&t, "exposed_passwords", "password_check/exposed_passwords.txt.enc");
    expect_ok(&t, "builtin-password-check", "{}", "true");
    fn_test_io_free(&t);

    fn_test_io_init(&t);
    fn_test_add_input_bytes(&t, "password", "  not-there \nx", 14);
    fn_test_add_fixture(&t, "exposed_passwords", "password_check/exposed_passwords.txt");
    expect_ok(&t, "builtin-password-check", "{}", "false");
    fn_test_io_free(&t);

    fn_test_io_init(&t);
    fn_test_add_input_bytes(&t, "password", "", 0);
    fn_test_add_fixture(&t, "exposed_passwords", "password_check/exposed_passwords.txt");
    expect_error(&t, "builtin-password-check", "{}", "password file is empty");
    fn_test_io_free(&t);
}

static void test_rsa_sign(void **state)
{
    struct steep_buf want = STEEP_BUF_INIT;
    read_fixture("rsa_sign/expected_rsasign.txt", &want);
    char *nl = strchr((char *)want.data, '\n');
    if (nl)
        *nl = 0;
    for (int encrypted = 0; encrypted < 2; encrypted++) {
        struct fn_test_io t;
        fn_test_io_init(&t);
        if (encrypted)
            fn_test_add_fixture_tf128(&t, "rsa_key", "rsa_sign/rsakey.enc");
        else
            fn_test_add_fixture(&t, "rsa_key", "rsa_sign/key.der");
        expect_ok(&t, "builtin-rsa-sign", "{\"data\":\"test data\"}", (const char *)want.data);
        expect_error(&t, "builtin-rsa-sign", "{\"data\":1}", "Cannot deserialize arguments");
        fn_test_io_free(&t);
    }
    struct fn_test_io t;
    fn_test_io_init(&t);
    fn_test_add_input_bytes(&t, "rsa_key", "garbage", 7);
    expect_error(&t, "builtin-rsa-sign", "{\"data\":\"x\"}", "InvalidEncoding");
    fn_test_io_free(&t);
    steep_buf_free(&want);
}

static void test_online_decrypt(void **state)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    expect_ok(&t, "builtin_online_decrypt",
              "{\"key\":\"aqUdgZ0lJnuz9yiPkoDxM6ZcTcVVpd4KKLqzbHD88Lg=\",\"nonce\":"
              "\"AAECAwQFBgcICQoL\",\"encrypted_data\":\"CaZd8qSMMlBp8SjSXj2I4dQIuC9KkZ5DI/"
              "ATo1sWJw==\",\"algorithm\":\"aes256gcm\"}",
              "Hello Teaclave!");
    expect_ok(&t, "builtin_online_decrypt",
              "{\"key\":\"aqUdgZ0lJnuz9yiPkoDxMw==\",\"nonce\":\"AAECAwQFBgcICQoL\","
              "\"encrypted_data\":\"OqMscYqxk1CshHQZulTrrDlJjS/v6BE/clWJyTerUw==\",\"algorithm\":"
              "\"aes128gcm\"}",
              "Hello Teaclave!");
    /* Longer nonce: only the first 12 bytes count. */
    expect_ok(&t, "builtin_online_decrypt",
              "{\"key\":\"aqUdgZ0lJnuz9yiPkoDxMw==\",\"nonce\":\"AAECAwQFBgcICQoLDA==\","
              "\"encrypted_data\":\"OqMscYqxk1CshHQZulTrrDlJjS/v6BE/clWJyTerUw==\",\"algorithm\":"
              "\"aes128gcm\"}",
              "Hello Teaclave!");
    expect_error(
        &t, "builtin_online_decrypt",
        "{\"key\":\"aqUdgZ0lJnuz9yiPkoDxMw==\",\"nonce\":\"AAECAwQFBgcICQoL\","
        "\"encrypted_data\":\"OqMscYqxk1CshHQZulTrrDlJjS/v6BE/clWJyTerUw==\",\"algorithm\":"
        "\"aes256gcm\"}",
        "decryption error");
    expect_error(
        &t, "builtin_online_decrypt",
        "{\"key\":\"aqUdgZ0lJnuz9yiPkoDxMw==\",\"nonce\":\"AAECAwQFBgcICQoL\","
        "\"encrypted_data\":\"PqMscYqxk1CshHQZulTrrDlJjS/v6BE/clWJyTerUw==\",\"algorithm\":"
        "\"aes128gcm\"}",
        "decryption error");
    expect_error(&t, "builtin_online_decrypt",
                 "{\"key\":\"aqUdgZ0lJnuz9yiPkoDxMw==\",\"nonce\":\"AAECAwQFBgcICQoL\","
                 "\"encrypted_data\":\"OqMs\",\"algorithm\":\"des\"}",
                 "Invalid algorithm");
    expect_error(&t, "builtin_online_decrypt",
                 "{\"key\":\"aqUdgZ0lJnuz9yiPkoDxMw==\",\"nonce\":\"AAEC\","
                 "\"encrypted_data\":\"OqMs\",\"algorithm\":\"aes128gcm\"}",
                 "nonce must be at least 12 bytes");
    expect_error(&t, "builtin_online_decrypt",
                 "{\"key\":\"a*\",\"nonce\":\"AAEC\",\"encrypted_data\":\"OqMs\",\"algorithm\":"
                 "\"aes128gcm\"}",
                 "Invalid byte 42, offset 1.");
    expect_error(&t, "builtin_online_decrypt", "{\"key\":\"\",\"nonce\":\"\"}",
                 "Cannot deserialize arguments");
    fn_test_io_free(&t);
}

static void check_model_function(const char *function, const char *dir, const char *data,
                                 const char *summary, int encrypted)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    char model[256], input[256], expected[256];
    snprintf(model, sizeof(model), "%s/model.txt", dir);
    snprintf(input, sizeof(input), "%s/%s", dir, data);
    snprintf(expected, sizeof(expected), "%s/expected_result.txt", dir);
    fn_test_add_fixture(&t, "model_file", model);
    fn_test_add_fixture(&t, "data_file", input);
    fn_test_add_output(&t, "result_file", encrypted);
    expect_ok(&t, function, "{}", summary);
    struct steep_buf out = STEEP_BUF_INIT, want = STEEP_BUF_INIT;
    fn_test_read_output(&t, "result_file", &out);
    read_fixture(expected, &want);
    assert_int_equal(out.len, want.len);
    assert_memory_equal(out.data, want.data, want.len);
    steep_buf_free(&out);
    steep_buf_free(&want);
    fn_test_io_free(&t);
}

static void model_error(const char *function, const char *model_rel, const char *data,
                        const char *want)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    fn_test_add_fixture(&t, "model_file", model_rel);
    fn_test_add_input_bytes(&t, "data_file", data, strlen(data));
    fn_test_add_output(&t, "result_file", 1);
    expect_error(&t, function, "{}", want);
    fn_test_io_free(&t);
}

static void test_predict_functions(void **state)
{
    check_model_function("builtin-logistic-regression-predict", "logistic_regression_prediction",
                         "predict_input.txt", "Predicted 5 lines of data.", 0);
    check_model_function("builtin-logistic-regression-predict", "logistic_regression_prediction",
                         "predict_input.txt", "Predicted 5 lines of data.", 1);
    check_model_function("builtin-gbdt-predict", "gbdt_prediction", "test_data.txt",
                         "Predict result has 30 lines of data.", 0);
    check_model_function("builtin-gbdt-predict", "gbdt_prediction", "test_data.txt",
                         "Predict result has 30 lines of data.", 1);
    const char *lr = "logistic_regression_prediction/model.txt";
    model_error("builtin-logistic-regression-predict", lr, "1.0,2.0\n",
                "Data format error: column len = 2, expected = 30");
    model_error("builtin-logistic-regression-predict", lr, "\n", "Empty line");
    model_error("builtin-logistic-regression-predict", lr, "1.0,x\n", "invalid float literal");
    model_error("builtin-logistic-regression-predict", "gbdt_prediction/test_data.txt", "1\n",
                "line 1");
    const char *gbdt = "gbdt_prediction/model.txt";
    model_error("builtin-gbdt-predict", gbdt, "1.0, ,2.0,3.0\n", "Empty feature");
    model_error("builtin-gbdt-predict", gbdt, " \n", "Empty line");
    model_error("builtin-gbdt-predict", gbdt, "0x10,1,1,1\n", "invalid float literal");
    model_error("builtin-gbdt-predict", gbdt, "1.0\n", "sample doesn't have the feature");
    model_error("builtin-gbdt-predict", lr, "1.0\n", "missing conf or trees");
}

static void test_gbdt_train(void **state)
{
    const char *args = "{\"feature_size\":4,\"max_depth\":4,\"iterations\":100,\"shrinkage\":0.1,"
                       "\"feature_sample_ratio\":1.0,\"data_sample_ratio\":1.0,\"min_leaf_size\":1,"
                       "\"loss\":\"LAD\",\"training_optimization_level\":2}";
    for (int encrypted = 0; encrypted < 2; encrypted++) {
        struct fn_test_io t;
        fn_test_io_init(&t);
        if (encrypted)
            fn_test_add_fixture_tf128(&t, "training_data", "gbdt_training/train.enc");
        else
            fn_test_add_fixture(&t, "training_data", "gbdt_training/train.txt");
        fn_test_add_output(&t, "trained_model", encrypted);
        expect_ok(&t, "builtin-gbdt-train", args, "Trained 120 lines of data.");
        struct steep_buf out = STEEP_BUF_INIT, want = STEEP_BUF_INIT;
        fn_test_read_output(&t, "trained_model", &out);
        read_fixture("gbdt_training/expected_model.txt", &want);
        assert_int_equal(out.len, want.len);
        assert_memory_equal(out.data, want.data, want.len);
        steep_buf_free(&out);
        steep_buf_free(&want);
        fn_test_io_free(&t);
    }
    /* Random row and feature subsets (ratios below 1.0): a model that
     * gbdt-predict accepts. */
    {
        struct fn_test_io t;
        fn_test_io_init(&t);
        fn_test_add_fixture(&t, "training_data", "gbdt_training/train.txt");
        fn_test_add_output(&t, "trained_model", 0);
        expect_ok(&t, "builtin-gbdt-train",
                  "{\"feature_size\":4,\"max_depth\":3,\"iterations\":10,\"shrinkage\":0.1,"
                  "\"feature_sample_ratio\":0.5,\"data_sample_ratio\":0.5,\"min_leaf_size\":1,"
                  "\"loss\":\"SquaredError\",\"training_optimization_level\":2}",
                  "Trained 120 lines of data.");
        struct fn_test_io p;
        fn_test_io_init(&p);
        p.inputs[0] = (struct fn_test_file){.name = "model_file"};
        snprintf(p.inputs[0].path, sizeof(p.inputs[0].path), "%s", t.outputs[0].path);
        p.inputs[0].crypto.scheme = STEEP_SCHEME_RAW;
        p.input_count = 1;
        fn_test_add_fixture(&p, "data_file", "gbdt_prediction/test_data.txt");
        fn_test_add_output(&p, "result_file", 0);
        expect_ok(&p, "builtin-gbdt-predict", "{}", "Predict result has 30 lines of data.");
        fn_test_io_free(&p);
        fn_test_io_free(&t);
    }
    /* Argument and input errors. */
    struct fn_test_io t;
    fn_test_io_init(&t);
    fn_test_add_fixture(&t, "training_data", "gbdt_training/train.txt");
    expect_error(&t, "builtin-gbdt-train",
                 "{\"feature_size\":4,\"max_depth\":4,\"iterations\":100,\"shrinkage\":0.1,"
                 "\"feature_sample_ratio\":1.0,\"data_sample_ratio\":1.0,\"min_leaf_size\":1,"
                 "\"loss\":\"LAD\"}",
                 "Cannot deserialize arguments");
    expect_error(&t, "builtin-gbdt-train",
                 "{\"feature_size\":3,\"max_depth\":4,\"iterations\":100,\"shrinkage\":0.1,"
                 "\"feature_sample_ratio\":1.0,\"data_sample_ratio\":1.0,\"min_leaf_size\":1,"
                 "\"loss\":\"LAD\",\"training_optimization_level\":2}",
                 "Data format error: column len = 5, expected = 4");
    fn_test_io_free(&t);
}

static void test_payloads(void **state)
{
    struct fn_test_io t;
    fn_test_io_init(&t);
    expect_ok_in_process(&t, "test-sleep", "{\"ms\":5}", "slept 5 ms");
    fn_test_add_output(&t, "output", 1);
    expect_ok_in_process(&t, "test-write-big", "{\"bytes\":100000}", "wrote 100000 bytes");
    struct steep_buf out = STEEP_BUF_INIT;
    fn_test_read_output(&t, "output", &out);
    assert_int_equal(out.len, 100000);
    char path[4096];
    test_fixture_path(path, sizeof(path), "password_check/password.txt");
    char args[4200], want[4200];
    snprintf(args, sizeof(args), "{\"path\":\"%s\"}", path);
    snprintf(want, sizeof(want), "opened %s, read 9 bytes", path);
    expect_ok_in_process(&t, "test-open-file", args, want);
    expect_ok_in_process(&t, "test-open-file", "{\"path\":\"/nonexistent/x\"}",
                         "open failed: No such file or directory");

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(listener, 1), 0);
    assert_int_equal(getsockname(listener, (struct sockaddr *)&addr, &len), 0);
    snprintf(args, sizeof(args), "{\"port\":%u}", ntohs(addr.sin_port));
    snprintf(want, sizeof(want), "connected to 127.0.0.1:%u", ntohs(addr.sin_port));
    expect_ok_in_process(&t, "test-network", args, want);
    close(listener);
    expect_ok_in_process(&t, "test-alloc", "{\"max_mb\":32}", "allocated 32 MiB");
    expect_ok_in_process(&t, "test-fork", "{\"count\":2}", "forked 2 children");
    assert_non_null(steep_builtin_find("test-crash"));
    assert_non_null(steep_builtin_find("test-loop"));
    steep_buf_free(&out);
    fn_test_io_free(&t);
}

int main(void)
{
    test_temp_dir_init("steep-functions");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_and_lookup),
        cmocka_unit_test(test_ordered_set_intersect),
        cmocka_unit_test(test_ordered_set_intersect_edges),
        cmocka_unit_test(test_ordered_set_join),
        cmocka_unit_test(test_ordered_set_join_edges),
        cmocka_unit_test(test_private_join_and_compute),
        cmocka_unit_test(test_password_check),
        cmocka_unit_test(test_rsa_sign),
        cmocka_unit_test(test_online_decrypt),
        cmocka_unit_test(test_predict_functions),
        cmocka_unit_test(test_gbdt_train),
        cmocka_unit_test(test_payloads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_temp_dir_cleanup();
    return rc;
}
