/*
 * libFuzzer target for the PCCS client's document cutter
 * (steep_pccs_raw_object): the signed "tcbInfo" / "enclaveIdentity" object
 * is cut byte for byte out of an untrusted HTTP answer. Whatever it returns
 * must lie inside the input, start with '{' and end with '}'.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tee/hw/pccs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"tcbInfo", "enclaveIdentity"};
    for (size_t i = 0; i < 2; i++) {
        const char *start = NULL;
        size_t len = 0;
        if (steep_pccs_raw_object((const char *)data, size, keys[i], &start, &len) != 0)
            continue;
        const char *text = (const char *)data;
        if (start < text || len < 2 || start + len > text + size || start[0] != '{' ||
            start[len - 1] != '}')
            abort();
    }
    return 0;
}
