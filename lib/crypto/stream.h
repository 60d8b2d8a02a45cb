/*
 * Byte streams for function inputs and outputs.
 *
 * A struct steep_reader yields plaintext; a struct steep_writer takes
 * plaintext. Implementations: plain fd (raw), aes-gcm-128/256 and
 * teaclave-file-128 (lib/crypto/file_crypto.h). Both are "objects": the
 * first member of an implementation struct is the interface, and close()
 * frees the object.
 *
 * read() returns the number of bytes read (0 at end of stream) or -1 with
 * steep_error_get() set (e.g. a tampered node). A reader never hands out
 * plaintext that has not been authenticated: teaclave-file-128 authenticates
 * each node before use; steep_file_reader_open() authenticates a whole
 * aes-gcm file before returning its reader (lib/crypto/file_crypto.h).
 *
 * close() of a reader returns 0 or -1 and frees it. close() of a writer
 * finishes the stream (writes the tag / metadata node), stores the file's
 * cmac into cmac (when not NULL; 16 bytes), frees it and returns 0 or -1.
 * A writer closed after a failed write still frees itself and returns -1.
 */
#ifndef STEEP_CRYPTO_STREAM_H
#define STEEP_CRYPTO_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct steep_reader {
    ssize_t (*read)(struct steep_reader *, void *, size_t);
    int (*close)(struct steep_reader *);
};

struct steep_writer {
    ssize_t (*write)(struct steep_writer *, const void *, size_t);
    int (*close)(struct steep_writer *, uint8_t cmac[16]);
};

/* Convenience wrappers. */
static inline ssize_t steep_reader_read(struct steep_reader *r, void *buf, size_t n)
{
    return r->read(r, buf, n);
}

static inline int steep_reader_close(struct steep_reader *r)
{
    return r ? r->close(r) : 0;
}

static inline ssize_t steep_writer_write(struct steep_writer *w, const void *buf, size_t n)
{
    return w->write(w, buf, n);
}

static inline int steep_writer_close(struct steep_writer *w, uint8_t cmac[16])
{
    return w ? w->close(w, cmac) : 0;
}

/* Writes all n bytes (loops over short writes); 0 or -1. */
int steep_writer_write_all(struct steep_writer *w, const void *buf, size_t n);
/* Reads until n bytes or end of stream; returns bytes read or -1. */
ssize_t steep_reader_read_full(struct steep_reader *r, void *buf, size_t n);

/* Plain fd streams (scheme "raw"). The fd is owned and closed by close().
 * A plain writer reports an all-zero cmac. */
struct steep_reader *steep_plain_reader_new(int fd);
struct steep_writer *steep_plain_writer_new(int fd);

/* In-memory reader over a copy of the bytes (tests, small inputs). */
struct steep_reader *steep_memory_reader_new(const void *data, size_t len);

#endif
