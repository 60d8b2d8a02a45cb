/*
 * libFuzzer target for `steep serve-files` request heads: the bytes up to
 * the first blank line are parsed as the server does (cli_http_head_parse),
 * and an accepted target is mapped below a root (cli_http_path_resolve).
 * An accepted path must stay below the root with no ".." segment.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *end = memmem(data, size, "\r\n\r\n", 4);
    size_t len = end ? (size_t)(end - data) : size;
    struct cli_http_head head;
    if (cli_http_head_parse((const char *)data, len, &head) < 0)
        return 0;
    if (!head.method[0] || !head.target[0] || head.content_length < -1)
        abort();
    char path[PATH_MAX];
    if (cli_http_path_resolve("/srv", head.target, path, sizeof path) == 0) {
        if (strncmp(path, "/srv/", 5) != 0 || strstr(path, "/../") ||
            (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
            abort();
    }
    return 0;
}
