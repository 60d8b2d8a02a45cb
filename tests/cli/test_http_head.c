/*
 * The file server's request-head parser (cli/http_head.c) on what it used
 * to get wrong with sscanf/strstr/strtoll: signs, spaces and junk in
 * Content-Length, two lengths (request smuggling), bare CR/LF and folded
 * lines, whitespace before a colon, over-long methods and targets, and
 * paths that percent-decode to an escape from the served directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "http_head.h"

static struct cli_http_head head;

static int parse(const char *text)
{
    return cli_http_head_parse(text, strlen(text), &head);
}

static void test_good_heads(void **state)
{
    (void)state;
    assert_int_equal(parse("GET /a/b.txt HTTP/1.1\r\nHost: x\r\nAccept: */*"), 0);
    assert_string_equal(head.method, "GET");
    assert_string_equal(head.target, "/a/b.txt");
    assert_true(head.content_length == -1);
    assert_false(head.close_after);
    assert_false(head.transfer_encoding);

    assert_int_equal(parse("PUT /x HTTP/1.0\r\ncontent-length:  12 \r\nCONNECTION: keep-alive, "
                           "Close\r\nX-Empty:"),
                     0);
    assert_string_equal(head.method, "PUT");
    assert_true(head.content_length == 12);
    assert_true(head.close_after);

    assert_int_equal(parse("PUT /x HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0"), 0);
    assert_true(head.content_length == 0);
    assert_int_equal(parse("PUT /x HTTP/1.1\r\nContent-Length: 0012"), 0);
    assert_true(head.content_length == 12);
    assert_int_equal(parse("GET /"), 0); /* no version: HTTP/0.9 style, as before */
    assert_int_equal(parse("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked"), 0);
    assert_true(head.transfer_encoding);
    assert_int_equal(parse("GET /x HTTP/1.1\r\nConnection: closed"), 0);
    assert_false(head.close_after);
}

static void test_bad_heads(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        " GET / HTTP/1.1",
        "GET  / HTTP/1.1",
        "GET / HTTP/1.1 ",
        "GET / HTTP/2.0",
        "GET / HTTP/1.1x",
        "GET\t/ HTTP/1.1",
        "GET /\x7f HTTP/1.1",
        "GETTTTTTTTTTTTTTTTTTTTTTTTTTTTT / HTTP/1.1",
        "GET / HTTP/1.1\nHost: x",
        "GET / HTTP/1.1\rHost: x",
        "GET / HTTP/1.1\r\nHost: x\r",
        "GET / HTTP/1.1\r\nHost x",
        "GET / HTTP/1.1\r\nHost : x",
        "GET / HTTP/1.1\r\n: x",
        "GET / HTTP/1.1\r\n folded: x",
        "GET / HTTP/1.1\r\nHost: x\r\n\tcontinued",
        "GET / HTTP/1.1\r\nX: a\001b",
        "PUT / HTTP/1.1\r\nContent-Length: -5",
        "PUT / HTTP/1.1\r\nContent-Length: +5",
        "PUT / HTTP/1.1\r\nContent-Length: 5x",
        "PUT / HTTP/1.1\r\nContent-Length: 5 5",
        "PUT / HTTP/1.1\r\nContent-Length: 0x10",
        "PUT / HTTP/1.1\r\nContent-Length:",
        "PUT / HTTP/1.1\r\nContent-Length: 9223372036854775808",
        "PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i]) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(parse("PUT / HTTP/1.1\r\nContent-Length: 9223372036854775807"), 0);

    /* an embedded NUL does not end the head early */
    assert_int_equal(cli_http_head_parse("GET / HTTP/1.1\r\nA: \0b", 21, &head), -1);

    char target[5000] = "GET /";
    memset(target + 5, 'a', 4200);
    target[4205] = '\0';
    assert_int_equal(parse(target), -1);
}

static void test_paths(void **state)
{
    (void)state;
    char path[128];
    assert_int_equal(cli_http_path_resolve("/srv", "/a%20b/c?x=..#..", path, sizeof path), 0);
    assert_string_equal(path, "/srv/a b/c");
    assert_int_equal(cli_http_path_resolve("/srv", "/a..b/...", path, sizeof path), 0);
    assert_string_equal(path, "/srv/a..b/...");
    const char *bad[] = {
        "a",     "",       "?/x",    "/..", "/a/../b", "/%2e%2e/x", "/a/%2E%2E",
        "/a\\b", "/a%5cb", "/a%00b", "/a%", "/a%2",    "/a%2g",     "%2fa/../b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (cli_http_path_resolve("/srv", bad[i], path, sizeof path) == 0)
            fail_msg("accepted \"%s\" as %s", bad[i], path);
    }
    assert_int_equal(cli_http_path_resolve("/srv", "/0123456789", path, 12), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_heads),
        cmocka_unit_test(test_bad_heads),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
