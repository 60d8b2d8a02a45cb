/*
 * Text readers on struct steep_cursor; see text.h.
 *
 * Every reader looks only at c->data[c->pos .. c->len) and moves c->pos
 * past what it accepted; on failure c->pos names the offending byte. The
 * base64 decoder checks in the order of the Rust base64 crate (bad byte,
 * 6-bit remainder, padding, last symbol) because built-in functions
 * reproduce that crate's messages; the other callers only need "which byte".
 */
#include "core/text.h"

#include "core/error.h"

#include <string.h>

int steep_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int steep_cursor_read_hex(struct steep_cursor *c, uint8_t *out, size_t n)
{
    ENSURE(steep_cursor_remaining(c) / 2 >= n, "expected %zu hex digits, %zu left", n,
           steep_cursor_remaining(c));
    for (size_t i = 0; i < n; i++) {
        int high = steep_hex_digit(c->data[c->pos]);
        ENSURE(high >= 0, "invalid hex digit at offset %zu", c->pos);
        c->pos++;
        int low = steep_hex_digit(c->data[c->pos]);
        ENSURE(low >= 0, "invalid hex digit at offset %zu", c->pos);
        c->pos++;
        out[i] = (uint8_t)(high << 4 | low);
    }
    return 0;
}

int steep_cursor_read_hex_all(struct steep_cursor *c, struct steep_buf *out)
{
    size_t left = steep_cursor_remaining(c);
    ENSURE(left % 2 == 0, "odd number of hex digits");
    GUARD(steep_buf_reserve(out, left / 2));
    GUARD(steep_cursor_read_hex(c, out->data + out->len, left / 2));
    out->len += left / 2;
    return 0;
}

int steep_cursor_read_percent(struct steep_cursor *c, bool lenient, uint8_t *out)
{
    size_t left = steep_cursor_remaining(c);
    ENSURE(left > 0, "truncated input: need 1 byte, 0 left");
    const uint8_t *p = c->data + c->pos;
    if (p[0] == '%') {
        int high = left >= 3 ? steep_hex_digit(p[1]) : -1;
        int low = high >= 0 ? steep_hex_digit(p[2]) : -1;
        if (high >= 0 && low >= 0) {
            *out = (uint8_t)(high << 4 | low);
            c->pos += 3;
            return 0;
        }
        ENSURE(lenient, "bad percent escape at offset %zu", c->pos);
    }
    *out = p[0];
    c->pos++;
    return 0;
}

/* Length (1..4) of the strictly valid UTF-8 sequence at s, or 0. */
static size_t utf8_length(const uint8_t *s, size_t left, uint32_t *code)
{
    uint8_t lead = s[0];
    size_t extra;
    uint32_t cp;
    if (lead < 0x80) {
        *code = lead;
        return 1;
    } else if ((lead & 0xE0) == 0xC0) {
        extra = 1, cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
        extra = 2, cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
        extra = 3, cp = lead & 0x07;
    } else {
        return 0;
    }
    if (left <= extra)
        return 0;
    for (size_t k = 1; k <= extra; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    static const uint32_t minimum[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < minimum[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    *code = cp;
    return extra + 1;
}

int steep_cursor_read_utf8(struct steep_cursor *c, uint32_t *code)
{
    size_t left = steep_cursor_remaining(c);
    ENSURE(left > 0, "truncated input: need 1 byte, 0 left");
    size_t n = utf8_length(c->data + c->pos, left, code);
    ENSURE(n > 0, "invalid UTF-8 at offset %zu", c->pos);
    c->pos += n;
    return 0;
}

int steep_cursor_check_utf8(struct steep_cursor *c)
{
    uint32_t code;
    while (c->pos < c->len) {
        if (c->data[c->pos] < 0x80)
            c->pos++; /* the common case, without a call */
        else
            GUARD(steep_cursor_read_utf8(c, &code));
    }
    return 0;
}

int steep_buf_append_utf8(struct steep_buf *b, uint32_t code)
{
    ENSURE(code <= 0x10FFFF, "code point U+%X is past U+10FFFF", (unsigned)code);
    uint8_t bytes[4];
    size_t n;
    if (code < 0x80) {
        bytes[0] = (uint8_t)code;
        n = 1;
    } else if (code < 0x800) {
        bytes[0] = (uint8_t)(0xC0 | code >> 6);
        bytes[1] = (uint8_t)(0x80 | (code & 0x3F));
        n = 2;
    } else if (code < 0x10000) {
        bytes[0] = (uint8_t)(0xE0 | code >> 12);
        bytes[1] = (uint8_t)(0x80 | (code >> 6 & 0x3F));
        bytes[2] = (uint8_t)(0x80 | (code & 0x3F));
        n = 3;
    } else {
        bytes[0] = (uint8_t)(0xF0 | code >> 18);
        bytes[1] = (uint8_t)(0x80 | (code >> 12 & 0x3F));
        bytes[2] = (uint8_t)(0x80 | (code >> 6 & 0x3F));
        bytes[3] = (uint8_t)(0x80 | (code & 0x3F));
        n = 4;
    }
    return steep_buf_append(b, bytes, n);
}

int steep_cursor_read_u64(struct steep_cursor *c, uint64_t max, uint64_t *out)
{
    size_t start = c->pos;
    ENSURE(c->pos < c->len && c->data[c->pos] >= '0' && c->data[c->pos] <= '9',
           "expected a decimal number at offset %zu", c->pos);
    uint64_t value = 0;
    while (c->pos < c->len && c->data[c->pos] >= '0' && c->data[c->pos] <= '9') {
        unsigned digit = (unsigned)(c->data[c->pos] - '0');
        if (digit > max || value > (max - digit) / 10) {
            c->pos = start;
            return steep_error_set("number at offset %zu is larger than %llu", start,
                                   (unsigned long long)max);
        }
        value = value * 10 + digit;
        c->pos++;
    }
    *out = value;
    return 0;
}

int steep_parse_u64(const char *text, size_t len, uint64_t max, uint64_t *out)
{
    struct steep_cursor c = steep_cursor_make(text, len);
    uint64_t value;
    GUARD(steep_cursor_read_u64(&c, max, &value));
    ENSURE(steep_cursor_remaining(&c) == 0, "unexpected character after the number at offset %zu",
           c.pos);
    *out = value;
    return 0;
}

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int base64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static bool base64_space(uint8_t c, unsigned flags)
{
    return (flags & STEEP_BASE64_SKIP_SPACE) && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
}

int steep_cursor_read_base64(struct steep_cursor *c, unsigned flags, struct steep_buf *out)
{
    const uint8_t *s = c->data;
    size_t start = c->pos, end = c->len, body_end = end, pad = 0;
    /* Up to two '=' at the very end are padding; anything before is body. */
    for (size_t i = end; i > start; i--) {
        if (base64_space(s[i - 1], flags))
            continue;
        if (s[i - 1] != '=' || pad == 2)
            break;
        pad++;
        body_end = i - 1;
    }
    size_t body = 0;
    for (size_t i = start; i < body_end; i++) {
        if (base64_space(s[i], flags))
            continue;
        if (base64_value(s[i]) < 0) {
            c->pos = i;
            return steep_error_set("Invalid byte %u, offset %zu.", s[i], i);
        }
        body++;
    }
    c->pos = body_end;
    ENSURE(body % 4 != 1, "Encoded text cannot have a 6-bit remainder.");
    ENSURE(pad ? (body + pad) % 4 == 0 : body % 4 == 0 || (flags & STEEP_BASE64_PAD_OPTIONAL),
           "Invalid padding");
    GUARD(steep_buf_reserve(out, body / 4 * 3 + 2));
    uint32_t acc = 0;
    int bits = 0;
    size_t last = start;
    for (size_t i = start; i < body_end; i++) {
        if (base64_space(s[i], flags))
            continue;
        acc = acc << 6 | (uint32_t)base64_value(s[i]);
        bits += 6;
        last = i;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (uint8_t)(acc >> bits);
        }
    }
    if (!(flags & STEEP_BASE64_LOOSE_BITS) && (acc & ((1u << bits) - 1)) != 0) {
        c->pos = last;
        return steep_error_set("Invalid last symbol %u, offset %zu.", s[last], last);
    }
    c->pos = end;
    return 0;
}

int steep_base64_encode(const uint8_t *in, size_t len, struct steep_buf *out)
{
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        char quad[4] = {base64_alphabet[v >> 18 & 63], base64_alphabet[v >> 12 & 63],
                        i + 1 < len ? base64_alphabet[v >> 6 & 63] : '=',
                        i + 2 < len ? base64_alphabet[v & 63] : '='};
        GUARD(steep_buf_append(out, quad, 4));
    }
    return 0;
}
