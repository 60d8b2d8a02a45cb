/* Per-name admission counts (core/quota.h): both ceilings, release, and a
 * name's entry going away with its last hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/quota.h"

static void test_ceilings(void **state)
{
    (void)state;
    struct steep_quota quota;
    steep_quota_init(&quota, 5, 3);
    for (int i = 0; i < 3; i++)
        assert_true(steep_quota_acquire(&quota, "alice"));
    assert_false(steep_quota_acquire(&quota, "alice")); /* her share */
    assert_int_equal(steep_quota_count(&quota, "alice"), 3);
    assert_true(steep_quota_acquire(&quota, "bob"));
    assert_true(steep_quota_acquire(&quota, "carol"));
    assert_false(steep_quota_acquire(&quota, "dave")); /* the total */
    steep_quota_release(&quota, "alice");
    assert_true(steep_quota_acquire(&quota, "dave"));
    assert_false(steep_quota_acquire(&quota, "alice"));
    steep_quota_free(&quota);
}

static void test_release(void **state)
{
    (void)state;
    struct steep_quota quota;
    steep_quota_init(&quota, 10, 2);
    assert_true(steep_quota_acquire(&quota, "alice"));
    steep_quota_release(&quota, "alice");
    assert_int_equal(steep_quota_count(&quota, "alice"), 0);
    assert_null(quota.entries);            /* nothing kept for a name with no holds */
    steep_quota_release(&quota, "nobody"); /* not held: no effect */
    assert_int_equal(quota.total, 0);
    assert_true(steep_quota_acquire(&quota, ""));
    assert_int_equal(steep_quota_count(&quota, ""), 1);
    steep_quota_free(&quota); /* frees what is still counted */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceilings),
        cmocka_unit_test(test_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
