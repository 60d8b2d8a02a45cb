/*
 * libFuzzer target for a task's file URLs as the file agent reads them
 * (executors/file_url.h). The input is one URL; every parser sees it:
 * file:// and fusion:/// paths (an accepted one stays absolute, below the
 * fusion base, without "..", and fits), data: URLs (decoded size bounded
 * by the text), and redaction (never longer than the URL, no query).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "file_url.h"

#define BASE "/fusion"

static bool has_dotdot_segment(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    char path[256];
    if (steep_file_url_path(url, path, sizeof path) == 0 &&
        (path[0] != '/' || strlen(path) >= sizeof path))
        abort();
    if (steep_fusion_url_path(url, BASE, path, sizeof path) == 0 &&
        (strncmp(path, BASE "/", strlen(BASE) + 1) != 0 || has_dotdot_segment(path)))
        abort();
    struct steep_buf decoded = STEEP_BUF_INIT;
    if (steep_data_url_decode(url, &decoded) == 0 && decoded.len > size / 4 * 3)
        abort();
    steep_buf_free(&decoded);
    char redacted[128];
    steep_url_redact(url, redacted, sizeof redacted);
    if (strncmp(url, "data:", 5) != 0 && strlen(redacted) > strlen(url))
        abort();
    free(url);
    return 0;
}
