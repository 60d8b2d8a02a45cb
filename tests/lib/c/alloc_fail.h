/*
 * Allocation-failure injection for tests of Steep's statically linked code
 * (lib/rpc, lib/store, lib/core, ...), SQLite-style: count the allocations
 * an operation makes (a census, at 0), then rerun it failing the 1st, 2nd,
 * ... Nth, asserting each run ends in a clean error and, under ASan, leaks
 * nothing.
 *
 * A test executable built with steep_alloc_fail_test() (tests/lib) links
 * with -Wl,--wrap for malloc, calloc, realloc, strdup and strndup, which
 * sends every such call made from the objects of that link (our static
 * libraries and the test) to the wrappers in alloc_fail.c. Shared libraries
 * (libc itself, LevelDB, nghttp2, OpenSSL, protobuf-c) keep the real
 * allocator: what is tested is Steep's own handling of a NULL. Counting
 * runs only between arm and disarm, on every thread.
 */
#ifndef STEEP_TESTS_ALLOC_FAIL_H
#define STEEP_TESTS_ALLOC_FAIL_H

/* Starts counting; the at-th allocation from now (1-based) fails, and with
 * persistent every later one too. at 0 only counts. */
void alloc_fail_arm(long at, int persistent);
/* Stops counting and failing. */
void alloc_fail_disarm(void);
/* Allocations counted since the last arm, and how many were failed. */
long alloc_fail_calls(void);
long alloc_fail_failed(void);

#endif
