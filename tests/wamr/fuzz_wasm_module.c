/* Fuzz target: the node's decoding of untrusted WebAssembly payloads
 * (executors/wamr/module.c) before anything else sees them. */
#include <stddef.h>
#include <stdint.h>

#include "executors/wamr/module.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct steep_wamr_module_info info;
    steep_wamr_module_check(data, size, &info);
    return 0;
}
