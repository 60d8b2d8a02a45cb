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
static char process[48] = "steep";

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

void steep_log(enum steep_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (!steep_log_enabled(level))
        return;

    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level], process);
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    size_t message_len = m < 0 ? 0 : (size_t)m < sizeof(message) ? (size_t)m : sizeof(message) - 1;
    /* room for the escaped text and the newline */
    size_t len = (size_t)n + escape((const unsigned char *)message, message_len, line + n,
                                    sizeof(line) - (size_t)n - 1);
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}
