/*
 * Bounded byte handling: the only way Steep code looks at untrusted bytes.
 *
 * struct steep_cursor reads from a fixed span: every typed reader checks
 * the bytes remaining and fails (-1, with a message) instead of reading past
 * the end. struct steep_buf is a growable output buffer; steep_buf_free
 * wipes it when it held secrets (steep_buf_wipe). Parsers of gRPC frames,
 * RA-TLS reports, teaclave-file-128 nodes, config and policy files all go
 * through these two types.
 */
#ifndef STEEP_CORE_BUF_H
#define STEEP_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct steep_cursor {
    const uint8_t *data;
    size_t len;
    size_t pos;
};

static inline struct steep_cursor steep_cursor_make(const void *data, size_t len)
{
    struct steep_cursor c = {(const uint8_t *)data, len, 0};
    return c;
}

static inline size_t steep_cursor_remaining(const struct steep_cursor *c)
{
    return c->len - c->pos;
}

int steep_cursor_skip(struct steep_cursor *c, size_t n);
int steep_cursor_read_u8(struct steep_cursor *c, uint8_t *out);
int steep_cursor_read_u16le(struct steep_cursor *c, uint16_t *out);
int steep_cursor_read_u32le(struct steep_cursor *c, uint32_t *out);
int steep_cursor_read_u32be(struct steep_cursor *c, uint32_t *out);
int steep_cursor_read_u64le(struct steep_cursor *c, uint64_t *out);
/* Copies n bytes out. */
int steep_cursor_read_bytes(struct steep_cursor *c, void *out, size_t n);
/* Points *out at the next n bytes without copying, and advances. */
int steep_cursor_read_span(struct steep_cursor *c, const uint8_t **out, size_t n);
/* Returns a sub-cursor over the next n bytes, and advances past them. */
int steep_cursor_read_sub(struct steep_cursor *c, struct steep_cursor *out, size_t n);

struct steep_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool secret; /* wipe on growth and free */
};

#define STEEP_BUF_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

int steep_buf_reserve(struct steep_buf *b, size_t extra);
int steep_buf_append(struct steep_buf *b, const void *data, size_t n);
int steep_buf_append_u8(struct steep_buf *b, uint8_t v);
int steep_buf_append_u32be(struct steep_buf *b, uint32_t v);
int steep_buf_append_u32le(struct steep_buf *b, uint32_t v);
int steep_buf_append_u64le(struct steep_buf *b, uint64_t v);
int steep_buf_printf(struct steep_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends a NUL without counting it in len, so data can be used as a C string. */
int steep_buf_terminate(struct steep_buf *b);
/* Marks the buffer as holding secrets: it is wiped before free and on growth. */
void steep_buf_wipe(struct steep_buf *b);
void steep_buf_reset(struct steep_buf *b);
void steep_buf_free(struct steep_buf *b);
/* Hands ownership of data to the caller (free with free()); the buffer is emptied. */
uint8_t *steep_buf_detach(struct steep_buf *b, size_t *len);

/* Reads a whole file (at most max bytes) into b. */
int steep_read_file(const char *path, size_t max, struct steep_buf *b);
/* Writes a file atomically: temporary file, fsync, rename, fsync of the directory. */
int steep_write_file_atomic(const char *path, const void *data, size_t len, int mode);

/* Lowercase hex. out must hold 2*n+1 bytes. */
void steep_hex_encode(const uint8_t *in, size_t n, char *out);
/* Exactly 2*n hex digits to n bytes. */
int steep_hex_decode(const char *in, uint8_t *out, size_t n);

#endif
