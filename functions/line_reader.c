/* Buffered line reading, UTF-8 validation and trimming; see line_reader.h. */
#include "functions/line_reader.h"

#include "core/error.h"
#include "core/text.h"

#include <stdio.h>
#include <string.h>

void steep_line_reader_init(struct steep_line_reader *lr, struct steep_reader *reader)
{
    lr->reader = reader;
    lr->pos = lr->len = 0;
    lr->eof = false;
    lr->line = (struct steep_buf)STEEP_BUF_INIT;
    lr->number = 0;
}

int steep_line_error(const struct steep_line_reader *lr, const char *input)
{
    char message[STEEP_ERROR_MAX];
    snprintf(message, sizeof message, "%s", steep_error_get());
    return steep_error_set("%s (%s line %zu)", message, input, lr->number);
}

void steep_line_reader_free(struct steep_line_reader *lr)
{
    steep_buf_free(&lr->line);
}

static int fill(struct steep_line_reader *lr)
{
    if (lr->pos < lr->len || lr->eof)
        return 0;
    ssize_t n = steep_reader_read(lr->reader, lr->chunk, sizeof(lr->chunk));
    if (n < 0)
        return -1;
    lr->pos = 0;
    lr->len = (size_t)n;
    if (n == 0)
        lr->eof = true;
    return 0;
}

int steep_line_getc(struct steep_line_reader *lr, uint8_t *byte)
{
    GUARD(fill(lr));
    if (lr->pos == lr->len)
        return 0;
    *byte = lr->chunk[lr->pos++];
    return 1;
}

int steep_line_next(struct steep_line_reader *lr, const char **line, size_t *len)
{
    steep_buf_reset(&lr->line);
    bool any = false;
    lr->number++;
    for (;;) {
        GUARD(fill(lr));
        if (lr->pos == lr->len)
            break;
        any = true;
        const uint8_t *start = lr->chunk + lr->pos;
        const uint8_t *nl = memchr(start, '\n', lr->len - lr->pos);
        size_t take = nl ? (size_t)(nl - start) : lr->len - lr->pos;
        ENSURE(lr->line.len + take <= STEEP_LINE_MAX, "line too long (more than %u bytes)",
               STEEP_LINE_MAX);
        GUARD(steep_buf_append(&lr->line, start, take));
        lr->pos += take;
        if (nl) {
            lr->pos++;
            break;
        }
    }
    if (!any)
        return 0;
    if (lr->line.len && lr->line.data[lr->line.len - 1] == '\r')
        lr->line.len--;
    GUARD(steep_buf_terminate(&lr->line));
    *line = (const char *)lr->line.data;
    *len = lr->line.len;
    return 1;
}

int steep_utf8_check(const uint8_t *s, size_t len)
{
    struct steep_cursor c = steep_cursor_make(s, len);
    if (steep_cursor_check_utf8(&c) < 0)
        return steep_error_set("invalid utf-8 sequence of 1 bytes from index %zu", c.pos);
    return 0;
}

/* Length of a whitespace character at s, 0 if none. */
static size_t whitespace_at(const uint8_t *s, size_t left)
{
    if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        return 1;
    if (left >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0))
        return 2;
    if (left >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3;
    if (left >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
        return 3;
    if (left >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
        return 3;
    if (left >= 3 && s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80)
        return 3;
    return 0;
}

void steep_trim(const char **s, size_t *len)
{
    const uint8_t *p = (const uint8_t *)*s;
    size_t n = *len;
    size_t w;
    while (n && (w = whitespace_at(p, n)) > 0) {
        p += w;
        n -= w;
    }
    for (;;) {
        if (n == 0)
            break;
        if (p[n - 1] == ' ' || (p[n - 1] >= '\t' && p[n - 1] <= '\r')) {
            n--;
            continue;
        }
        /* Multi-byte whitespace ends with a continuation byte: check 2- and 3-byte forms. */
        if (n >= 2 && whitespace_at(p + n - 2, 2) == 2) {
            n -= 2;
            continue;
        }
        if (n >= 3 && whitespace_at(p + n - 3, 3) == 3) {
            n -= 3;
            continue;
        }
        break;
    }
    *s = (const char *)p;
    *len = n;
}
