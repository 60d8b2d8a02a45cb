/*
 * Text forms on the gRPC wire: status code names, the percent-encoding of
 * grpc-message, and grpc-timeout values. Inputs come from peers, so every
 * parser here is bounded by an explicit length.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/text.h"
#include "rpc/rpc.h"
#include "rpc/wire.h"

const char *steep_grpc_code_name(int code)
{
    static const char *names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
        return "UNKNOWN";
    return names[code];
}

int steep_rpc_percent_encode(const char *text, struct steep_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            GUARD(steep_buf_append_u8(out, *p));
        } else {
            char escaped[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            GUARD(steep_buf_append(out, escaped, 3));
        }
    }
    return steep_buf_terminate(out);
}

void steep_rpc_percent_decode(const char *text, size_t len, char *out, size_t out_len)
{
    if (out_len == 0)
        return;
    struct steep_cursor c = steep_cursor_make(text, len);
    size_t written = 0;
    uint8_t byte;
    /* Lenient: a bad escape is kept as it is, as gRPC asks of grpc-message. */
    while (written + 1 < out_len && steep_cursor_remaining(&c) > 0 &&
           steep_cursor_read_percent(&c, true, &byte) == 0)
        out[written++] = (char)byte;
    out[written] = '\0';
}

int steep_rpc_timeout_parse(const char *value, size_t len, int64_t *ms)
{
    ENSURE(len >= 2 && len <= 9, "grpc-timeout has a bad length");
    uint64_t digits;
    ENSURE(steep_parse_u64(value, len - 1, 99999999, &digits) == 0, "grpc-timeout has a non-digit");
    int64_t amount = (int64_t)digits;
    switch (value[len - 1]) {
    case 'H':
        *ms = amount * 3600 * 1000;
        return 0;
    case 'M':
        *ms = amount * 60 * 1000;
        return 0;
    case 'S':
        *ms = amount * 1000;
        return 0;
    case 'm':
        *ms = amount;
        return 0;
    case 'u':
        *ms = (amount + 999) / 1000;
        return 0;
    case 'n':
        *ms = (amount + 999999) / 1000000;
        return 0;
    default:
        return steep_error_set("grpc-timeout has an unknown unit");
    }
}

void steep_rpc_timeout_format(int64_t ms, char *out, size_t out_len)
{
    if (ms < 1)
        ms = 1;
    if (ms <= 99999999)
        snprintf(out, out_len, "%" PRId64 "m", ms);
    else if (ms / 1000 <= 99999999)
        snprintf(out, out_len, "%" PRId64 "S", (ms + 999) / 1000);
    else
        snprintf(out, out_len, "%" PRId64 "H",
                 (ms + 3599999) / 3600000 > 99999999 ? 99999999 : (ms + 3599999) / 3600000);
}
