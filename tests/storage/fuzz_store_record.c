/*
 * Fuzz target for the engine's parsers of on-disk bytes: a sealed record
 * (steep_store_unseal) under an arbitrary record key, and the log rendering
 * of arbitrary keys (steep_store_describe_key). Input: 1 byte record-key
 * length, the record key, then the sealed bytes. Anything that
 * authenticates must be a record this fuzzer sealed itself (it never is).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[STEEP_STORE_KEY_BYTES] = {9, 9, 9};
    static struct steep_store_sealer sealer;
    if (!sealer.cipher && steep_store_sealer_init(&sealer, key) < 0)
        abort();
    if (size < 1)
        return 0;
    size_t key_len = data[0];
    if (key_len > size - 1)
        key_len = size - 1;
    const uint8_t *record_key = data + 1;
    const uint8_t *sealed = record_key + key_len;
    size_t sealed_len = size - 1 - key_len;
    char name[160];
    steep_store_describe_key(record_key, key_len, name, sizeof name);
    struct steep_buf plain = STEEP_BUF_INIT;
    if (steep_store_unseal(&sealer, record_key, key_len, sealed, sealed_len, &plain) == 0)
        abort(); /* forging a GCM tag by chance: a bug, not luck */
    steep_buf_free(&plain);
    return 0;
}
