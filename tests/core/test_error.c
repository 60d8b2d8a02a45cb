/*
 * The cleanup idiom of lib/core/error.h: GUARD_GOTO and ENSURE_GOTO set rc,
 * keep the message and reach the function's single cleanup label, whichever
 * step fails; on success the cleanup runs too and rc stays 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static int released;

static int step(int fail_at, int i)
{
    return i == fail_at ? steep_error_set("step %d failed", i) : 0;
}

/* Holds a resource across three steps that may fail; fail_at 3 fails the
 * ENSURE, anything else past 3 fails nothing. */
static int holder(int fail_at)
{
    int rc = 0;
    char *resource = NULL;
    GUARD_GOTO(step(fail_at, 0), out);
    resource = malloc(16);
    ENSURE_GOTO(resource != NULL, out, "out of memory");
    GUARD_GOTO(step(fail_at, 1), out);
    GUARD_GOTO(step(fail_at, 2), out);
    ENSURE_GOTO(fail_at != 3, out, "check %d failed", 3);
out:
    if (resource)
        released++;
    free(resource);
    return rc;
}

static void test_cleanup_idiom(void **state)
{
    (void)state;
    for (int fail_at = 0; fail_at <= 4; fail_at++) {
        released = 0;
        int rc = holder(fail_at);
        if (fail_at == 4) {
            assert_int_equal(rc, 0);
            assert_int_equal(released, 1);
            continue;
        }
        assert_int_equal(rc, -1);
        assert_int_equal(released, fail_at == 0 ? 0 : 1);
        char want[32];
        snprintf(want, sizeof want, fail_at == 3 ? "check %d failed" : "step %d failed", fail_at);
        assert_string_equal(steep_error_get(), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cleanup_idiom)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
