/*
 * The engine's internal key space (layout in internal.h): user records,
 * queue counters and elements, and the marker live under distinct
 * one-byte namespaces, so no user key can reach a queue or the marker.
 */
#include <stdio.h>

#include "store/internal.h"

int steep_store_user_key(struct steep_buf *out, const void *key, size_t key_len)
{
    steep_buf_reset(out);
    GUARD(steep_buf_append_u8(out, STEEP_STORE_NS_USER));
    return steep_buf_append(out, key, key_len);
}

static int append_u64be(struct steep_buf *out, uint64_t v)
{
    GUARD(steep_buf_append_u32be(out, (uint32_t)(v >> 32)));
    return steep_buf_append_u32be(out, (uint32_t)v);
}

int steep_store_queue_key(struct steep_buf *out, const void *queue, size_t queue_len, char part,
                          uint64_t index)
{
    ENSURE(queue_len <= UINT32_MAX, "queue name too long");
    steep_buf_reset(out);
    GUARD(steep_buf_append_u8(out, STEEP_STORE_NS_QUEUE));
    GUARD(steep_buf_append_u32be(out, (uint32_t)queue_len));
    GUARD(steep_buf_append(out, queue, queue_len));
    GUARD(steep_buf_append_u8(out, (uint8_t)part));
    if (part == 'e')
        GUARD(append_u64be(out, index));
    return 0;
}

uint64_t steep_store_hash_key(const uint8_t *key, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return h;
}

void steep_store_describe_key(const uint8_t *key, size_t key_len, char *out, size_t out_len)
{
    size_t used = 0;
    if (out_len < 16)
        return;
    out[0] = '\0';
    /* user records by their own key; queue and marker records by namespace */
    if (key_len > 0 && key[0] == STEEP_STORE_NS_USER) {
        key++;
        key_len--;
    } else if (key_len > 0) {
        used = (size_t)snprintf(out, out_len,
                                "%s:", key[0] == STEEP_STORE_NS_QUEUE ? "queue" : "internal");
        key++;
        key_len--;
    }
    for (size_t i = 0; i < key_len && used + 8 < out_len; i++) {
        uint8_t c = key[i];
        int n = (c >= 0x20 && c < 0x7f && c != '\\')
                    ? snprintf(out + used, out_len - used, "%c", c)
                    : snprintf(out + used, out_len - used, "\\x%02x", c);
        used += (size_t)n;
    }
    if (used + 8 >= out_len && used + 4 <= out_len)
        snprintf(out + used, out_len - used, "...");
}
