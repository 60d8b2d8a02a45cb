/*
 * Error convention for all of Steep's C code.
 *
 * A function that can fail returns int: 0 on success, -1 on failure, after
 * recording a message a user can act on with steep_error_set(). The message
 * lives in thread-local storage until the next steep_error_set() on the same
 * thread. GUARD() propagates failure so the success path reads straight down
 * (the s2n-tls idiom).
 *
 * A function that holds resources uses the cleanup form instead: it
 * declares `int rc = 0;` and every resource at its empty value (NULL, -1,
 * STEEP_BUF_INIT) before the first check, checks with GUARD_GOTO/
 * ENSURE_GOTO, and releases everything once after a single `out:` label:
 *
 *     int rc = 0;
 *     FILE *f = NULL;
 *     ENSURE_GOTO((f = fopen(path, "r")) != NULL, out, "cannot open %s", path);
 *     GUARD_GOTO(parse(f), out);
 * out:
 *     if (f)
 *         fclose(f);
 *     return rc;
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

/* On failure: rc = -1 and goto label (the function's cleanup). */
#define GUARD_GOTO(x, label)                                                                       \
    do {                                                                                           \
        if ((x) < 0) {                                                                             \
            rc = -1;                                                                               \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

/* When cond is false: records the message, rc = -1 and goto label. */
#define ENSURE_GOTO(cond, label, ...)                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            rc = steep_error_set(__VA_ARGS__);                                                     \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

#endif
