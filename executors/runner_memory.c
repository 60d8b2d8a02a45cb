/*
 * Heap accounting inside the task runner. The runner is linked with
 * -Wl,--wrap=malloc,calloc,realloc,free, so every allocation made by the
 * function code (and the rest of the runner's static code) passes through
 * here. Once a limit is set, an allocation that would take the bytes in use
 * beyond it fails, and any failed allocation marks the task as having hit
 * its memory limit, even if the function recovers from the NULL: Teaclave's
 * functions abort on allocation failure, and the user should learn the
 * limit was the cause. Counting here rather than relying on RLIMIT_AS alone
 * also keeps sanitizer builds (whose allocator reports failures by reading
 * /proc) working under the seccomp filter. The runner is single-threaded.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner_confine.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
void __real_free(void *pointer);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *pointer, size_t size);
void __wrap_free(void *pointer);

static volatile bool allocation_failed;
static uint64_t heap_limit; /* 0: none */
static uint64_t heap_in_use;

void steep_runner_limit_heap(uint64_t bytes)
{
    heap_limit = bytes;
    heap_in_use = 0;
}

bool steep_runner_allocation_failed(void)
{
    return allocation_failed;
}

static bool would_exceed(uint64_t releasing, uint64_t size)
{
    if (heap_limit == 0)
        return false;
    uint64_t base = heap_in_use > releasing ? heap_in_use - releasing : 0;
    return size > heap_limit || base > heap_limit - size;
}

static void account(void *pointer, bool add)
{
    if (!pointer || heap_limit == 0)
        return;
    uint64_t size = malloc_usable_size(pointer);
    if (add)
        heap_in_use += size;
    else
        heap_in_use = heap_in_use > size ? heap_in_use - size : 0;
}

static void *failed(void)
{
    allocation_failed = true;
    return NULL;
}

void *__wrap_malloc(size_t size)
{
    if (would_exceed(0, size))
        return failed();
    void *p = __real_malloc(size);
    if (!p && size)
        return failed();
    account(p, true);
    return p;
}

void *__wrap_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return failed();
    if (would_exceed(0, (uint64_t)count * size))
        return failed();
    void *p = __real_calloc(count, size);
    if (!p && count && size)
        return failed();
    account(p, true);
    return p;
}

void *__wrap_realloc(void *pointer, size_t size)
{
    uint64_t old = pointer && heap_limit ? malloc_usable_size(pointer) : 0;
    if (size && would_exceed(old, size))
        return failed();
    void *p = __real_realloc(pointer, size);
    if (!p && size)
        return failed();
    heap_in_use = heap_in_use > old ? heap_in_use - old : 0;
    account(p, true);
    return p;
}

void __wrap_free(void *pointer)
{
    account(pointer, false);
    __real_free(pointer);
}
