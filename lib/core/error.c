/* Thread-local error messages; see error.h for the convention. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char message[STEEP_ERROR_MAX];

int steep_error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    return -1;
}

int steep_error_wrap(const char *fmt, ...)
{
    char prefix[STEEP_ERROR_MAX];
    char old[STEEP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, message, sizeof(old));
    size_t n = strnlen(prefix, sizeof(message) - 3);
    memcpy(message, prefix, n);
    memcpy(message + n, ": ", 2);
    size_t room = sizeof(message) - n - 3;
    size_t m = strnlen(old, room);
    memcpy(message + n + 2, old, m);
    message[n + 2 + m] = '\0';
    return -1;
}

const char *steep_error_get(void)
{
    return message[0] ? message : "unknown error";
}

void steep_error_clear(void)
{
    message[0] = '\0';
}
