/*
 * gRPC wire details shared by the server, the client, the tests and the
 * fuzzers: the 5-byte length-prefixed message framing, grpc-message
 * percent-encoding, and grpc-timeout values.
 *
 * The frame reader is incremental: HTTP/2 DATA chunks are fed as they come,
 * the prefix is checked as soon as its 5 bytes are there (so an oversized or
 * compressed message is refused before any of it is buffered), and the
 * message buffer is reserved once, at its declared size.
 */
#ifndef STEEP_RPC_WIRE_H
#define STEEP_RPC_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define STEEP_RPC_FRAME_PREFIX 5

struct steep_rpc_frame_reader {
    size_t max_message;
    uint8_t prefix[STEEP_RPC_FRAME_PREFIX];
    size_t prefix_len;
    uint32_t message_len;
    struct steep_buf message; /* the one message, once complete */
    int messages;             /* complete messages seen */
    int status;               /* first failure (enum steep_grpc_code), 0 while fine */
    const char *reason;       /* text for status (static, or reason_text) */
    char reason_text[96];
};

void steep_rpc_frame_reader_init(struct steep_rpc_frame_reader *reader, size_t max_message);
void steep_rpc_frame_reader_free(struct steep_rpc_frame_reader *reader);
/* Feeds bytes of the stream. Returns 0, or a gRPC status code once the
 * stream is refused (then further bytes are ignored and nothing is kept). */
int steep_rpc_frame_feed(struct steep_rpc_frame_reader *reader, const uint8_t *data, size_t len);
/* At end of stream: 0 when exactly one complete message arrived, else a
 * gRPC status code with reader->reason. */
int steep_rpc_frame_finish(struct steep_rpc_frame_reader *reader);

/* Appends the 5-byte prefix and the packed message. */
int steep_rpc_frame_encode(const ProtobufCMessage *message, struct steep_buf *out);

/* grpc-message: percent-encodes bytes outside 0x20..0x7e and '%'. */
int steep_rpc_percent_encode(const char *text, struct steep_buf *out);
/* Decodes into out (always NUL-terminated, truncated to out_len-1); malformed
 * escapes are kept literally, as the gRPC spec asks. */
void steep_rpc_percent_decode(const char *text, size_t len, char *out, size_t out_len);

/* grpc-timeout "<1-8 digits><H|M|S|m|u|n>" to milliseconds, rounded up.
 * Returns 0, or -1 when malformed. */
int steep_rpc_timeout_parse(const char *value, size_t len, int64_t *ms);
/* Formats ms (> 0) as a grpc-timeout value; out holds at least 16 bytes. */
void steep_rpc_timeout_format(int64_t ms, char *out, size_t out_len);

#endif
