/* Standard base64 encode/decode; see base64.h. */
#include "functions/base64.h"

#include "core/error.h"

#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int steep_base64_encode(const uint8_t *in, size_t len, struct steep_buf *out)
{
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        char quad[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63],
                        i + 1 < len ? alphabet[(v >> 6) & 63] : '=',
                        i + 2 < len ? alphabet[v & 63] : '='};
        GUARD(steep_buf_append(out, quad, 4));
    }
    return 0;
}

static int value_of(char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

int steep_base64_decode(const char *in, struct steep_buf *out)
{
    size_t len = strlen(in);
    size_t pad = 0;
    while (pad < 2 && len > pad && in[len - 1 - pad] == '=')
        pad++;
    size_t body = len - pad;
    for (size_t i = 0; i < body; i++)
        ENSURE(value_of(in[i]) >= 0, "Invalid byte %u, offset %zu.", (unsigned char)in[i], i);
    ENSURE(body % 4 != 1, "Encoded text cannot have a 6-bit remainder.");
    ENSURE(len % 4 == 0 || pad == 0, "Invalid padding");
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < body; i++) {
        acc = (acc << 6) | (uint32_t)value_of(in[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            GUARD(steep_buf_append_u8(out, (uint8_t)(acc >> bits)));
        }
    }
    ENSURE((acc & ((1u << bits) - 1)) == 0, "Invalid last symbol %u, offset %zu.",
           (unsigned char)in[body - 1], body - 1);
    return 0;
}
