/*
 * The text readers of lib/core/text.h at their edges: odd and non-hex
 * input, percent escapes cut short, overlong/surrogate/truncated UTF-8,
 * base64 under each caller's policy (strict, Rust crate, data: URL), and
 * decimal overflow, signs and leading zeros. Each failure also checks where
 * the cursor was left, since callers build their messages from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "core/error.h"
#include "core/text.h"

static struct steep_cursor text_cursor(const char *s)
{
    return steep_cursor_make(s, strlen(s));
}

static void test_hex_digit(void **state)
{
    (void)state;
    assert_int_equal(steep_hex_digit('0'), 0);
    assert_int_equal(steep_hex_digit('9'), 9);
    assert_int_equal(steep_hex_digit('a'), 10);
    assert_int_equal(steep_hex_digit('F'), 15);
    assert_int_equal(steep_hex_digit('g'), -1);
    assert_int_equal(steep_hex_digit('G'), -1);
    assert_int_equal(steep_hex_digit('/'), -1);
    assert_int_equal(steep_hex_digit(':'), -1);
    assert_int_equal(steep_hex_digit('@'), -1);
    assert_int_equal(steep_hex_digit(0), -1);
    assert_int_equal(steep_hex_digit(0xe9), -1);
}

static void test_hex_exact(void **state)
{
    (void)state;
    uint8_t out[4];
    struct steep_cursor c = text_cursor("00fFa9Zz");
    assert_int_equal(steep_cursor_read_hex(&c, out, 3), 0);
    assert_int_equal(c.pos, 6);
    assert_memory_equal(out, "\x00\xff\xa9", 3);
    /* "Zz" is not hex: fails at the 'Z' */
    assert_int_equal(steep_cursor_read_hex(&c, out, 1), -1);
    assert_int_equal(c.pos, 6);
    assert_non_null(strstr(steep_error_get(), "offset 6"));

    /* second digit bad: the cursor names it, not its pair */
    c = text_cursor("a-");
    assert_int_equal(steep_cursor_read_hex(&c, out, 1), -1);
    assert_int_equal(c.pos, 1);

    /* fewer digits than asked: nothing is read */
    c = text_cursor("abc");
    assert_int_equal(steep_cursor_read_hex(&c, out, 2), -1);
    assert_int_equal(c.pos, 0);
    assert_non_null(strstr(steep_error_get(), "expected 2 hex digits"));

    /* the NUL-terminated wrapper checks the exact length */
    assert_int_equal(steep_hex_decode("0a0b", out, 2), 0);
    assert_memory_equal(out, "\x0a\x0b", 2);
    assert_int_equal(steep_hex_decode("0a0b0c", out, 2), -1);
    assert_int_equal(steep_hex_decode("0a0", out, 2), -1);
    assert_int_equal(steep_hex_decode("0a 0", out, 2), -1);
}

static void test_hex_all(void **state)
{
    (void)state;
    struct steep_buf out = STEEP_BUF_INIT;
    struct steep_cursor c = text_cursor("");
    assert_int_equal(steep_cursor_read_hex_all(&c, &out), 0);
    assert_int_equal(out.len, 0);

    c = text_cursor("DEADbeef");
    assert_int_equal(steep_cursor_read_hex_all(&c, &out), 0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "\xde\xad\xbe\xef", 4);
    assert_int_equal(steep_cursor_remaining(&c), 0);

    /* odd length fails before any digit is judged */
    c = text_cursor("abc");
    assert_int_equal(steep_cursor_read_hex_all(&c, &out), -1);
    assert_string_equal(steep_error_get(), "odd number of hex digits");
    assert_int_equal(out.len, 4);

    /* a bad digit appends nothing */
    c = steep_cursor_make("00\x00"
                          "1",
                          4);
    assert_int_equal(steep_cursor_read_hex_all(&c, &out), -1);
    assert_int_equal(c.pos, 2);
    assert_int_equal(out.len, 4);
    steep_buf_free(&out);
}

static int percent_all(const char *in, bool lenient, char *out, size_t *pos)
{
    struct steep_cursor c = text_cursor(in);
    size_t n = 0;
    while (steep_cursor_remaining(&c) > 0) {
        uint8_t byte;
        if (steep_cursor_read_percent(&c, lenient, &byte) < 0) {
            *pos = c.pos;
            return -1;
        }
        out[n++] = (char)byte;
    }
    out[n] = 0;
    *pos = c.pos;
    return (int)n;
}

static void test_percent(void **state)
{
    (void)state;
    char out[64];
    size_t pos;
    assert_int_equal(percent_all("a%20b%2fc%2F", false, out, &pos), 6);
    assert_string_equal(out, "a b/c/");
    assert_int_equal(percent_all("%00", false, out, &pos), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(percent_all("%ff%FF", false, out, &pos), 2);
    assert_memory_equal(out, "\xff\xff", 2);

    /* bad escapes: strict fails at the '%' */
    assert_int_equal(percent_all("ab%zz", false, out, &pos), -1);
    assert_int_equal(pos, 2);
    assert_int_equal(percent_all("ab%4", false, out, &pos), -1);
    assert_int_equal(pos, 2);
    assert_int_equal(percent_all("%", false, out, &pos), -1);
    assert_int_equal(pos, 0);
    assert_int_equal(percent_all("%g0", false, out, &pos), -1);
    assert_int_equal(percent_all("%0g", false, out, &pos), -1);
    assert_int_equal(percent_all("%%41", false, out, &pos), -1);

    /* lenient (grpc-message) keeps them literally */
    assert_int_equal(percent_all("ab%zz%4", true, out, &pos), 7);
    assert_string_equal(out, "ab%zz%4");
    assert_int_equal(percent_all("%%41", true, out, &pos), 2);
    assert_string_equal(out, "%A");

    /* an escape cut by the cursor's end is not read past it */
    struct steep_cursor c = steep_cursor_make("%41", 2);
    uint8_t byte;
    assert_int_equal(steep_cursor_read_percent(&c, false, &byte), -1);
    assert_int_equal(steep_cursor_read_percent(&c, true, &byte), 0);
    assert_int_equal(byte, '%');
    struct steep_cursor empty = steep_cursor_make("", 0);
    assert_int_equal(steep_cursor_read_percent(&empty, true, &byte), -1);
}

static int utf8_check(const char *s, size_t len, size_t *pos)
{
    struct steep_cursor c = steep_cursor_make(s, len);
    int rc = steep_cursor_check_utf8(&c);
    *pos = c.pos;
    return rc;
}

static void test_utf8_valid(void **state)
{
    (void)state;
    struct {
        const char *text;
        uint32_t code;
    } good[] = {
        {"\x00", 0},
        {"A", 'A'},
        {"\x7f", 0x7f},
        {"\xc2\x80", 0x80},
        {"\xdf\xbf", 0x7ff},
        {"\xe0\xa0\x80", 0x800},
        {"\xed\x9f\xbf", 0xd7ff},
        {"\xee\x80\x80", 0xe000},
        {"\xef\xbf\xbf", 0xffff},
        {"\xf0\x90\x80\x80", 0x10000},
        {"\xf4\x8f\xbf\xbf", 0x10ffff},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t len = good[i].code == 0 ? 1 : strlen(good[i].text);
        struct steep_cursor c = steep_cursor_make(good[i].text, len);
        uint32_t code = 0xffffffff;
        assert_int_equal(steep_cursor_read_utf8(&c, &code), 0);
        assert_int_equal(code, good[i].code);
        assert_int_equal(c.pos, len);
        /* and it encodes back to the same bytes */
        struct steep_buf b = STEEP_BUF_INIT;
        assert_int_equal(steep_buf_append_utf8(&b, code), 0);
        assert_int_equal(b.len, len);
        assert_memory_equal(b.data, good[i].text, len);
        steep_buf_free(&b);
    }
    struct steep_buf b = STEEP_BUF_INIT;
    assert_int_equal(steep_buf_append_utf8(&b, 0x110000), -1);
    steep_buf_free(&b);
}

static void test_utf8_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "\x80",                 /* lone continuation */
        "\xbf",                 /* lone continuation */
        "\xc0\x80",             /* overlong NUL */
        "\xc1\xbf",             /* overlong 0x7f */
        "\xe0\x80\x80",         /* overlong 3-byte */
        "\xe0\x9f\xbf",         /* overlong 0x7ff */
        "\xf0\x80\x80\x80",     /* overlong 4-byte */
        "\xf0\x8f\xbf\xbf",     /* overlong 0xffff */
        "\xed\xa0\x80",         /* surrogate D800 */
        "\xed\xbf\xbf",         /* surrogate DFFF */
        "\xf4\x90\x80\x80",     /* U+110000 */
        "\xf5\x80\x80\x80",     /* lead past F4 */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "\xfe",
        "\xff",
        "\xc2",         /* truncated */
        "\xe2\x82",     /* truncated */
        "\xf0\x9f\x98", /* truncated */
        "\xc2\x41",     /* continuation missing */
        "\xe2\x28\xa1", /* continuation missing */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct steep_cursor c = text_cursor(bad[i]);
        uint32_t code;
        assert_int_equal(steep_cursor_read_utf8(&c, &code), -1);
        assert_int_equal(c.pos, 0);
    }
    /* check_utf8 stops at the first bad sequence */
    size_t pos;
    assert_int_equal(utf8_check("ab\xc3\xa9", 4, &pos), 0);
    assert_int_equal(pos, 4);
    assert_int_equal(utf8_check("ab\xc3\xa9x\xed\xa0\x80", 8, &pos), -1);
    assert_int_equal(pos, 5);
    assert_non_null(strstr(steep_error_get(), "offset 5"));
    /* a sequence cut by the cursor's end, though the bytes go on */
    assert_int_equal(utf8_check("\xe2\x82\xac", 2, &pos), -1);
    assert_int_equal(pos, 0);
    assert_int_equal(utf8_check("", 0, &pos), 0);
    struct steep_cursor empty = steep_cursor_make("", 0);
    uint32_t code;
    assert_int_equal(steep_cursor_read_utf8(&empty, &code), -1);
}

static void test_decimal(void **state)
{
    (void)state;
    uint64_t v = 99;
    assert_int_equal(steep_parse_u64("0", 1, UINT64_MAX, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(steep_parse_u64("007", 3, UINT64_MAX, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(steep_parse_u64("18446744073709551615", 20, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(steep_parse_u64("18446744073709551616", 20, UINT64_MAX, &v), -1);
    assert_int_equal(steep_parse_u64("99999999999999999999999", 23, UINT64_MAX, &v), -1);
    assert_int_equal(steep_parse_u64("000000000000000000000000001", 27, 1, &v), 0);
    assert_int_equal(v, 1);
    /* the caller's maximum, exactly */
    assert_int_equal(steep_parse_u64("65535", 5, 65535, &v), 0);
    assert_int_equal(steep_parse_u64("65536", 5, 65535, &v), -1);
    assert_non_null(strstr(steep_error_get(), "larger than 65535"));
    assert_int_equal(steep_parse_u64("7", 1, 5, &v), -1);
    assert_int_equal(steep_parse_u64("0", 1, 0, &v), 0);
    /* no sign, no spaces, no empty, nothing after */
    assert_int_equal(steep_parse_u64("-1", 2, UINT64_MAX, &v), -1);
    assert_int_equal(steep_parse_u64("+1", 2, UINT64_MAX, &v), -1);
    assert_int_equal(steep_parse_u64(" 1", 2, UINT64_MAX, &v), -1);
    assert_int_equal(steep_parse_u64("1 ", 2, UINT64_MAX, &v), -1);
    assert_int_equal(steep_parse_u64("", 0, UINT64_MAX, &v), -1);
    assert_int_equal(steep_parse_u64("0x10", 4, UINT64_MAX, &v), -1);
    assert_int_equal(steep_parse_u64("1e3", 3, UINT64_MAX, &v), -1);
    /* the length bounds the text, not its NUL */
    assert_int_equal(steep_parse_u64("123", 2, UINT64_MAX, &v), 0);
    assert_int_equal(v, 12);

    /* the cursor reader stops before the first non-digit */
    struct steep_cursor c = text_cursor("42;rest");
    assert_int_equal(steep_cursor_read_u64(&c, UINT64_MAX, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(c.pos, 2);
    assert_int_equal(steep_cursor_read_u64(&c, UINT64_MAX, &v), -1);
    assert_int_equal(c.pos, 2);
    /* overflow leaves the cursor at the number's start */
    c = text_cursor("x1000");
    c.pos = 1;
    assert_int_equal(steep_cursor_read_u64(&c, 999, &v), -1);
    assert_int_equal(c.pos, 1);
}

static int base64(const char *in, unsigned flags, struct steep_buf *out, size_t *pos)
{
    struct steep_cursor c = text_cursor(in);
    steep_buf_reset(out);
    int rc = steep_cursor_read_base64(&c, flags, out);
    *pos = c.pos;
    return rc;
}

#define OPENSSL_LIKE (STEEP_BASE64_SKIP_SPACE | STEEP_BASE64_LOOSE_BITS)

static void test_base64_strict(void **state)
{
    (void)state;
    struct steep_buf out = STEEP_BUF_INIT;
    size_t pos;
    const struct {
        const char *in, *out;
    } good[] = {
        {"", ""},        {"QQ==", "A"},        {"QUI=", "AB"},
        {"QUJD", "ABC"}, {"QUJDRA==", "ABCD"}, {"+/+/", "\xfb\xff\xbf"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(base64(good[i].in, 0, &out, &pos), 0);
        assert_int_equal(out.len, strlen(good[i].out));
        assert_memory_equal(out.data, good[i].out, out.len);
        assert_int_equal(pos, strlen(good[i].in));
        /* encoding gives the same text back */
        struct steep_buf enc = STEEP_BUF_INIT;
        assert_int_equal(steep_base64_encode(out.data, out.len, &enc), 0);
        assert_int_equal(enc.len, strlen(good[i].in));
        assert_memory_equal(enc.data, good[i].in, enc.len);
        steep_buf_free(&enc);
    }
    /* the Rust base64 crate's messages and check order */
    assert_int_equal(base64("Q*==", 0, &out, &pos), -1);
    assert_string_equal(steep_error_get(), "Invalid byte 42, offset 1.");
    assert_int_equal(pos, 1);
    assert_int_equal(base64("QUJDR", STEEP_BASE64_PAD_OPTIONAL, &out, &pos), -1);
    assert_string_equal(steep_error_get(), "Encoded text cannot have a 6-bit remainder.");
    assert_int_equal(base64("QQ=", 0, &out, &pos), -1);
    assert_string_equal(steep_error_get(), "Invalid padding");
    assert_int_equal(base64("QUJD=", 0, &out, &pos), -1);
    assert_string_equal(steep_error_get(), "Invalid padding");
    assert_int_equal(base64("QUI==", 0, &out, &pos), -1);
    assert_string_equal(steep_error_get(), "Invalid padding");
    assert_int_equal(base64("=", 0, &out, &pos), -1);
    assert_int_equal(base64("QR==", 0, &out, &pos), -1); /* non-canonical */
    assert_string_equal(steep_error_get(), "Invalid last symbol 82, offset 1.");
    assert_int_equal(pos, 1);
    assert_int_equal(base64("QUJ=", 0, &out, &pos), -1);
    /* '=' inside the text, three of them, data after padding */
    assert_int_equal(base64("Q===", 0, &out, &pos), -1);
    assert_string_equal(steep_error_get(), "Invalid byte 61, offset 1.");
    assert_int_equal(base64("QQ==QQ==", 0, &out, &pos), -1);
    assert_int_equal(pos, 2);
    assert_int_equal(base64("QQ==x", 0, &out, &pos), -1);
    /* strict: no whitespace, padding required */
    assert_int_equal(base64("QQ ==", 0, &out, &pos), -1);
    assert_int_equal(pos, 2);
    assert_int_equal(base64("QUJD\n", 0, &out, &pos), -1);
    assert_int_equal(base64("QQ", 0, &out, &pos), -1);
    assert_string_equal(steep_error_get(), "Invalid padding");
    /* URL-safe alphabet is not standard */
    assert_int_equal(base64("-_-_", 0, &out, &pos), -1);
    steep_buf_free(&out);
}

static void test_base64_policies(void **state)
{
    (void)state;
    struct steep_buf out = STEEP_BUF_INIT;
    size_t pos;
    /* the functions' policy (Rust base64 0.13): padding optional */
    assert_int_equal(base64("QQ", STEEP_BASE64_PAD_OPTIONAL, &out, &pos), 0);
    assert_memory_equal(out.data, "A", 1);
    assert_int_equal(base64("QUI", STEEP_BASE64_PAD_OPTIONAL, &out, &pos), 0);
    assert_int_equal(out.len, 2);
    assert_int_equal(base64("QQ=", STEEP_BASE64_PAD_OPTIONAL, &out, &pos), -1);
    assert_int_equal(base64("QR", STEEP_BASE64_PAD_OPTIONAL, &out, &pos), -1);

    /* data: URLs keep OpenSSL's EVP_Decode rules: whitespace anywhere,
     * padding required, unused bits ignored */
    assert_int_equal(base64("Q Q = =", OPENSSL_LIKE, &out, &pos), 0);
    assert_memory_equal(out.data, "A", 1);
    assert_int_equal(base64("QUJD\r\nQQ==\n", OPENSSL_LIKE, &out, &pos), 0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "ABCA", 4);
    assert_int_equal(base64("\tQUJ\nD", OPENSSL_LIKE, &out, &pos), 0);
    assert_int_equal(out.len, 3);
    assert_int_equal(base64("QR==", OPENSSL_LIKE, &out, &pos), 0);
    assert_memory_equal(out.data, "A", 1);
    assert_int_equal(base64(" \n ", OPENSSL_LIKE, &out, &pos), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(base64("QQ", OPENSSL_LIKE, &out, &pos), -1);
    assert_int_equal(base64("QUJDQQ", OPENSSL_LIKE, &out, &pos), -1);
    assert_int_equal(base64("QQ==QQ==", OPENSSL_LIKE, &out, &pos), -1);
    assert_int_equal(base64("QU-JD", OPENSSL_LIKE, &out, &pos), -1);
    assert_int_equal(pos, 2);
    assert_int_equal(base64("QUJD\v", OPENSSL_LIKE, &out, &pos), -1);
    assert_int_equal(base64("QUJD====", OPENSSL_LIKE, &out, &pos), -1);

    /* a cursor in the middle of a larger text reads only its own span */
    const char *text = "xxQUJDyy";
    struct steep_cursor c = steep_cursor_make(text, 6);
    c.pos = 2;
    steep_buf_reset(&out);
    assert_int_equal(steep_cursor_read_base64(&c, 0, &out), 0);
    assert_int_equal(out.len, 3);
    assert_int_equal(c.pos, 6);
    steep_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_digit),       cmocka_unit_test(test_hex_exact),
        cmocka_unit_test(test_hex_all),         cmocka_unit_test(test_percent),
        cmocka_unit_test(test_utf8_valid),      cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_decimal),         cmocka_unit_test(test_base64_strict),
        cmocka_unit_test(test_base64_policies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
