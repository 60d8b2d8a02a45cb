/*
 * A small list of header (metadata) pairs. Each pair is one allocation,
 * "key\0value\0", with value pointing inside it; keys are stored lowercase
 * as HTTP/2 requires.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "rpc/internal.h"

int steep_rpc_headers_add(struct steep_rpc_headers *headers, const char *key, size_t key_len,
                          const char *value, size_t value_len)
{
    if (headers->count == headers->capacity) {
        size_t capacity = headers->capacity ? headers->capacity * 2 : 8;
        struct steep_rpc_header *items = realloc(headers->items, capacity * sizeof(*items));
        ENSURE(items, "out of memory");
        headers->items = items;
        headers->capacity = capacity;
    }
    char *pair = malloc(key_len + value_len + 2);
    ENSURE(pair, "out of memory");
    for (size_t i = 0; i < key_len; i++) /* HTTP/2 header names are lowercase */
        pair[i] = (char)tolower((unsigned char)key[i]);
    pair[key_len] = '\0';
    memcpy(pair + key_len + 1, value, value_len);
    pair[key_len + 1 + value_len] = '\0';
    headers->items[headers->count].key = pair;
    headers->items[headers->count].value = pair + key_len + 1;
    headers->count++;
    return 0;
}

const char *steep_rpc_headers_get(const struct steep_rpc_headers *headers, const char *key)
{
    for (size_t i = 0; i < headers->count; i++) {
        if (strcasecmp(headers->items[i].key, key) == 0)
            return headers->items[i].value;
    }
    return NULL;
}

void steep_rpc_headers_free(struct steep_rpc_headers *headers)
{
    for (size_t i = 0; i < headers->count; i++)
        free(headers->items[i].key);
    free(headers->items);
    memset(headers, 0, sizeof(*headers));
}
