/*
 * Logging: formats a whole line in a local buffer and writes it with one
 * write(2), so lines from different threads never interleave.
 *
 * Log forging (issue 14, item 16): fields often come from callers (user
 * ids, URLs, peer names), so the formatted message is escaped as a whole
 * before it is written: C0 controls, DEL and the C1 controls (U+0080 to
 * U+009F, as UTF-8) become \xNN (\n, \r, \t by name) and a backslash
 * becomes \\. One event is then always exactly one line, and a reader can
 * tell an escape from the same characters typed by an attacker.
 *
 * The JSON format escapes the same way JSON must (quotes, backslash,
 * controls as \u00XX, DEL and C1 too) and replaces bytes that are not
 * UTF-8 with U+FFFD, so every line parses as one JSON object.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum steep_log_level current_level = STEEP_LOG_INFO;
static enum steep_log_format current_format = STEEP_LOG_TEXT;
static char process[48] = "steep";

#define CONTEXT_ID_MAX 65
static _Thread_local char request_id[CONTEXT_ID_MAX];
static _Thread_local char task_id[CONTEXT_ID_MAX];

void steep_log_set_format(enum steep_log_format format)
{
    current_format = format;
}

static void set_id(char *slot, const char *id)
{
    snprintf(slot, CONTEXT_ID_MAX, "%s", id ? id : "");
}

void steep_log_set_request_id(const char *id)
{
    set_id(request_id, id);
}

const char *steep_log_request_id(void)
{
    return request_id;
}

void steep_log_set_task_id(const char *id)
{
    set_id(task_id, id);
}

const char *steep_log_task_id(void)
{
    return task_id;
}

void steep_log_init(const char *process_name)
{
    if (process_name)
        snprintf(process, sizeof(process), "%s", process_name);
    const char *env = getenv("STEEP_LOG");
    if (!env)
        return;
    if (!strcasecmp(env, "debug"))
        current_level = STEEP_LOG_DEBUG;
    else if (!strcasecmp(env, "info"))
        current_level = STEEP_LOG_INFO;
    else if (!strcasecmp(env, "warn"))
        current_level = STEEP_LOG_WARN;
    else if (!strcasecmp(env, "error"))
        current_level = STEEP_LOG_ERROR;
}

void steep_log_set_level(enum steep_log_level level)
{
    current_level = level;
}

int steep_log_enabled(enum steep_log_level level)
{
    return level <= current_level;
}

/* Appends the escaped message to out (at most room - 1 bytes, never a torn
 * escape); returns the length written. */
static size_t escape(const unsigned char *in, size_t in_len, char *out, size_t room)
{
    size_t n = 0;
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = in[i];
        char esc[12];
        size_t len = 1;
        bool c1 = c == 0xc2 && i + 1 < in_len && in[i + 1] >= 0x80 && in[i + 1] <= 0x9f;
        if (c1)
            len = (size_t)snprintf(esc, sizeof esc, "\\xc2\\x%02x", in[++i]);
        else if (c == '\\')
            len = (size_t)snprintf(esc, sizeof esc, "\\\\");
        else if (c == '\n' || c == '\r' || c == '\t')
            len = (size_t)snprintf(esc, sizeof esc, "\\%c",
                                   c == '\n'   ? 'n'
                                   : c == '\r' ? 'r'
                                               : 't');
        else if (c < 0x20 || c == 0x7f)
            len = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
        else
            esc[0] = (char)c;
        if (n + len >= room)
            break;
        memcpy(out + n, esc, len);
        n += len;
    }
    return n;
}

/* The length of the UTF-8 sequence at in[i] (1..4), or 0 when it is not one. */
static size_t utf8_length(const unsigned char *in, size_t i, size_t in_len)
{
    unsigned char c = in[i];
    size_t len = c < 0x80             ? 1
                 : (c & 0xe0) == 0xc0 ? 2
                 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (len == 0 || (len == 2 && c < 0xc2) || (len == 4 && c > 0xf4) || i + len > in_len)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((in[i + k] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* Appends in as the body of a JSON string (at most room - 1 bytes, never a
 * torn escape); returns the length written. */
static size_t json_escape(const unsigned char *in, size_t in_len, char *out, size_t room)
{
    size_t n = 0;
    for (size_t i = 0; i < in_len;) {
        unsigned char c = in[i];
        char esc[12];
        size_t len, used = utf8_length(in, i, in_len);
        bool c1 = used == 2 && c == 0xc2 && in[i + 1] <= 0x9f;
        if (c1)
            len = (size_t)snprintf(esc, sizeof esc, "\\u%04x", in[i + 1]);
        else if (used == 0) {
            len = (size_t)snprintf(esc, sizeof esc, "\\ufffd");
            used = 1;
        } else if (c == '"' || c == '\\')
            len = (size_t)snprintf(esc, sizeof esc, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            len = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        else {
            memcpy(esc, in + i, used);
            len = used;
        }
        if (n + len >= room)
            break;
        memcpy(out + n, esc, len);
        n += len;
        i += used;
    }
    return n;
}

static size_t format_time(char *out, size_t room)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(out, room, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    return n < 0 ? 0 : (size_t)n;
}

/* {"time":…,"level":…,"service":…,"message":…[,"request_id":…][,"task_id":…]} */
static size_t format_json(char *line, size_t room, enum steep_log_level level, const char *message,
                          size_t message_len)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    char time_text[40];
    format_time(time_text, sizeof time_text);
    /* the ids are checked at the RPC layer, yet escaped like everything else */
    char ids[2 * (6 * CONTEXT_ID_MAX + 20)] = "";
    size_t k = 0;
    const char *keys[] = {"request_id", "task_id"}, *values[] = {request_id, task_id};
    for (int i = 0; i < 2; i++) {
        if (!values[i][0])
            continue;
        k += (size_t)snprintf(ids + k, sizeof ids - k, ",\"%s\":\"", keys[i]);
        k += json_escape((const unsigned char *)values[i], strlen(values[i]), ids + k,
                         sizeof ids - k - 2);
        ids[k++] = '"';
        ids[k] = '\0';
    }
    int n =
        snprintf(line, room, "{\"time\":\"%s\",\"level\":\"%s\",\"service\":\"%s\",\"message\":\"",
                 time_text, names[level], process);
    size_t len = (size_t)n;
    size_t tail = strlen(ids) + 2; /* '"' ids '}' */
    len +=
        json_escape((const unsigned char *)message, message_len, line + len, room - len - tail - 1);
    line[len++] = '"';
    memcpy(line + len, ids, strlen(ids));
    len += strlen(ids);
    line[len++] = '}';
    return len;
}

void steep_log(enum steep_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (!steep_log_enabled(level))
        return;

    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    size_t message_len = m < 0 ? 0 : (size_t)m < sizeof(message) ? (size_t)m : sizeof(message) - 1;
    char line[4096];
    size_t len;
    if (current_format == STEEP_LOG_JSON) {
        len = format_json(line, sizeof(line) - 1, level, message, message_len);
    } else {
        len = format_time(line, sizeof line);
        len +=
            (size_t)snprintf(line + len, sizeof(line) - len, " %-5s %s: ", names[level], process);
        /* room for the escaped text and the newline */
        len +=
            escape((const unsigned char *)message, message_len, line + len, sizeof(line) - len - 1);
    }
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}
