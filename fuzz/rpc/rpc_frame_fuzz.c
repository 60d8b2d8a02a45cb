/*
 * Fuzzes the gRPC message frame reader: the input is split into chunks fed
 * one by one (chunk size and message limit taken from the first bytes),
 * then the end of stream is declared. The reader must never keep more than
 * the limit and must agree with itself on what it accepted.
 */
#include <stdint.h>
#include <stdlib.h>

#include "rpc/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t chunk = data[0] % 32 + 1;
    size_t limit = (size_t)data[1] * 16;
    struct steep_rpc_frame_reader reader;
    steep_rpc_frame_reader_init(&reader, limit ? limit : 1);
    for (size_t offset = 2; offset < size; offset += chunk) {
        size_t length = size - offset < chunk ? size - offset : chunk;
        if (steep_rpc_frame_feed(&reader, data + offset, length) != 0)
            break;
    }
    int status = steep_rpc_frame_finish(&reader);
    if (status == 0 && reader.message.len > reader.max_message)
        abort();
    if (status != 0 && reader.message.data && reader.status != 0)
        abort();
    steep_rpc_frame_reader_free(&reader);
    return 0;
}
