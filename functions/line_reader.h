/*
 * Line-at-a-time reading over a struct steep_reader, like Rust's
 * BufRead::lines(): lines split on '\n', a trailing "\r" is removed, the
 * last line needs no newline, and a final newline yields no empty line.
 * Memory: a 64 KiB read buffer plus the current line (at most 16 MiB).
 */
#ifndef STEEP_FUNCTIONS_LINE_READER_H
#define STEEP_FUNCTIONS_LINE_READER_H

#include "core/buf.h"
#include "crypto/stream.h"

#include <stdbool.h>

#define STEEP_LINE_MAX (16u << 20)

struct steep_line_reader {
    struct steep_reader *reader;
    uint8_t chunk[65536];
    size_t pos;
    size_t len;
    bool eof;
    struct steep_buf line;
    size_t number; /* of the line being read, from 1 */
};

void steep_line_reader_init(struct steep_line_reader *lr, struct steep_reader *reader);
/* 1 with the line in *line and *len (valid until the next call), 0 at end, -1 on error. */
int steep_line_next(struct steep_line_reader *lr, const char **line, size_t *len);
/* Reads one byte: 1 with *byte, 0 at end, -1 on error (for the CSV parser). */
int steep_line_getc(struct steep_line_reader *lr, uint8_t *byte);
/* Adds where the current error happened: "<message> (<input> line N)";
 * returns -1. */
int steep_line_error(const struct steep_line_reader *lr, const char *input);
/* Frees the line buffer (does not close the reader). */
void steep_line_reader_free(struct steep_line_reader *lr);

/* Like Rust's str::from_utf8: 0 when valid, else -1 with Rust's message. */
int steep_utf8_check(const uint8_t *s, size_t len);
/* Trims ASCII and Unicode whitespace at both ends (Rust str::trim for the
 * common cases: ASCII whitespace, U+0085, U+00A0, U+2000..U+200A, ...). */
void steep_trim(const char **s, size_t *len);

#endif
