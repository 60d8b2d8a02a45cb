/*
 * [log] format = "json" (issue 18, item 5): each call writes one line that
 * parses as one JSON object with the stable fields time, level, service and
 * message, plus request_id and task_id when the thread has them (and not
 * otherwise); quotes, backslashes, controls, C1 characters and bytes that
 * are not UTF-8 cannot break the object; a message too long is cut and the
 * line still parses. Parsed with jansson, an independent JSON reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"

/* Logs message at warn with stderr captured; returns the one line, parsed. */
static json_t *logged(const char *message)
{
    char path[] = "/tmp/steep-log-json-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_int_equal(dup2(fd, 2), 2);
    log_warn("%s", message);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    close(fd);
    struct steep_buf buf = STEEP_BUF_INIT;
    assert_int_equal(steep_read_file(path, 1 << 20, &buf), 0);
    assert_int_equal(steep_buf_terminate(&buf), 0);
    unlink(path);
    const char *text = (const char *)buf.data;
    const char *newline = strchr(text, '\n');
    assert_non_null(newline);
    assert_int_equal(newline[1], '\0'); /* exactly one line */
    assert_true(buf.len <= 4096);
    json_error_t error;
    json_t *line = json_loadb(text, buf.len - 1, 0, &error);
    if (!line)
        fail_msg("not JSON (%s): %s", error.text, text);
    assert_true(json_is_object(line));
    free(buf.data);
    return line;
}

static const char *field(const json_t *line, const char *key)
{
    return json_string_value(json_object_get(line, key));
}

static void test_fields(void **state)
{
    (void)state;
    json_t *line = logged("hello");
    assert_string_equal(field(line, "level"), "warn");
    assert_string_equal(field(line, "service"), "test-json");
    assert_string_equal(field(line, "message"), "hello");
    const char *time = field(line, "time");
    assert_non_null(time);
    assert_int_equal(strlen(time), strlen("2026-12-02T01:02:03.456Z"));
    assert_int_equal(time[10], 'T');
    assert_int_equal(time[23], 'Z');
    assert_null(json_object_get(line, "request_id"));
    assert_null(json_object_get(line, "task_id"));
    assert_int_equal(json_object_size(line), 4);
    json_decref(line);

    steep_log_set_request_id("abc-1");
    steep_log_set_task_id("task-00000000-0000-0000-0000-000000000001");
    line = logged("with ids");
    assert_string_equal(field(line, "request_id"), "abc-1");
    assert_string_equal(field(line, "task_id"), "task-00000000-0000-0000-0000-000000000001");
    json_decref(line);
    steep_log_set_request_id(NULL);
    steep_log_set_task_id("");
    line = logged("cleared");
    assert_null(json_object_get(line, "request_id"));
    assert_null(json_object_get(line, "task_id"));
    json_decref(line);
}

static void test_hostile_messages(void **state)
{
    (void)state;
    const char *hostile = "\"},\"level\":\"error\" \\ \n\r\t\x01\x7f \xc2\x9b \xff\xfe caf\xc3\xa9";
    json_t *line = logged(hostile);
    assert_string_equal(field(line, "level"), "warn");
    /* everything but the bytes that are not UTF-8 comes back as it was */
    assert_string_equal(
        field(line, "message"),
        "\"},\"level\":\"error\" \\ \n\r\t\x01\x7f \xc2\x9b \xef\xbf\xbd\xef\xbf\xbd "
        "caf\xc3\xa9");
    json_decref(line);
    steep_log_set_request_id("a\"b");
    line = logged("id with a quote");
    assert_string_equal(field(line, "request_id"), "a\"b");
    json_decref(line);
    steep_log_set_request_id(NULL);
}

static void test_long_message(void **state)
{
    (void)state;
    char message[3000];
    memset(message, '\x01', sizeof message - 1); /* each becomes \u0001 */
    message[sizeof message - 1] = '\0';
    steep_log_set_request_id("long");
    json_t *line = logged(message);
    const char *kept = field(line, "message");
    assert_true(strlen(kept) > 400);
    for (const char *p = kept; *p; p++)
        assert_int_equal(*p, '\x01');
    assert_string_equal(field(line, "request_id"), "long"); /* the ids survive the cut */
    json_decref(line);
    steep_log_set_request_id(NULL);
}

int main(void)
{
    steep_log_init("test-json");
    steep_log_set_format(STEEP_LOG_JSON);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_hostile_messages),
        cmocka_unit_test(test_long_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
