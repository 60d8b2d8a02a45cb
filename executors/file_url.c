/*
 * File URL parsing; see file_url.h. Everything reads the URL through
 * struct steep_cursor and the shared text readers (lib/core/text.h): the
 * file:// path ends where its query or fragment starts, and a percent
 * escape cannot read past that end.
 */
#include "file_url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/text.h"

int steep_file_url_path(const char *url, char *path, size_t size)
{
    size_t len = strlen(url);
    ENSURE(len >= 7 && strncasecmp(url, "file://", 7) == 0, "not a local file URL");
    struct steep_cursor c = steep_cursor_make(url, len);
    c.pos = 7;
    if (strncmp(url + c.pos, "localhost/", 10) == 0)
        c.pos += 9;
    ENSURE(c.pos < len && url[c.pos] == '/', "not a local file URL");
    c.len = c.pos + strcspn(url + c.pos, "?#");
    ENSURE(size > 0, "path too long");
    size_t n = 0;
    while (steep_cursor_remaining(&c) > 0) {
        uint8_t byte;
        ENSURE(steep_cursor_read_percent(&c, false, &byte) == 0 && byte != 0, "bad percent escape");
        ENSURE(n + 1 < size, "path too long");
        path[n++] = (char)byte;
    }
    path[n] = 0;
    return 0;
}

int steep_fusion_url_path(const char *url, const char *fusion_base, char *path, size_t size)
{
    ENSURE(strncmp(url, STEEP_FUSION_URL_PREFIX, strlen(STEEP_FUSION_URL_PREFIX)) == 0,
           "fusion URL must start with " STEEP_FUSION_URL_PREFIX);
    const char *rel = url + strlen(STEEP_FUSION_URL_PREFIX);
    ENSURE(*rel && *rel != '/', "fusion URL has no relative path");
    ENSURE(fusion_base && *fusion_base, "no fusion_base_dir configured");
    for (const char *p = rel; *p;) {
        size_t len = strcspn(p, "/");
        ENSURE(!(len == 2 && p[0] == '.' && p[1] == '.'), "fusion path escapes its base");
        ENSURE(len > 0 && !(len == 1 && p[0] == '.'), "fusion path is not normalised");
        p += len;
        if (*p == '/')
            p++;
    }
    ENSURE(strcspn(rel, "?#%") == strlen(rel), "fusion path has unsupported characters");
    ENSURE((size_t)snprintf(path, size, "%s/%s", fusion_base, rel) < size, "path too long");
    return 0;
}

int steep_data_url_decode(const char *url, struct steep_buf *out)
{
    ENSURE(strncmp(url, STEEP_DATA_URL_PREFIX, strlen(STEEP_DATA_URL_PREFIX)) == 0,
           "only data:text/plain;base64 URLs are supported");
    const char *text = url + strlen(STEEP_DATA_URL_PREFIX);
    struct steep_cursor c = steep_cursor_make(text, strlen(text));
    if (steep_cursor_read_base64(&c, STEEP_BASE64_SKIP_SPACE | STEEP_BASE64_LOOSE_BITS, out) < 0)
        return steep_error_wrap("invalid base64");
    return 0;
}

void steep_url_redact(const char *url, char *out, size_t size)
{
    if (strncmp(url, "data:", 5) == 0) {
        snprintf(out, size, "%.24s...", url);
        return;
    }
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    size_t end = strcspn(host, "?#");
    const char *at = memchr(host, '@', strcspn(host, "/?#"));
    size_t scheme_len = (size_t)(host - url);
    if (at) {
        end -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    snprintf(out, size, "%.*s%.*s", (int)scheme_len, url, (int)end, host);
}
