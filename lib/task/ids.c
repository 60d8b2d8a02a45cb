/* Record ids (ids.h). */
#include "task/ids.h"

#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/text.h"

void steep_uuid_format(const uint8_t b[16], char out[STEEP_UUID_TEXT])
{
    static const char hex[] = "0123456789abcdef";
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[pos++] = '-';
        out[pos++] = hex[b[i] >> 4];
        out[pos++] = hex[b[i] & 15];
    }
    out[pos] = '\0';
}

int steep_uuid_new(char out[STEEP_UUID_TEXT])
{
    uint8_t b[16];
    ENSURE(RAND_bytes(b, sizeof b) == 1, "random number generator failed");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    steep_uuid_format(b, out);
    return 0;
}

int steep_uuid_parse(const char *text, char out[STEEP_UUID_TEXT])
{
    ENSURE(text != NULL, "invalid uuid");
    size_t len = strlen(text);
    ENSURE(len == 36 || len == 32, "invalid uuid");
    /* 8-4-4-4-12 hex digits, the dashes optional as a whole */
    static const size_t group_bytes[5] = {4, 2, 2, 2, 6};
    uint8_t bytes[16];
    struct steep_cursor c = steep_cursor_make(text, len);
    for (size_t g = 0, at = 0; g < 5; at += group_bytes[g++]) {
        uint8_t dash = '-';
        if (g > 0 && len == 36)
            ENSURE(steep_cursor_read_u8(&c, &dash) == 0 && dash == '-', "invalid uuid");
        ENSURE(steep_cursor_read_hex(&c, bytes + at, group_bytes[g]) == 0, "invalid uuid");
    }
    steep_uuid_format(bytes, out);
    return 0;
}

int steep_id_new(const char *prefix, char out[STEEP_ID_TEXT], char uuid_out[STEEP_UUID_TEXT])
{
    char uuid[STEEP_UUID_TEXT];
    GUARD(steep_uuid_new(uuid));
    int n = snprintf(out, STEEP_ID_TEXT, "%s-%s", prefix, uuid);
    ENSURE(n > 0 && n < STEEP_ID_TEXT, "id prefix too long");
    if (uuid_out)
        memcpy(uuid_out, uuid, STEEP_UUID_TEXT);
    return 0;
}

int steep_id_parse(const char *text, const char *prefix, char uuid_out[STEEP_UUID_TEXT])
{
    ENSURE(text != NULL, "missing id");
    const char *dash = strchr(text, '-');
    ENSURE(dash != NULL, "invalid id");
    size_t prefix_len = strlen(prefix);
    ENSURE((size_t)(dash - text) == prefix_len && memcmp(text, prefix, prefix_len) == 0,
           "invalid id prefix");
    return steep_uuid_parse(dash + 1, uuid_out);
}

int steep_id_task_uuid(const char *text, char out[STEEP_UUID_TEXT])
{
    ENSURE(text != NULL, "invalid task id");
    if (strncmp(text, "task-", 5) == 0)
        text += 5;
    ENSURE(steep_uuid_parse(text, out) == 0, "invalid task id");
    return 0;
}
