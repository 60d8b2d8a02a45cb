/*
 * Fuzzes the admin port's request parser (lib/service/admin_http.c):
 * any bytes give one of the routes, never a read outside the buffer, and
 * only the exact request lines of /metrics and /healthz route to them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/admin_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so ASan sees any overread */
    uint8_t *head = malloc(size ? size : 1);
    if (!head)
        return 0;
    memcpy(head, data, size);
    enum steep_admin_http_route route = steep_admin_http_route(head, size);
    if (route == STEEP_ADMIN_HTTP_METRICS || route == STEEP_ADMIN_HTTP_HEALTHZ) {
        const char *expected =
            route == STEEP_ADMIN_HTTP_METRICS ? "GET /metrics HTTP/1." : "GET /healthz HTTP/1.";
        if (size < strlen(expected) || memcmp(head, expected, strlen(expected)))
            abort();
    }
    free(head);
    return 0;
}
