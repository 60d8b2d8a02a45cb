/*
 * Error convention for all of Steep's C code.
 *
 * A function that can fail returns int: 0 on success, -1 on failure, after
 * recording a message a user can act on with steep_error_set(). The message
 * lives in thread-local storage until the next steep_error_set() on the same
 * thread. GUARD() propagates failure so the success path reads straight down
 * (the s2n-tls idiom).
 */
#ifndef STEEP_CORE_ERROR_H
#define STEEP_CORE_ERROR_H

#include <stddef.h>

#define STEEP_ERROR_MAX 512

/* Records the message and returns -1, so `return steep_error_set(...)` works. */
int steep_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefixes the current message with more context: "ctx: old message". */
int steep_error_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *steep_error_get(void);
void steep_error_clear(void);

#define GUARD(x)                                                                                   \
    do {                                                                                           \
        if ((x) < 0)                                                                               \
            return -1;                                                                             \
    } while (0)

#define GUARD_PTR(x)                                                                               \
    do {                                                                                           \
        if ((x) < 0)                                                                               \
            return NULL;                                                                           \
    } while (0)

/* Fails with a message when cond is false. */
#define ENSURE(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return steep_error_set(__VA_ARGS__);                                                   \
    } while (0)

#endif
