/* Fuzz target: the node <-> task runner frames (executors/runner_protocol.c):
 * requests as the runner decodes them, and the frames and OUTPUT payloads
 * the node parses from an untrusted runner. */
#include <stddef.h>
#include <stdint.h>

#include "executors/runner_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct steep_runner_request request;
    if (steep_runner_request_decode(data, size, &request) == 0)
        steep_runner_request_free(&request);
    struct steep_buf acc = {(uint8_t *)data, size, size, false};
    uint8_t type;
    const uint8_t *payload;
    size_t payload_len, consumed;
    while (steep_runner_frame_parse(&acc, steep_runner_max_frame(0), &type, &payload, &payload_len,
                                    &consumed) == 1) {
        char name[256];
        uint8_t cmac[16];
        if (type == STEEP_RUNNER_OUTPUT)
            steep_runner_output_decode(payload, payload_len, name, sizeof name, cmac);
        acc.data += consumed;
        acc.len -= consumed;
    }
    return 0;
}
