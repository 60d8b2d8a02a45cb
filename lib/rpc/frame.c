/*
 * gRPC message framing: 1 byte compressed-flag, 4 bytes big-endian length,
 * then the message. Unary calls carry exactly one message per direction.
 * The reader checks the prefix before buffering anything, so a peer cannot
 * make us hold more than max_message bytes of one stream. Memory follows the
 * bytes that actually arrive (a declared length alone reserves at most
 * INITIAL_RESERVE; once that is full the rest of the declared length is
 * reserved, and only the pages written count), so announcing big messages
 * costs a peer real traffic.
 */
#include "rpc/wire.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "rpc/rpc.h"

#define INITIAL_RESERVE (64 * 1024)

void steep_rpc_frame_reader_init(struct steep_rpc_frame_reader *reader, size_t max_message)
{
    memset(reader, 0, sizeof(*reader));
    reader->max_message = max_message ? max_message : STEEP_RPC_DEFAULT_MAX_MESSAGE;
}

void steep_rpc_frame_reader_free(struct steep_rpc_frame_reader *reader)
{
    steep_buf_free(&reader->message);
}

static int refuse(struct steep_rpc_frame_reader *reader, int status, const char *reason)
{
    reader->status = status;
    reader->reason = reason;
    steep_buf_free(&reader->message);
    return status;
}

/* The prefix is complete: decide whether the message may be buffered. */
static int check_prefix(struct steep_rpc_frame_reader *reader)
{
    struct steep_cursor cursor = steep_cursor_make(reader->prefix, sizeof(reader->prefix));
    uint8_t flags;
    uint32_t length;
    if (steep_cursor_read_u8(&cursor, &flags) < 0 || steep_cursor_read_u32be(&cursor, &length) < 0)
        return refuse(reader, STEEP_GRPC_INTERNAL, "bad message prefix");
    if (reader->messages > 0)
        return refuse(reader, STEEP_GRPC_INVALID_ARGUMENT, "more than one message in a unary call");
    if (flags == 1)
        return refuse(reader, STEEP_GRPC_UNIMPLEMENTED, "compressed messages are not supported");
    if (flags != 0)
        return refuse(reader, STEEP_GRPC_INVALID_ARGUMENT, "invalid message flags");
    if (length > reader->max_message) {
        /* Both sizes, so a caller sees by how much to shrink the call. */
        snprintf(reader->reason_text, sizeof reader->reason_text,
                 "message of %u bytes is larger than the limit of %zu bytes", length,
                 reader->max_message);
        return refuse(reader, STEEP_GRPC_RESOURCE_EXHAUSTED, reader->reason_text);
    }
    reader->message_len = length;
    if (steep_buf_reserve(&reader->message, length < INITIAL_RESERVE ? length : INITIAL_RESERVE) <
        0)
        return refuse(reader, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

int steep_rpc_frame_feed(struct steep_rpc_frame_reader *reader, const uint8_t *data, size_t len)
{
    while (len > 0 && reader->status == 0) {
        if (reader->prefix_len < STEEP_RPC_FRAME_PREFIX) {
            size_t take = STEEP_RPC_FRAME_PREFIX - reader->prefix_len;
            if (take > len)
                take = len;
            memcpy(reader->prefix + reader->prefix_len, data, take);
            reader->prefix_len += take;
            data += take;
            len -= take;
            if (reader->prefix_len < STEEP_RPC_FRAME_PREFIX)
                break;
            if (check_prefix(reader) != 0)
                break;
        } else {
            size_t missing = reader->message_len - reader->message.len;
            size_t take = missing < len ? missing : len;
            /* Past the initial reserve, real bytes have come: reserve the
             * rest at once rather than doubling (which leaves up to half of
             * every big buffer as slack and copies it log n times). */
            if (reader->message.len + take >= reader->message.cap &&
                steep_buf_reserve(&reader->message, missing) < 0)
                return refuse(reader, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            if (steep_buf_append(&reader->message, data, take) < 0)
                return refuse(reader, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            data += take;
            len -= take;
        }
        if (reader->prefix_len == STEEP_RPC_FRAME_PREFIX &&
            reader->message.len == reader->message_len) {
            reader->messages++;
            reader->prefix_len = 0;
        }
    }
    return reader->status;
}

int steep_rpc_frame_finish(struct steep_rpc_frame_reader *reader)
{
    if (reader->status != 0)
        return reader->status;
    if (reader->prefix_len != 0)
        return refuse(reader, STEEP_GRPC_INVALID_ARGUMENT, "truncated message");
    if (reader->messages != 1)
        return refuse(reader, STEEP_GRPC_INVALID_ARGUMENT, "expected exactly one message");
    return 0;
}

int steep_rpc_frame_encode(const ProtobufCMessage *message, struct steep_buf *out)
{
    size_t size = protobuf_c_message_get_packed_size(message);
    ENSURE(size <= UINT32_MAX, "message too large to frame (%zu bytes)", size);
    GUARD(steep_buf_reserve(out, STEEP_RPC_FRAME_PREFIX + size));
    GUARD(steep_buf_append_u8(out, 0));
    GUARD(steep_buf_append_u32be(out, (uint32_t)size));
    size_t packed = protobuf_c_message_pack(message, out->data + out->len);
    ENSURE(packed == size, "protobuf packing produced %zu bytes, expected %zu", packed, size);
    out->len += packed;
    return 0;
}
