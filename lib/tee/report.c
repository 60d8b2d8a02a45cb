/*
 * IAS v4 report parsing. The report is untrusted until its signature is
 * checked and, even then, is parsed defensively: bounded size, exact types,
 * base64 decoded strictly (lib/core/text) and copied into a fixed buffer.
 */
#include "tee/report.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/text.h"

int steep_report_parse_time(const char *text, time_t *out)
{
    struct tm tm = {0};
    int consumed = 0;
    ENSURE(sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) == 6 &&
               consumed == 19,
           "report timestamp '%.40s' is not in the IAS format", text);
    const char *rest = text + consumed;
    if (*rest == '.') {
        rest++;
        size_t digits = strspn(rest, "0123456789");
        ENSURE(digits >= 1 && digits <= 9, "report timestamp has a bad fraction");
        rest += digits;
    }
    ENSURE(*rest == '\0', "report timestamp '%.40s' has trailing text", text);
    ENSURE(tm.tm_mon >= 1 && tm.tm_mon <= 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31 &&
               tm.tm_hour < 24 && tm.tm_min < 60 && tm.tm_sec < 61,
           "report timestamp '%.40s' is out of range", text);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return 0;
}

void steep_report_format_time(time_t seconds, long nanoseconds, char out[40])
{
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char date[24];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%09ld", date, nanoseconds);
}

static int copy_string(json_t *root, const char *key, char *out, size_t size)
{
    json_t *value = json_object_get(root, key);
    ENSURE(json_is_string(value), "report has no string \"%s\"", key);
    ENSURE(json_string_length(value) < size, "report \"%s\" is too long", key);
    memcpy(out, json_string_value(value), json_string_length(value) + 1);
    return 0;
}

static int decode_quote(json_t *root, struct steep_report *out)
{
    json_t *body = json_object_get(root, "isvEnclaveQuoteBody");
    ENSURE(json_is_string(body), "report has no string \"isvEnclaveQuoteBody\"");
    size_t len = json_string_length(body);
    /* 432 bytes are 576 base64 characters; anything much longer is wrong. */
    ENSURE(len > 0 && len % 4 == 0 && len <= 4 * ((STEEP_QUOTE_LEN + 2) / 3) + 8,
           "isvEnclaveQuoteBody has a bad length (%zu characters)", len);
    struct steep_cursor c = steep_cursor_make(json_string_value(body), len);
    struct steep_buf decoded = STEEP_BUF_INIT;
    if (steep_cursor_read_base64(&c, 0, &decoded) < 0) {
        steep_buf_free(&decoded);
        return steep_error_wrap("isvEnclaveQuoteBody is not base64");
    }
    int rc = decoded.len <= sizeof(out->quote_bytes)
                 ? 0
                 : steep_error_set("quote is %zu bytes, expected %d", decoded.len, STEEP_QUOTE_LEN);
    if (rc == 0) {
        memcpy(out->quote_bytes, decoded.data, decoded.len);
        out->quote_len = decoded.len;
    }
    steep_buf_free(&decoded);
    return rc;
}

static int parse_fields(json_t *root, struct steep_report *out)
{
    ENSURE(json_is_object(root), "report is not a JSON object");
    json_t *version = json_object_get(root, "version");
    ENSURE(json_is_integer(version), "report has no integer \"version\"");
    out->version = json_integer_value(version);
    ENSURE(out->version == 4, "report version %lld is not 4", (long long)out->version);
    GUARD(copy_string(root, "id", out->id, sizeof(out->id)));
    GUARD(copy_string(root, "isvEnclaveQuoteStatus", out->status, sizeof(out->status)));
    char timestamp[64];
    GUARD(copy_string(root, "timestamp", timestamp, sizeof(timestamp)));
    GUARD(steep_report_parse_time(timestamp, &out->timestamp));
    json_t *simulated = json_object_get(root, "steepSimulated");
    ENSURE(simulated == NULL || json_is_boolean(simulated),
           "report \"steepSimulated\" is not a boolean");
    out->simulated = json_is_true(simulated);
    return decode_quote(root, out);
}

int steep_report_parse(const uint8_t *json, size_t len, struct steep_report *out)
{
    memset(out, 0, sizeof(*out));
    ENSURE(len > 0 && len <= STEEP_REPORT_MAX_LEN, "report is %zu bytes (limit %d)", len,
           STEEP_REPORT_MAX_LEN);
    json_error_t error;
    json_t *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &error);
    ENSURE(root != NULL, "report is not valid JSON: %s", error.text);
    int rc = parse_fields(root, out);
    json_decref(root);
    return rc;
}
