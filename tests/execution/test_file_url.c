/*
 * The file agent's URL parsers (executors/file_url.h) on hostile input:
 * file:// paths with bad or cut percent escapes, %00, queries and
 * fragments, a scheme without "//" (which used to be skipped blindly and
 * read past the URL's end), fusion paths that try to escape, and data:
 * URLs under the OpenSSL base64 rules they had before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "file_url.h"

static const char *file_path(const char *url)
{
    static char path[64];
    return steep_file_url_path(url, path, sizeof path) == 0 ? path : NULL;
}

static void test_file_paths(void **state)
{
    (void)state;
    assert_string_equal(file_path("file:///tmp/a"), "/tmp/a");
    assert_string_equal(file_path("FILE:///tmp/a"), "/tmp/a");
    assert_string_equal(file_path("file://localhost/tmp/a"), "/tmp/a");
    assert_string_equal(file_path("file:///tmp/a%20b%2Fc"), "/tmp/a b/c");
    assert_string_equal(file_path("file:///tmp/a?x=%zz#y"), "/tmp/a");
    assert_string_equal(file_path("file:///tmp/a%3Fb"), "/tmp/a?b");
    assert_string_equal(file_path("file:///"), "/");
}

static void test_file_paths_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "file:",            /* the scheme alone: nothing after it may be read */
        "file:/",           /* one slash */
        "file:/tmp/a",      /* no authority */
        "file://",          /* no path */
        "file://host/tmp",  /* a remote host */
        "file://localhost", /* no path */
        "http:///tmp/a",    /* not file */
        "file:///tmp/%",    /* cut escapes */
        "file:///tmp/%4",
        "file:///tmp/%4?1", /* the escape may not reach into the query */
        "file:///tmp/%zz",  /* not hex */
        "file:///tmp/%00x", /* NUL */
        "file:///tmp/0123456789012345678901234567890123456789012345678901234567890123",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (file_path(bad[i]) != NULL)
            fail_msg("accepted %s", bad[i]);
    }
    assert_int_equal(steep_file_url_path("file:///a", NULL, 0), -1);
    char one[1];
    assert_int_equal(steep_file_url_path("file:///a", one, sizeof one), -1);
}

static void test_fusion_paths(void **state)
{
    (void)state;
    char path[64];
    assert_int_equal(
        steep_fusion_url_path("fusion:///TEACLAVE_FUSION_BASE/a/b", "/base", path, sizeof path), 0);
    assert_string_equal(path, "/base/a/b");
    const char *bad[] = {
        "fusion:///TEACLAVE_FUSION_BASE/",
        "fusion:///TEACLAVE_FUSION_BASE//etc",
        "fusion:///TEACLAVE_FUSION_BASE/../x",
        "fusion:///TEACLAVE_FUSION_BASE/a/../../x",
        "fusion:///TEACLAVE_FUSION_BASE/./x",
        "fusion:///TEACLAVE_FUSION_BASE/a//b",
        "fusion:///TEACLAVE_FUSION_BASE/%2e%2e/x",
        "fusion:///TEACLAVE_FUSION_BASE/a?b",
        "fusion:///OTHER/a",
        "fusion:",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (steep_fusion_url_path(bad[i], "/base", path, sizeof path) == 0)
            fail_msg("accepted %s", bad[i]);
    }
    assert_int_equal(
        steep_fusion_url_path("fusion:///TEACLAVE_FUSION_BASE/a", NULL, path, sizeof path), -1);
}

static int data(const char *url, struct steep_buf *out)
{
    steep_buf_reset(out);
    return steep_data_url_decode(url, out);
}

static void test_data_urls(void **state)
{
    (void)state;
    struct steep_buf out = STEEP_BUF_INIT;
    assert_int_equal(data("data:text/plain;base64,aGVsbG8=", &out), 0);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "hello", 5);
    assert_int_equal(data("data:text/plain;base64,", &out), 0);
    assert_int_equal(out.len, 0);
    /* as OpenSSL's decoder had it: whitespace and line breaks pass */
    assert_int_equal(data("data:text/plain;base64,aGVs\r\nbG8 =", &out), 0);
    assert_int_equal(out.len, 5);
    assert_int_equal(data("data:text/plain;base64,aGVsbG9=", &out), 0); /* loose last bits */
    /* and padding is required, nothing may follow it */
    assert_int_equal(data("data:text/plain;base64,aGVsbG8", &out), -1);
    assert_non_null(strstr(steep_error_get(), "invalid base64"));
    assert_int_equal(data("data:text/plain;base64,aGk=aGk=", &out), -1);
    assert_int_equal(data("data:text/plain;base64,aG-k", &out), -1);
    assert_string_equal(steep_error_get(), "invalid base64: Invalid byte 45, offset 2.");
    assert_int_equal(data("data:text/plain,hello", &out), -1);
    assert_int_equal(data("data:", &out), -1);
    steep_buf_free(&out);
}

static void test_redact(void **state)
{
    (void)state;
    char out[64];
    steep_url_redact("https://user:pw@host/a?sig=1#f", out, sizeof out);
    assert_string_equal(out, "https://host/a");
    steep_url_redact("https://host/a@b?sig=1", out, sizeof out);
    assert_string_equal(out, "https://host/a@b");
    steep_url_redact("no scheme?q", out, sizeof out);
    assert_string_equal(out, "no scheme");
    steep_url_redact("data:text/plain;base64,c2VjcmV0IGRhdGEgaGVyZQ==", out, sizeof out);
    assert_string_equal(out, "data:text/plain;base64,c...");
    steep_url_redact("", out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_paths),   cmocka_unit_test(test_file_paths_refused),
        cmocka_unit_test(test_fusion_paths), cmocka_unit_test(test_data_urls),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
