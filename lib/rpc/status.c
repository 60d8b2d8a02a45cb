/*
 * Text forms on the gRPC wire: status code names, the percent-encoding of
 * grpc-message, and grpc-timeout values. Inputs come from peers, so every
 * parser here is bounded by an explicit length.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
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

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void steep_rpc_percent_decode(const char *text, size_t len, char *out, size_t out_len)
{
    size_t written = 0;
    if (out_len == 0)
        return;
    for (size_t i = 0; i < len && written + 1 < out_len; i++) {
        int high = -1, low = -1;
        if (text[i] == '%' && i + 2 < len) {
            high = hex_value(text[i + 1]);
            low = hex_value(text[i + 2]);
        }
        if (high >= 0 && low >= 0) {
            out[written++] = (char)(high << 4 | low);
            i += 2;
        } else {
            out[written++] = text[i];
        }
    }
    out[written] = '\0';
}

int steep_rpc_timeout_parse(const char *value, size_t len, int64_t *ms)
{
    ENSURE(len >= 2 && len <= 9, "grpc-timeout has a bad length");
    int64_t amount = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        ENSURE(value[i] >= '0' && value[i] <= '9', "grpc-timeout has a non-digit");
        amount = amount * 10 + (value[i] - '0');
    }
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
