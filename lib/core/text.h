/*
 * Text readers on struct steep_cursor: hex, base64, percent-encoding, UTF-8
 * and decimal numbers, written once for every parser of untrusted text.
 *
 * Each reader checks the bytes it reads against what remains in the cursor
 * and fails (-1, with a message) instead of guessing. On failure the cursor
 * is left at the first byte that could not be read, so a caller that owes
 * its user a message in another format (the Rust crates whose errors the
 * built-in functions reproduce, an HTTP status) can still say where. The
 * policies that legitimately differ between callers (base64 padding and
 * whitespace, lenient percent escapes) are flags, not separate copies.
 */
#ifndef STEEP_CORE_TEXT_H
#define STEEP_CORE_TEXT_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
int steep_hex_digit(int c);
/* Reads exactly 2*n hex digits into n bytes. */
int steep_cursor_read_hex(struct steep_cursor *c, uint8_t *out, size_t n);
/* Reads every remaining byte as hex digits (an even number) and appends the
 * decoded bytes to out. */
int steep_cursor_read_hex_all(struct steep_cursor *c, struct steep_buf *out);

/* Reads one character of percent-encoded text: "%XY" with two hex digits is
 * the byte 0xXY, any other byte is itself. A '%' without two hex digits
 * after it fails, unless lenient (gRPC's rule for grpc-message: keep it). */
int steep_cursor_read_percent(struct steep_cursor *c, bool lenient, uint8_t *out);

/* Reads one strictly valid UTF-8 sequence (no overlong forms, surrogates or
 * code points past U+10FFFF, no truncation) as its code point. */
int steep_cursor_read_utf8(struct steep_cursor *c, uint32_t *code);
/* Consumes the remaining bytes when they are all valid UTF-8; otherwise
 * fails with the cursor at the first invalid sequence. */
int steep_cursor_check_utf8(struct steep_cursor *c);
/* Appends the UTF-8 encoding of a code point (at most U+10FFFF). */
int steep_buf_append_utf8(struct steep_buf *b, uint32_t code);

/* Reads one or more ASCII digits as a number at most max. No sign, no
 * spaces; leading zeros are allowed. Stops before the first non-digit. */
int steep_cursor_read_u64(struct steep_cursor *c, uint64_t max, uint64_t *out);
/* The whole of text (len bytes) as one steep_cursor_read_u64 number. */
int steep_parse_u64(const char *text, size_t len, uint64_t max, uint64_t *out);

/* Base64 (RFC 4648 standard alphabet) policies; the default is strict:
 * padding required, no whitespace, unused bits of the last symbol zero. */
enum {
    STEEP_BASE64_PAD_OPTIONAL = 1, /* unpadded input is accepted too */
    STEEP_BASE64_SKIP_SPACE = 2,   /* space, tab, CR and LF are ignored anywhere */
    STEEP_BASE64_LOOSE_BITS = 4,   /* nonzero unused bits in the last symbol are accepted */
};
/* Decodes every remaining byte of c and appends the result to out. The
 * messages name the byte and its offset from the start of c's data. */
int steep_cursor_read_base64(struct steep_cursor *c, unsigned flags, struct steep_buf *out);
/* Standard base64 with padding. */
int steep_base64_encode(const uint8_t *in, size_t len, struct steep_buf *out);

#endif
