/*
 * Unit tests of the policy language: every operator (true and false), the
 * evaluation of term queries with static and dynamic facts, and the
 * denials for malformed decisions.
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
#include "policy/policy.h"

static const char *base_policy = "[requests]\n"
                                 "check = a, b, task, data, user\n"
                                 "[terms]\n"
                                 "data_owner = data, usr\n"
                                 "task_participant = task, usr\n"
                                 "pair = left, right\n"
                                 "[facts]\n"
                                 "pair \"x\", \"y\"\n"
                                 "pair \"x\", \"z\"\n";

/* Loads base_policy with the given matcher for `check`. */
static struct steep_policy *with_matcher(const char *matcher)
{
    char text[4096];
    snprintf(text, sizeof text, "%s[matchers]\ncheck = %s\n", base_policy, matcher);
    const char *names[] = {"test.policy"};
    const char *texts[] = {text};
    struct steep_policy *p = steep_policy_load_texts(names, texts, 1);
    if (!p)
        fail_msg("policy did not load: %s", steep_error_get());
    return p;
}

static const char *const owners_d1[][2] = {{"d1", "alice"}, {"d1", "bob"}};
static const char *const parts_t1[][2] = {{"t1", "alice"}, {"t1", "bob"}, {"t1", "carol"}};
static const char *const parts_t2[][2] = {{"t2", "alice"}};

/* Decides `check` with fields a, b, task=t1/t2, data=d1, user and the facts above. */
static bool decide(const char *matcher, const char *a, const char *b, const char *task,
                   const char *user)
{
    struct steep_policy *p = with_matcher(matcher);
    struct steep_policy_field fields[] = {
        {"a", a}, {"b", b}, {"task", task}, {"data", "d1"}, {"user", user}};
    struct steep_policy_fact facts[8];
    size_t n = 0;
    for (size_t i = 0; i < 2; i++)
        facts[n++] = (struct steep_policy_fact){"data_owner", owners_d1[i], 2};
    for (size_t i = 0; i < 3; i++)
        facts[n++] = (struct steep_policy_fact){"task_participant", parts_t1[i], 2};
    facts[n++] = (struct steep_policy_fact){"task_participant", parts_t2[0], 2};
    bool accept = true;
    char reason[256];
    int rc = steep_policy_decide(p, "check", fields, 5, facts, n, &accept, reason, sizeof reason);
    assert_int_equal(rc, 0);
    if (!accept)
        assert_non_null(strstr(reason, "denied by the matcher of 'check'"));
    else
        assert_string_equal(reason, "");
    steep_policy_free(p);
    return accept;
}

static void test_string_equality(void **state)
{
    assert_true(decide("check.a == \"x\"", "x", "y", "t1", "u"));
    assert_false(decide("check.a == \"x\"", "xx", "y", "t1", "u"));
    assert_true(decide("check.a == check.b", "same", "same", "t1", "u"));
    assert_false(decide("check.a != check.b", "same", "same", "t1", "u"));
    assert_true(decide("check.a != check.b", "one", "two", "t1", "u"));
}

static void test_fact_existence(void **state)
{
    assert_true(decide("pair(check.a, check.b)", "x", "y", "t1", "u"));
    assert_false(decide("pair(check.a, check.b)", "y", "x", "t1", "u"));
    assert_true(decide("pair(\"x\", \"z\")", "", "", "t1", "u"));
    assert_true(decide("data_owner(check.data, check.user)", "", "", "t1", "bob"));
    assert_false(decide("data_owner(check.data, check.user)", "", "", "t1", "carol"));
}

static void test_subset_superset(void **state)
{
    const char *rule = "data_owner(check.data, _) <= task_participant(check.task, _)";
    assert_true(decide(rule, "", "", "t1", "u"));
    assert_false(decide(rule, "", "", "t2", "u"));
    const char *reverse = "task_participant(check.task, _) >= data_owner(check.data, _)";
    assert_true(decide(reverse, "", "", "t1", "u"));
    assert_false(decide(reverse, "", "", "t2", "u"));
    /* the empty set is a subset of every set, and of itself */
    assert_true(
        decide("data_owner(\"none\", _) <= task_participant(check.task, _)", "", "", "t2", "u"));
    assert_true(decide("data_owner(\"none\", _) <= data_owner(\"nothing\", _)", "", "", "t2", "u"));
    assert_false(decide("data_owner(check.data, _) <= data_owner(\"none\", _)", "", "", "t2", "u"));
}

static void test_set_equality(void **state)
{
    assert_true(decide("data_owner(check.data, _) == data_owner(\"d1\", _)", "", "", "t1", "u"));
    assert_false(
        decide("data_owner(check.data, _) == task_participant(check.task, _)", "", "", "t1", "u"));
    assert_true(
        decide("data_owner(check.data, _) != task_participant(check.task, _)", "", "", "t1", "u"));
    /* the column `_` may be any one; here the left column */
    assert_true(decide("pair(_, \"y\") == pair(_, \"z\")", "", "", "t1", "u"));
}

static void test_membership(void **state)
{
    const char *rule = "check.user in task_participant(check.task, _)";
    assert_true(decide(rule, "", "", "t1", "carol"));
    assert_false(decide(rule, "", "", "t2", "carol"));
    assert_false(decide(rule, "", "", "t3", "alice"));
}

static void test_boolean_operators(void **state)
{
    assert_true(decide("check.a == \"1\" and check.b == \"2\"", "1", "2", "t1", "u"));
    assert_false(decide("check.a == \"1\" and check.b == \"2\"", "1", "3", "t1", "u"));
    assert_true(decide("check.a == \"1\" or check.b == \"2\"", "0", "2", "t1", "u"));
    assert_false(decide("check.a == \"1\" or check.b == \"2\"", "0", "3", "t1", "u"));
    assert_true(decide("not check.a == \"1\"", "0", "", "t1", "u"));
    assert_false(decide("not check.a == \"1\"", "1", "", "t1", "u"));
    assert_true(decide("not not check.a == \"1\"", "1", "", "t1", "u"));
    /* and binds tighter than or; parentheses override */
    assert_true(
        decide("check.a == \"1\" or check.a == \"2\" and check.b == \"x\"", "1", "y", "t1", "u"));
    assert_false(
        decide("(check.a == \"1\" or check.a == \"2\") and check.b == \"x\"", "1", "y", "t1", "u"));
    /* a matcher may continue on the next line after an operator or inside (...) */
    assert_true(decide("check.a == \"1\" and\n  (check.b ==\n \"2\")", "1", "2", "t1", "u"));
}

static void test_static_and_dynamic_facts_merge(void **state)
{
    struct steep_policy *p = with_matcher("pair(check.a, check.b)");
    struct steep_policy_field fields[] = {
        {"a", "new"}, {"b", "fact"}, {"task", ""}, {"data", ""}, {"user", ""}};
    const char *values[] = {"new", "fact"};
    struct steep_policy_fact fact = {"pair", values, 2};
    bool accept = false;
    assert_int_equal(steep_policy_decide(p, "check", fields, 5, NULL, 0, &accept, NULL, 0), 0);
    assert_false(accept);
    assert_int_equal(steep_policy_decide(p, "check", fields, 5, &fact, 1, &accept, NULL, 0), 0);
    assert_true(accept);
    /* a dynamic fact is not remembered */
    assert_int_equal(steep_policy_decide(p, "check", fields, 5, NULL, 0, &accept, NULL, 0), 0);
    assert_false(accept);
    steep_policy_free(p);
}

static void expect_malformed(struct steep_policy *p, const char *request,
                             const struct steep_policy_field *fields, size_t nfields,
                             const struct steep_policy_fact *facts, size_t nfacts,
                             const char *reason_part)
{
    bool accept = true;
    char reason[256] = "";
    assert_int_equal(steep_policy_decide(p, request, fields, nfields, facts, nfacts, &accept,
                                         reason, sizeof reason),
                     -1);
    assert_false(accept);
    if (!strstr(reason, reason_part))
        fail_msg("reason '%s' lacks '%s'", reason, reason_part);
}

static void test_malformed_decisions_deny(void **state)
{
    struct steep_policy *p = with_matcher("check.a == \"x\"");
    struct steep_policy_field good[] = {
        {"a", "x"}, {"b", ""}, {"task", ""}, {"data", ""}, {"user", ""}};
    expect_malformed(p, "nope", good, 5, NULL, 0, "unknown request 'nope'");
    expect_malformed(p, "check", good, 4, NULL, 0, "missing field 'user'");
    struct steep_policy_field twice[] = {
        {"a", "x"}, {"a", "x"}, {"task", ""}, {"data", ""}, {"user", ""}};
    expect_malformed(p, "check", twice, 5, NULL, 0, "field 'a' given twice");
    struct steep_policy_field unknown[] = {
        {"a", "x"}, {"zzz", ""}, {"task", ""}, {"data", ""}, {"user", ""}};
    expect_malformed(p, "check", unknown, 5, NULL, 0, "has no field 'zzz'");
    const char *one[] = {"only"};
    struct steep_policy_fact arity = {"pair", one, 1};
    expect_malformed(p, "check", good, 5, &arity, 1, "takes 2 values, got 1");
    const char *two[] = {"a", "b"};
    struct steep_policy_fact unknown_term = {"ghost", two, 2};
    expect_malformed(p, "check", good, 5, &unknown_term, 1, "unknown term 'ghost'");
    char big[STEEP_POLICY_MAX_STRING + 2];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct steep_policy_field long_field[] = {
        {"a", big}, {"b", ""}, {"task", ""}, {"data", ""}, {"user", ""}};
    expect_malformed(p, "check", long_field, 5, NULL, 0, "longer than");
    const char *long_values[] = {big, "b"};
    struct steep_policy_fact long_fact = {"pair", long_values, 2};
    expect_malformed(p, "check", good, 5, &long_fact, 1, "longer than");
    steep_policy_free(p);
}

static void test_fact_limit(void **state)
{
    struct steep_policy *p = with_matcher("pair(check.a, check.b)");
    struct steep_policy_field good[] = {
        {"a", "x"}, {"b", "y"}, {"task", ""}, {"data", ""}, {"user", ""}};
    size_t n = STEEP_POLICY_MAX_DYN_FACTS + 1;
    struct steep_policy_fact *facts = calloc(n, sizeof *facts);
    const char *values[] = {"p", "q"};
    for (size_t i = 0; i < n; i++)
        facts[i] = (struct steep_policy_fact){"pair", values, 2};
    expect_malformed(p, "check", good, 5, facts, n, "more than");
    bool accept = false;
    assert_int_equal(steep_policy_decide(p, "check", good, 5, facts, n - 1, &accept, NULL, 0), 0);
    assert_true(accept);
    free(facts);
    steep_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_equality),
        cmocka_unit_test(test_fact_existence),
        cmocka_unit_test(test_subset_superset),
        cmocka_unit_test(test_set_equality),
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_boolean_operators),
        cmocka_unit_test(test_static_and_dynamic_facts_merge),
        cmocka_unit_test(test_malformed_decisions_deny),
        cmocka_unit_test(test_fact_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
