/*
 * Logging: formats a whole line in a local buffer and writes it with one
 * write(2), so lines from different threads never interleave.
 */
#include "core/log.h"

#include <stdarg.h>
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

void steep_log(enum steep_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (!steep_log_enabled(level))
        return;

    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level], process);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}
