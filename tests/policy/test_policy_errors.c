/*
 * Every load-time error of the policy language, each with its exact
 * "file:line:column: message", and the loading of several files (merge,
 * cross-file references, duplicates, directory loading).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "policy/policy.h"

#define HEAD "[requests]\nr = a, b\n[terms]\nt = x, y\n"

struct error_case {
    const char *text;
    const char *error;
};

static const struct error_case cases[] = {
    /* lexical */
    {HEAD "[matchers]\nr = r.a == \"abc\n", "p:6:12: unterminated string"},
    {HEAD "[matchers]\nr = r.a == \"a\\nb\"\n",
     "p:6:14: unknown escape in string (only \\\" and \\\\)"},
    {HEAD "[matchers]\nr = r.a == \"a\tb\"\n", "p:6:14: control character in string"},
    {HEAD "[matchers]\nr = r.a < \"x\"\n", "p:6:9: unexpected character '<'"},
    {HEAD "[matchers]\nr = r.a == \"x\" & r.b == \"y\"\n", "p:6:16: unexpected character '&'"},
    /* structure */
    {"r = a\n", "p:1:1: statement outside a section (start with [requests], [terms], [facts] or "
                "[matchers])"},
    {"[policy]\n", "p:1:2: unknown section 'policy' (expected requests, terms, facts or matchers)"},
    {"[requests\n", "p:1:10: expected ']', found end of line"},
    {"[requests]\nr a\n", "p:2:3: expected '=', found a name 'a'"},
    {"[requests]\nr = a,\n", "p:2:7: expected a column name, found end of line"},
    {"[requests]\nr = a, a\n", "p:2:8: duplicate column 'a'"},
    {"[requests]\nr = a b\n", "p:2:7: expected end of line, found a name 'b'"},
    {"[requests]\nand = a\n", "p:2:1: expected request, found a name 'and'"},
    {HEAD "[facts]\nt \"1\" \"2\"\n", "p:6:7: expected end of line, found a string '2'"},
    {HEAD "[facts]\nt \"1\",\n", "p:6:7: expected a string, found end of line"},
    {HEAD "[matchers]\nr = \n", "p:6:5: expected a string, a request field, a term query or '(', "
                                "found end of line"},
    {HEAD "[matchers]\nr = (r.a == \"x\"\n", "p:7:1: expected ')', found end of file"},
    {HEAD "[matchers]\nr = r.a == r.b == r.a\n", "p:6:16: comparisons do not chain; use 'and' or "
                                                 "parentheses"},
    {HEAD "[matchers]\nr = r\n", "p:6:6: expected '.' or '(' after a name, found end of line"},
    {HEAD "[matchers]\nr = _ == r.a\n", "p:6:5: '_' is allowed only as a term query argument"},
    {HEAD "[matchers]\nr = t(t(r.a, _), _)\n",
     "p:6:8: expected '.' (term arguments are strings, request fields or '_'), found '('"},
    /* names, arity, wildcards */
    {HEAD "[matchers]\nr = q.a == \"x\"\n", "p:6:5: unknown request 'q'"},
    {HEAD "[matchers]\nr = r.c == \"x\"\n", "p:6:5: request 'r' has no field 'c'"},
    {HEAD "[matchers]\nr = u(r.a, r.b)\n", "p:6:5: unknown term 'u'"},
    {HEAD "[matchers]\nr = t(r.a)\n", "p:6:5: term 't' takes 2 arguments, got 1"},
    {HEAD "[matchers]\nr = t(r.a, r.b, \"c\")\n", "p:6:5: term 't' takes 2 arguments, got 3"},
    {HEAD "[matchers]\nr = r.a in t(_, _)\n", "p:6:17: a term query may contain at most one '_'"},
    {HEAD "[matchers]\nq = r.a == \"x\"\n", "p:6:1: matcher for unknown request 'q'"},
    {HEAD "[matchers]\n", "p:2:1: request 'r' has no matcher"},
    {HEAD "[facts]\nu \"1\", \"2\"\n[matchers]\nr = t(r.a, r.b)\n",
     "p:6:1: fact of unknown term 'u'"},
    {HEAD "[facts]\nt \"1\"\n[matchers]\nr = t(r.a, r.b)\n",
     "p:6:1: term 't' takes 2 values, got 1"},
    /* types */
    {HEAD "[matchers]\nr = r.a\n", "p:6:5: the matcher of 'r' must be a condition, not a string"},
    {HEAD "[matchers]\nr = t(r.a, _)\n",
     "p:6:5: the matcher of 'r' must be a condition, not a set"},
    {HEAD "[matchers]\nr = t(r.a, _) == r.b\n",
     "p:6:15: operator '==' needs two strings or two sets, got a set and a string"},
    {HEAD "[matchers]\nr = r.a != t(r.a, _)\n",
     "p:6:9: operator '!=' needs two strings or two sets, got a string and a set"},
    {HEAD "[matchers]\nr = t(r.a, r.b) == t(r.b, r.a)\n",
     "p:6:17: operator '==' needs two strings or two sets, got a condition and a condition"},
    {HEAD "[matchers]\nr = r.a <= t(r.a, _)\n", "p:6:9: operator '<=' needs two sets, got a string "
                                                "and a set"},
    {HEAD "[matchers]\nr = t(r.a, _) >= r.b\n", "p:6:15: operator '>=' needs two sets, got a set "
                                                "and a string"},
    {HEAD "[matchers]\nr = t(r.a, _) in t(r.b, _)\n",
     "p:6:15: operator 'in' needs a string and a set, got a set and a set"},
    {HEAD "[matchers]\nr = r.a in r.b\n", "p:6:9: operator 'in' needs a string and a set, got a "
                                          "string and a string"},
    {HEAD "[matchers]\nr = r.a and t(r.a, r.b)\n",
     "p:6:9: operator 'and' needs two conditions, got a string and a condition"},
    {HEAD "[matchers]\nr = t(r.a, r.b) or t(r.a, _)\n",
     "p:6:17: operator 'or' needs two conditions, got a condition and a set"},
    {HEAD "[matchers]\nr = not r.a\n", "p:6:5: operator 'not' needs a condition, got a string"},
    /* duplicates within one file */
    {HEAD "[requests]\nr = c\n", "p:6:1: duplicate request 'r' (first declared at p:2:1)"},
    {HEAD "[terms]\nt = c\n", "p:6:1: duplicate term 't' (first declared at p:4:1)"},
    {HEAD "[matchers]\nr = r.a == \"1\"\nr = r.a == \"2\"\n",
     "p:7:1: duplicate matcher for 'r' (first declared at p:6:1)"},
    {HEAD "[facts]\nt \"1\", \"2\"\nt \"3\", \"4\"\nt \"1\", \"2\"\n[matchers]\nr = t(r.a, r.b)\n",
     "p:8:1: duplicate fact (first at p:6:1)"},
    {"", "the policy declares no request"},
};

static void test_each_error_has_exact_position(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *names[] = {"p"};
        const char *texts[] = {cases[i].text};
        struct steep_policy *p = steep_policy_load_texts(names, texts, 1);
        if (p) {
            print_error("case %zu loaded but should fail with: %s\n", i, cases[i].error);
            steep_policy_free(p);
            failures++;
        } else if (strcmp(steep_error_get(), cases[i].error) != 0) {
            print_error("case %zu:\n  got      %s\n  expected %s\n", i, steep_error_get(),
                        cases[i].error);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void test_depth_and_size_limits(void **state)
{
    struct steep_buf text = STEEP_BUF_INIT;
    assert_int_equal(steep_buf_printf(&text, HEAD "[matchers]\nr = "), 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(steep_buf_printf(&text, "("), 0);
    assert_int_equal(steep_buf_printf(&text, "r.a == \"x\""), 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(steep_buf_printf(&text, ")"), 0);
    assert_int_equal(steep_buf_printf(&text, "\n"), 0);
    assert_int_equal(steep_buf_terminate(&text), 0);
    const char *names[] = {"p"};
    const char *texts[] = {(const char *)text.data};
    assert_null(steep_policy_load_texts(names, texts, 1));
    assert_non_null(strstr(steep_error_get(), "nested deeper than 64"));
    steep_buf_free(&text);

    char long_string[STEEP_POLICY_MAX_STRING + 64];
    snprintf(long_string, sizeof long_string, HEAD "[matchers]\nr = r.a == \"%0*d\"\n",
             STEEP_POLICY_MAX_STRING + 1, 0);
    texts[0] = long_string;
    assert_null(steep_policy_load_texts(names, texts, 1));
    assert_string_equal(steep_error_get(), "p:6:12: string longer than 1024 bytes");
}

static const char *file_a = "[requests]\n"
                            "task_access_data = task, data\n"
                            "[terms]\n"
                            "data_owner = data, usr\n"
                            "[matchers]\n"
                            "task_access_data = data_owner(task_access_data.data, _) <= "
                            "task_participant(task_access_data.task, _)\n";
static const char *file_b = "[terms]\n"
                            "task_participant = task, usr\n"
                            "[facts]\n"
                            "data_owner \"d\", \"alice\"\n";

static void test_sections_merge_across_files(void **state)
{
    const char *names[] = {"a.policy", "b.policy"};
    const char *texts[] = {file_a, file_b};
    struct steep_policy *p = steep_policy_load_texts(names, texts, 2);
    assert_non_null(p);
    struct steep_policy_field fields[] = {{"task", "t"}, {"data", "d"}};
    const char *part[] = {"t", "alice"};
    struct steep_policy_fact fact = {"task_participant", part, 2};
    bool accept = false;
    assert_int_equal(
        steep_policy_decide(p, "task_access_data", fields, 2, &fact, 1, &accept, NULL, 0), 0);
    assert_true(accept);
    assert_int_equal(
        steep_policy_decide(p, "task_access_data", fields, 2, NULL, 0, &accept, NULL, 0), 0);
    assert_false(accept);
    steep_policy_free(p);

    /* alone, a.policy refers to a term only b.policy declares */
    assert_null(steep_policy_load_texts(names, texts, 1));
    assert_string_equal(steep_error_get(), "a.policy:6:60: unknown term 'task_participant'");
}

static void test_duplicates_across_files(void **state)
{
    const char *names[] = {"a.policy", "b.policy"};
    const char *dup_term[] = {file_a, "[terms]\ndata_owner = data, usr\n"};
    assert_null(steep_policy_load_texts(names, dup_term, 2));
    assert_string_equal(
        steep_error_get(),
        "b.policy:2:1: duplicate term 'data_owner' (first declared at a.policy:4:1)");
    const char *dup_request[] = {file_a, "[requests]\n\ntask_access_data = x\n"};
    assert_null(steep_policy_load_texts(names, dup_request, 2));
    assert_string_equal(steep_error_get(), "b.policy:3:1: duplicate request 'task_access_data' "
                                           "(first declared at a.policy:2:1)");
    const char *dup_matcher[] = {file_a, "[terms]\ntask_participant = task, usr\n[matchers]\n"
                                         "task_access_data = task_access_data.task == \"x\"\n"};
    assert_null(steep_policy_load_texts(names, dup_matcher, 2));
    assert_string_equal(steep_error_get(), "b.policy:4:1: duplicate matcher for 'task_access_data' "
                                           "(first declared at a.policy:6:1)");
    const char *dup_fact[] = {"[requests]\nr = a\n[terms]\nt = a\n[facts]\nt \"v\"\n",
                              "[facts]\nt \"w\"\nt \"v\"\n[matchers]\nr = t(r.a)\n"};
    assert_null(steep_policy_load_texts(names, dup_fact, 2));
    assert_string_equal(steep_error_get(), "b.policy:3:1: duplicate fact (first at a.policy:6:1)");
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(steep_write_file_atomic(path, text, strlen(text), 0600), 0);
}

static void test_load_directory(void **state)
{
    char dir[] = "/tmp/steep-policy-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    assert_null(steep_policy_load_dir(dir));
    assert_non_null(strstr(steep_error_get(), "no *.policy file in"));

    snprintf(path, sizeof path, "%s/10-a.policy", dir);
    write_text(path, file_a);
    snprintf(path, sizeof path, "%s/20-b.policy", dir);
    write_text(path, file_b);
    snprintf(path, sizeof path, "%s/notes.txt", dir); /* ignored: not *.policy */
    write_text(path, "this is not a policy");
    struct steep_policy *p = steep_policy_load_dir(dir);
    if (!p)
        fail_msg("%s", steep_error_get());
    assert_true(steep_policy_has_request(p, "task_access_data"));
    assert_false(steep_policy_has_request(p, "user_access_api"));
    steep_policy_free(p);

    snprintf(path, sizeof path, "%s/30-bad.policy", dir);
    write_text(path, "[facts]\ndata_owner \"d\" \"e\"\n");
    assert_null(steep_policy_load_dir(dir));
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s/30-bad.policy:2:16: expected end of line, found a "
             "string 'e'",
             dir);
    assert_string_equal(steep_error_get(), expected);

    const char *files[] = {"10-a.policy", "20-b.policy", "30-bad.policy", "notes.txt"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    assert_null(steep_policy_load_dir(dir));
    assert_non_null(strstr(steep_error_get(), "cannot open policy directory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_error_has_exact_position),
        cmocka_unit_test(test_depth_and_size_limits),
        cmocka_unit_test(test_sections_merge_across_files),
        cmocka_unit_test(test_duplicates_across_files),
        cmocka_unit_test(test_load_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
