/*
 * Plain fd and in-memory stream implementations, and the loop helpers of
 * stream.h.
 */
#include "crypto/stream.h"

#include "crypto/fd_util.h"

#include "core/error.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int steep_writer_write_all(struct steep_writer *w, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = w->write(w, (const uint8_t *)buf + done, n - done);
        if (r < 0)
            return -1;
        ENSURE(r > 0, "writer made no progress");
        done += (size_t)r;
    }
    return 0;
}

ssize_t steep_reader_read_full(struct steep_reader *r, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = r->read(r, (uint8_t *)buf + done, n - done);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

struct plain_stream {
    union {
        struct steep_reader reader;
        struct steep_writer writer;
    } base;
    int fd;
};

static ssize_t plain_read(struct steep_reader *base, void *buf, size_t n)
{
    struct plain_stream *s = (struct plain_stream *)base;
    return steep_fd_read_full(s->fd, buf, n);
}

static int plain_reader_close(struct steep_reader *base)
{
    struct plain_stream *s = (struct plain_stream *)base;
    close(s->fd);
    free(s);
    return 0;
}

static ssize_t plain_write(struct steep_writer *base, const void *buf, size_t n)
{
    struct plain_stream *s = (struct plain_stream *)base;
    GUARD(steep_fd_write_all(s->fd, buf, n));
    return (ssize_t)n;
}

static int plain_writer_close(struct steep_writer *base, uint8_t cmac[16])
{
    struct plain_stream *s = (struct plain_stream *)base;
    int rc = close(s->fd) < 0 ? steep_error_set("close failed") : 0;
    free(s);
    if (cmac)
        memset(cmac, 0, 16);
    return rc;
}

struct steep_reader *steep_plain_reader_new(int fd)
{
    struct plain_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        steep_error_set("out of memory");
        return NULL;
    }
    s->base.reader.read = plain_read;
    s->base.reader.close = plain_reader_close;
    s->fd = fd;
    return &s->base.reader;
}

struct steep_writer *steep_plain_writer_new(int fd)
{
    struct plain_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        steep_error_set("out of memory");
        return NULL;
    }
    s->base.writer.write = plain_write;
    s->base.writer.close = plain_writer_close;
    s->fd = fd;
    return &s->base.writer;
}

struct memory_reader {
    struct steep_reader base;
    size_t len;
    size_t pos;
    uint8_t data[];
};

static ssize_t memory_read(struct steep_reader *base, void *buf, size_t n)
{
    struct memory_reader *m = (struct memory_reader *)base;
    size_t take = m->len - m->pos;
    if (take > n)
        take = n;
    if (take)
        memcpy(buf, m->data + m->pos, take);
    m->pos += take;
    return (ssize_t)take;
}

static int memory_close(struct steep_reader *base)
{
    struct memory_reader *m = (struct memory_reader *)base;
    OPENSSL_cleanse(m->data, m->len);
    free(m);
    return 0;
}

struct steep_reader *steep_memory_reader_new(const void *data, size_t len)
{
    struct memory_reader *m = malloc(sizeof(*m) + len);
    if (!m) {
        steep_error_set("out of memory");
        return NULL;
    }
    m->base.read = memory_read;
    m->base.close = memory_close;
    m->len = len;
    m->pos = 0;
    if (len)
        memcpy(m->data, data, len);
    return &m->base;
}
