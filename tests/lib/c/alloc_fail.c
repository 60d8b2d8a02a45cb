/*
 * The --wrap allocators of alloc_fail.h. Each wrapper counts the call when
 * armed and either fails it (NULL, errno ENOMEM) or passes it to the real
 * allocator (__real_*, which ASan intercepts as usual). The counters are
 * atomics: the store's committer and the RPC server run threads.
 */
#include "alloc_fail.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

static atomic_int armed;
static atomic_long target, calls, failed;
static atomic_int persistent_failure;

void alloc_fail_arm(long at, int persistent)
{
    atomic_store(&calls, 0);
    atomic_store(&failed, 0);
    atomic_store(&target, at);
    atomic_store(&persistent_failure, persistent);
    atomic_store(&armed, 1);
}

void alloc_fail_disarm(void)
{
    atomic_store(&armed, 0);
}

long alloc_fail_calls(void)
{
    return atomic_load(&calls);
}

long alloc_fail_failed(void)
{
    return atomic_load(&failed);
}

/* Whether this allocation is to fail. */
static int should_fail(void)
{
    if (!atomic_load(&armed))
        return 0;
    long n = atomic_fetch_add(&calls, 1) + 1, at = atomic_load(&target);
    if (at <= 0 || n < at || (n > at && !atomic_load(&persistent_failure)))
        return 0;
    atomic_fetch_add(&failed, 1);
    errno = ENOMEM;
    return 1;
}

void *__wrap_malloc(size_t size)
{
    return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return should_fail() ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return should_fail() ? NULL : __real_strndup(s, n);
}
