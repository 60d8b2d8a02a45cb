/*
 * HTTP/1.1 request heads for the file server; see http_head.h. Each line
 * is a sub-cursor; tokens and numbers are read with the shared readers of
 * lib/core/text.h, so nothing is read past a line or the head.
 */
#include "http_head.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/text.h"

/* The next line, without its CRLF. */
static int read_line(struct steep_cursor *c, struct steep_cursor *line)
{
    const uint8_t *start = c->data + c->pos;
    size_t left = steep_cursor_remaining(c);
    const uint8_t *cr = memchr(start, '\r', left);
    size_t n = cr ? (size_t)(cr - start) : left;
    ENSURE(memchr(start, '\n', n) == NULL, "bare LF in the request head");
    GUARD(steep_cursor_read_sub(c, line, n));
    if (cr) {
        uint8_t crlf[2];
        ENSURE(steep_cursor_read_bytes(c, crlf, 2) == 0 && crlf[1] == '\n',
               "bare CR in the request head");
    }
    return 0;
}

/* RFC 9110 tchar: what a method or field name is made of. */
static bool is_tchar(uint8_t b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
           (b != 0 && strchr("!#$%&'*+-.^_`|~", b) != NULL);
}

/* Bytes while accept() holds, at least one and fewer than size, into out
 * as a string. */
static int read_run(struct steep_cursor *c, bool (*accept)(uint8_t), char *out, size_t size,
                    const char *what)
{
    size_t start = c->pos;
    while (c->pos < c->len && accept(c->data[c->pos]))
        c->pos++;
    size_t n = c->pos - start;
    ENSURE(n > 0, "the request has no %s", what);
    ENSURE(n < size, "the request's %s is too long", what);
    memcpy(out, c->data + start, n);
    out[n] = '\0';
    return 0;
}

static bool is_target_char(uint8_t b)
{
    return b > 0x20 && b < 0x7f;
}

static int expect_byte(struct steep_cursor *c, uint8_t want, const char *message)
{
    uint8_t b = 0;
    ENSURE(steep_cursor_read_u8(c, &b) == 0 && b == want, "%s", message);
    return 0;
}

/* method SP target [SP HTTP/x.y] */
static int parse_request_line(struct steep_cursor line, struct cli_http_head *out)
{
    GUARD(read_run(&line, is_tchar, out->method, sizeof out->method, "method"));
    GUARD(expect_byte(&line, ' ', "bad request line"));
    GUARD(read_run(&line, is_target_char, out->target, sizeof out->target, "target"));
    if (steep_cursor_remaining(&line) == 0)
        return 0;
    const uint8_t *version;
    GUARD(expect_byte(&line, ' ', "bad request line"));
    ENSURE(steep_cursor_remaining(&line) == 8 && steep_cursor_read_span(&line, &version, 8) == 0 &&
               memcmp(version, "HTTP/1.", 7) == 0 && (version[7] == '0' || version[7] == '1'),
           "bad request line: not HTTP/1.0 or HTTP/1.1");
    return 0;
}

static bool is_space(uint8_t b)
{
    return b == ' ' || b == '\t';
}

/* The field value without the whitespace around it. */
static struct steep_cursor trimmed(struct steep_cursor value)
{
    while (value.pos < value.len && is_space(value.data[value.pos]))
        value.pos++;
    while (value.len > value.pos && is_space(value.data[value.len - 1]))
        value.len--;
    return value;
}

static bool has_close_token(struct steep_cursor value)
{
    while (steep_cursor_remaining(&value) > 0) {
        const uint8_t *start = value.data + value.pos;
        const uint8_t *comma = memchr(start, ',', steep_cursor_remaining(&value));
        size_t n = comma ? (size_t)(comma - start) : steep_cursor_remaining(&value);
        struct steep_cursor token = trimmed(steep_cursor_make(start, n));
        if (steep_cursor_remaining(&token) == 5 &&
            strncasecmp((const char *)token.data + token.pos, "close", 5) == 0)
            return true;
        value.pos += comma ? n + 1 : n;
    }
    return false;
}

static int parse_field(struct steep_cursor line, struct cli_http_head *out)
{
    char name[64];
    GUARD(read_run(&line, is_tchar, name, sizeof name, "header field name"));
    GUARD(expect_byte(&line, ':', "bad header field (no colon right after the name)"));
    struct steep_cursor value = trimmed(line);
    for (size_t i = value.pos; i < value.len; i++)
        ENSURE(value.data[i] >= 0x20 || value.data[i] == '\t', "control character in header %s",
               name);
    if (strcasecmp(name, "Content-Length") == 0) {
        uint64_t length;
        if (steep_parse_u64((const char *)value.data + value.pos, steep_cursor_remaining(&value),
                            LLONG_MAX, &length) < 0)
            return steep_error_wrap("bad Content-Length");
        ENSURE(out->content_length < 0 || out->content_length == (long long)length,
               "two different Content-Length values");
        out->content_length = (long long)length;
    } else if (strcasecmp(name, "Connection") == 0) {
        out->close_after = out->close_after || has_close_token(value);
    } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
        out->transfer_encoding = true;
    }
    return 0;
}

int cli_http_head_parse(const char *head, size_t len, struct cli_http_head *out)
{
    memset(out, 0, sizeof *out);
    out->content_length = -1;
    struct steep_cursor c = steep_cursor_make(head, len);
    struct steep_cursor line;
    GUARD(read_line(&c, &line));
    GUARD(parse_request_line(line, out));
    while (steep_cursor_remaining(&c) > 0) {
        GUARD(read_line(&c, &line));
        GUARD(parse_field(line, out));
    }
    return 0;
}

int cli_http_path_resolve(const char *root, const char *target, char *out, size_t out_len)
{
    char decoded[PATH_MAX];
    size_t j = 0;
    struct steep_cursor c = steep_cursor_make(target, strcspn(target, "?#"));
    while (steep_cursor_remaining(&c) > 0) {
        uint8_t byte;
        GUARD(steep_cursor_read_percent(&c, false, &byte));
        ENSURE(byte != '\0' && byte != '\\', "NUL or backslash in the path");
        ENSURE(j + 1 < sizeof decoded, "path too long");
        decoded[j++] = (char)byte;
    }
    decoded[j] = '\0';
    ENSURE(decoded[0] == '/', "the path is not absolute");
    /* Refuse any ".." path segment. */
    for (const char *p = decoded; (p = strstr(p, "..")) != NULL; p += 2) {
        bool starts = p == decoded || p[-1] == '/';
        bool ends = p[2] == '\0' || p[2] == '/';
        ENSURE(!(starts && ends), "the path has a \"..\" segment");
    }
    ENSURE(snprintf(out, out_len, "%s%s", root, decoded) < (int)out_len, "path too long");
    return 0;
}
