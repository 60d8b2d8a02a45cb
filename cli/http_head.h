/*
 * The request head of `steep serve-files` (fileserver.c): the request line
 * and header fields, parsed through struct steep_cursor, and the request
 * target mapped to a path below the served directory.
 *
 * Only what the server acts on is kept: method, target, Content-Length,
 * Connection: close, and whether a Transfer-Encoding was sent (the server
 * answers 501). Lines end in CRLF; a bare CR or LF, a field without a name
 * or colon, whitespace before the colon, a folded line, and a Content-Length
 * that is not one decimal number (or two different ones) are refused: a
 * request must not be read in two ways (smuggling).
 */
#ifndef STEEP_CLI_HTTP_HEAD_H
#define STEEP_CLI_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

struct cli_http_head {
    char method[16];
    char target[4096];
    long long content_length; /* -1: none sent */
    bool close_after;         /* Connection: close */
    bool transfer_encoding;   /* some Transfer-Encoding was sent */
};

/* Parses len bytes of a request head (without the blank line ending it).
 * Fails with a message for a 400 answer. */
int cli_http_head_parse(const char *head, size_t len, struct cli_http_head *out);

/* Maps a request target to a path below root: the part before '?' or '#',
 * percent-decoded, starting with '/', without NUL, backslash or any ".."
 * segment. Fails when it would escape or not fit. */
int cli_http_path_resolve(const char *root, const char *target, char *out, size_t out_len);

#endif
