/*
 * Request strings from public clients: valid UTF-8 without NUL bytes.
 *
 * protobuf-c hands a `string` field to C code as a NUL-terminated char *,
 * so a NUL inside it silently cuts the value ("victim\0x" reads as
 * "victim"), and invalid UTF-8 later fails deep inside a service (JSON
 * records) as an unexplained internal error. proto3 requires strings to be
 * UTF-8 (Teaclave's decoder rejects others), so before a request from a
 * client without an attested identity is unpacked, its wire bytes are
 * walked with the request's descriptor and every string field, at any
 * depth, is checked. Anything else that is malformed is left to
 * protobuf_c_message_unpack, which refuses it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/text.h"
#include "rpc/internal.h"

#define MAX_DEPTH 32

static int read_varint(struct steep_cursor *c, uint64_t *out)
{
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t byte;
        if (steep_cursor_read_u8(c, &byte) < 0)
            return -1;
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 0;
        }
    }
    return -1;
}

static bool valid_utf8(const uint8_t *s, size_t n)
{
    struct steep_cursor c = steep_cursor_make(s, n);
    return steep_cursor_check_utf8(&c) == 0;
}

static int check(const ProtobufCMessageDescriptor *type, struct steep_cursor c, int depth,
                 char *why, size_t why_len)
{
    while (steep_cursor_remaining(&c) > 0) {
        uint64_t tag, length;
        const uint8_t *span;
        if (read_varint(&c, &tag) < 0)
            return 0; /* malformed: protobuf-c refuses it */
        switch (tag & 7) {
        case 0:
            if (read_varint(&c, &length) < 0)
                return 0;
            continue;
        case 1:
            if (steep_cursor_skip(&c, 8) < 0)
                return 0;
            continue;
        case 5:
            if (steep_cursor_skip(&c, 4) < 0)
                return 0;
            continue;
        case 2:
            if (read_varint(&c, &length) < 0 || length > steep_cursor_remaining(&c) ||
                steep_cursor_read_span(&c, &span, (size_t)length) < 0)
                return 0;
            break;
        default:
            return 0;
        }
        const ProtobufCFieldDescriptor *field =
            tag >> 3 <= UINT32_MAX
                ? protobuf_c_message_descriptor_get_field(type, (unsigned)(tag >> 3))
                : NULL;
        if (!field)
            continue;
        if (field->type == PROTOBUF_C_TYPE_STRING) {
            const char *problem = memchr(span, 0, (size_t)length)     ? "contains a NUL byte"
                                  : !valid_utf8(span, (size_t)length) ? "is not valid UTF-8"
                                                                      : NULL;
            if (problem) {
                snprintf(why, why_len, "string field '%s' %s", field->name, problem);
                return -1;
            }
        } else if (field->type == PROTOBUF_C_TYPE_MESSAGE && depth < MAX_DEPTH) {
            if (check(field->descriptor, steep_cursor_make(span, (size_t)length), depth + 1, why,
                      why_len) < 0)
                return -1;
        }
    }
    return 0;
}

int steep_rpc_check_strings(const ProtobufCMessageDescriptor *type, const uint8_t *data, size_t len,
                            char *why, size_t why_len)
{
    return check(type, steep_cursor_make(data, len), 0, why, why_len);
}
