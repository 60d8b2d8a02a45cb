/*
 * Allocation failure tracking inside the task runner. The runner is linked
 * with -Wl,--wrap=malloc,calloc,realloc, so every allocation made by the
 * function code (and the rest of the runner's static code) passes through
 * here. Once an allocation fails under the address-space rlimit, the
 * function has hit its memory limit, even if it recovers from the NULL:
 * Teaclave's functions abort on allocation failure, and the user should
 * learn the limit was the cause.
 */
#include <stdbool.h>
#include <stddef.h>

#include "runner_confine.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *pointer, size_t size);

static volatile bool allocation_failed;

void *__wrap_malloc(size_t size)
{
    void *p = __real_malloc(size);
    if (!p && size)
        allocation_failed = true;
    return p;
}

void *__wrap_calloc(size_t count, size_t size)
{
    void *p = __real_calloc(count, size);
    if (!p && count && size)
        allocation_failed = true;
    return p;
}

void *__wrap_realloc(void *pointer, size_t size)
{
    void *p = __real_realloc(pointer, size);
    if (!p && size)
        allocation_failed = true;
    return p;
}

bool steep_runner_allocation_failed(void)
{
    return allocation_failed;
}
