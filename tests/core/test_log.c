/*
 * steep_log against log forging (issue 14, item 16): whatever the fields
 * hold, one call writes exactly one line, control characters (C0, DEL, C1
 * as UTF-8) come out as visible escapes, a backslash is doubled so escapes
 * cannot be faked, ordinary UTF-8 passes unchanged, and an over-long
 * message is cut without tearing an escape. stderr goes to a file here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"

/* Runs steep_log(INFO, "%s", field) with stderr captured; returns the bytes
 * written (caller frees). */
static char *logged(const char *field)
{
    char path[] = "/tmp/steep-log-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    log_info("user '%s' says hi", field);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    close(fd);
    struct steep_buf buf = STEEP_BUF_INIT;
    assert_int_equal(steep_read_file(path, 1 << 20, &buf), 0);
    assert_int_equal(steep_buf_terminate(&buf), 0);
    unlink(path);
    return (char *)buf.data;
}

/* The message part of the single line (after "steep-test: "), checking the
 * line is exactly one. */
static const char *message_of(const char *line)
{
    const char *newline = strchr(line, '\n');
    assert_non_null(newline);
    assert_int_equal(newline[1], '\0');
    const char *message = strstr(line, "test-log: ");
    assert_non_null(message);
    return message + strlen("test-log: ");
}

static void expect_message(const char *field, const char *expected)
{
    char *line = logged(field);
    const char *message = message_of(line);
    size_t len = strlen(message) - 1; /* without the newline */
    if (len != strlen(expected) || memcmp(message, expected, len) != 0)
        fail_msg("logged %s, expected %s", message, expected);
    free(line);
}

static void test_forged_line(void **state)
{
    (void)state;
    expect_message("mallory\n2026-12-01T00:00:00.000Z INFO  steep-authentication: user 'admin' "
                   "changed their password",
                   "user 'mallory\\n2026-12-01T00:00:00.000Z INFO  steep-authentication: user "
                   "'admin' changed their password' says hi");
    expect_message("a\rb\tc", "user 'a\\rb\\tc' says hi");
}

static void test_control_characters(void **state)
{
    (void)state;
    expect_message("\x1b[2J\x07\x7f\x01", "user '\\x1b[2J\\x07\\x7f\\x01' says hi");
    /* C1 controls as UTF-8 (U+009B is CSI), while other UTF-8 passes */
    expect_message("\xc2\x9b"
                   "31m \xc2\x85 \xc3\xa9t\xc3\xa9 \xc2\xa0",
                   "user '\\xc2\\x9b31m \\xc2\\x85 \xc3\xa9t\xc3\xa9 \xc2\xa0' says hi");
    /* a typed "\n" cannot pass for an escaped newline */
    expect_message("x\\ny", "user 'x\\\\ny' says hi");
}

static void test_long_message_is_one_line(void **state)
{
    (void)state;
    char field[3000];
    memset(field, '\n', sizeof field - 1);
    field[sizeof field - 1] = '\0';
    char *line = logged(field);
    const char *message = message_of(line);
    assert_true(strlen(line) <= 4096);
    assert_true(strlen(message) > 1000); /* cut, not dropped */
    /* only whole escapes before the newline */
    const char *body = message + strlen("user '");
    size_t body_len = strlen(body) - 1;
    assert_int_equal(body_len % 2, 0);
    for (size_t i = 0; i < body_len; i += 2)
        assert_true(body[i] == '\\' && body[i + 1] == 'n');
    free(line);
}

int main(void)
{
    steep_log_init("test-log");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_line),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_long_message_is_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
