/* Bounded cursor and growable buffer; see buf.h. */
#include "core/buf.h"

#include "core/error.h"
#include "core/text.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int steep_cursor_skip(struct steep_cursor *c, size_t n)
{
    ENSURE(n <= steep_cursor_remaining(c), "truncated input: need %zu bytes, %zu left", n,
           steep_cursor_remaining(c));
    c->pos += n;
    return 0;
}

int steep_cursor_read_span(struct steep_cursor *c, const uint8_t **out, size_t n)
{
    ENSURE(n <= steep_cursor_remaining(c), "truncated input: need %zu bytes, %zu left", n,
           steep_cursor_remaining(c));
    *out = c->data + c->pos;
    c->pos += n;
    return 0;
}

int steep_cursor_read_bytes(struct steep_cursor *c, void *out, size_t n)
{
    const uint8_t *p = NULL;
    GUARD(steep_cursor_read_span(c, &p, n));
    if (n)
        memcpy(out, p, n);
    return 0;
}

int steep_cursor_read_sub(struct steep_cursor *c, struct steep_cursor *out, size_t n)
{
    const uint8_t *p = NULL;
    GUARD(steep_cursor_read_span(c, &p, n));
    *out = steep_cursor_make(p, n);
    return 0;
}

int steep_cursor_read_u8(struct steep_cursor *c, uint8_t *out)
{
    return steep_cursor_read_bytes(c, out, 1);
}

int steep_cursor_read_u16le(struct steep_cursor *c, uint16_t *out)
{
    const uint8_t *p = NULL;
    GUARD(steep_cursor_read_span(c, &p, 2));
    *out = (uint16_t)(p[0] | (p[1] << 8));
    return 0;
}

int steep_cursor_read_u32le(struct steep_cursor *c, uint32_t *out)
{
    const uint8_t *p = NULL;
    GUARD(steep_cursor_read_span(c, &p, 4));
    *out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return 0;
}

int steep_cursor_read_u32be(struct steep_cursor *c, uint32_t *out)
{
    const uint8_t *p = NULL;
    GUARD(steep_cursor_read_span(c, &p, 4));
    *out = (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
    return 0;
}

int steep_cursor_read_u64le(struct steep_cursor *c, uint64_t *out)
{
    uint32_t lo, hi;
    GUARD(steep_cursor_read_u32le(c, &lo));
    GUARD(steep_cursor_read_u32le(c, &hi));
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}

int steep_buf_reserve(struct steep_buf *b, size_t extra)
{
    ENSURE(extra <= SIZE_MAX / 2 - b->len, "buffer size overflow");
    size_t need = b->len + extra + 1; /* room for steep_buf_terminate */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *p;
    if (b->secret) {
        p = malloc(cap);
        ENSURE(p, "out of memory (%zu bytes)", cap);
        if (b->len)
            memcpy(p, b->data, b->len);
        if (b->data) {
            OPENSSL_cleanse(b->data, b->cap);
            free(b->data);
        }
    } else {
        p = realloc(b->data, cap);
        ENSURE(p, "out of memory (%zu bytes)", cap);
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int steep_buf_append(struct steep_buf *b, const void *data, size_t n)
{
    GUARD(steep_buf_reserve(b, n));
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

int steep_buf_append_u8(struct steep_buf *b, uint8_t v)
{
    return steep_buf_append(b, &v, 1);
}

int steep_buf_append_u32be(struct steep_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return steep_buf_append(b, p, 4);
}

int steep_buf_append_u32le(struct steep_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return steep_buf_append(b, p, 4);
}

int steep_buf_append_u64le(struct steep_buf *b, uint64_t v)
{
    GUARD(steep_buf_append_u32le(b, (uint32_t)v));
    return steep_buf_append_u32le(b, (uint32_t)(v >> 32));
}

int steep_buf_printf(struct steep_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    ENSURE(n >= 0, "format error");
    GUARD(steep_buf_reserve(b, (size_t)n));
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int steep_buf_terminate(struct steep_buf *b)
{
    GUARD(steep_buf_reserve(b, 0));
    b->data[b->len] = '\0';
    return 0;
}

void steep_buf_wipe(struct steep_buf *b)
{
    b->secret = true;
}

void steep_buf_reset(struct steep_buf *b)
{
    if (b->secret && b->data)
        OPENSSL_cleanse(b->data, b->cap);
    b->len = 0;
}

void steep_buf_free(struct steep_buf *b)
{
    if (b->data) {
        if (b->secret)
            OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
}

uint8_t *steep_buf_detach(struct steep_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int steep_read_file(const char *path, size_t max, struct steep_buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ENSURE(fd >= 0, "cannot open %s: %s", path, strerror(errno));
    for (;;) {
        if (steep_buf_reserve(b, 65536) < 0) {
            close(fd);
            return -1;
        }
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return steep_error_set("cannot read %s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        if (b->len > max) {
            close(fd);
            return steep_error_set("%s is larger than %zu bytes", path, max);
        }
    }
    close(fd);
    return 0;
}

int steep_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
    char tmp[4096];
    ENSURE(snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) < (int)sizeof(tmp),
           "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ENSURE(fd >= 0, "cannot create %s: %s", tmp, strerror(errno));
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return steep_error_set("cannot write %s: %s", tmp, strerror(e));
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return steep_error_set("cannot sync %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return steep_error_set("cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

void steep_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int steep_hex_decode(const char *in, uint8_t *out, size_t n)
{
    size_t len = strlen(in);
    ENSURE(len == 2 * n, "expected %zu hex digits, got %zu", 2 * n, len);
    struct steep_cursor c = steep_cursor_make(in, len);
    return steep_cursor_read_hex(&c, out, n);
}
