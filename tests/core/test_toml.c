/*
 * Unit tests of the TOML-subset parser: every accepted form with its value,
 * and every error form with its exact "name:line:column: message".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/toml.h"

static struct steep_toml_value *parse_ok(const char *text)
{
    struct steep_toml_value *root = NULL;
    int rc = steep_toml_parse("t.toml", text, strlen(text), &root);
    if (rc != 0)
        fail_msg("unexpected error: %s", steep_error_get());
    return root;
}

static const struct steep_toml_value *find(const struct steep_toml_value *root, const char *path,
                                           enum steep_toml_type type)
{
    const struct steep_toml_value *v = steep_toml_find(root, path);
    if (!v)
        fail_msg("missing %s", path);
    assert_int_equal(v->type, type);
    return v;
}

static void test_scalars(void **state)
{
    struct steep_toml_value *root = parse_ok("# comment\n"
                                             "a = 1\n"
                                             "b = -42 # trailing comment\n"
                                             "c = +1_000_000\n"
                                             "d = 0\n"
                                             "e = true\n"
                                             "f = false\n"
                                             "g = \"tab\\tquote\\\" back\\\\ \\u00e9\\U0001F600\"\n"
                                             "h = 'C:\\no\\escape'\n"
                                             "i = \"\"\n"
                                             "\"quoted key\" = 9223372036854775807\n"
                                             "'lit' = -9223372036854775808\r\n"
                                             "  indented\t=\t7  \n");
    assert_int_equal(find(root, "a", STEEP_TOML_INTEGER)->as.integer, 1);
    assert_int_equal(find(root, "b", STEEP_TOML_INTEGER)->as.integer, -42);
    assert_int_equal(find(root, "c", STEEP_TOML_INTEGER)->as.integer, 1000000);
    assert_int_equal(find(root, "d", STEEP_TOML_INTEGER)->as.integer, 0);
    assert_true(find(root, "e", STEEP_TOML_BOOLEAN)->as.boolean);
    assert_false(find(root, "f", STEEP_TOML_BOOLEAN)->as.boolean);
    assert_string_equal(find(root, "g", STEEP_TOML_STRING)->as.string,
                        "tab\tquote\" back\\ \xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(find(root, "h", STEEP_TOML_STRING)->as.string, "C:\\no\\escape");
    assert_string_equal(find(root, "i", STEEP_TOML_STRING)->as.string, "");
    assert_true(steep_toml_get(root, "quoted key")->as.integer == INT64_MAX);
    assert_true(steep_toml_get(root, "lit")->as.integer == INT64_MIN);
    const struct steep_toml_value *indented = find(root, "indented", STEEP_TOML_INTEGER);
    assert_int_equal(indented->as.integer, 7);
    assert_int_equal(indented->line, 13);
    assert_int_equal(indented->column, 14);
    steep_toml_free(root);
}

static void test_tables_and_arrays(void **state)
{
    struct steep_toml_value *root = parse_ok("top = 1\n"
                                             "[a.b]\n"
                                             "x = 1\n"
                                             "[a]\n" /* defining an implicit table is fine */
                                             "y = 2\n"
                                             "[ a . c ]\n"
                                             "z.w = 3\n"
                                             "z.v = 4\n"
                                             "[list]\n"
                                             "empty = []\n"
                                             "mixed = [ 1, \"two\", true, [3], { k = 'v' } ]\n"
                                             "multi = [\n"
                                             "  \"a\", # first\n"
                                             "  # a comment line\n"
                                             "  \"b\",\n"
                                             "]\n"
                                             "inline = { p = { q = 1 }, r.s = 2 }\n"
                                             "empty_table = {}\n");
    assert_int_equal(find(root, "top", STEEP_TOML_INTEGER)->as.integer, 1);
    assert_int_equal(find(root, "a.b.x", STEEP_TOML_INTEGER)->as.integer, 1);
    assert_int_equal(find(root, "a.y", STEEP_TOML_INTEGER)->as.integer, 2);
    assert_int_equal(find(root, "a.c.z.w", STEEP_TOML_INTEGER)->as.integer, 3);
    assert_int_equal(find(root, "a.c.z.v", STEEP_TOML_INTEGER)->as.integer, 4);
    assert_int_equal(find(root, "list.empty", STEEP_TOML_ARRAY)->as.array.count, 0);
    const struct steep_toml_value *mixed = find(root, "list.mixed", STEEP_TOML_ARRAY);
    assert_int_equal(mixed->as.array.count, 5);
    assert_string_equal(mixed->as.array.items[1]->as.string, "two");
    assert_int_equal(mixed->as.array.items[3]->as.array.items[0]->as.integer, 3);
    assert_string_equal(steep_toml_get(mixed->as.array.items[4], "k")->as.string, "v");
    const struct steep_toml_value *multi = find(root, "list.multi", STEEP_TOML_ARRAY);
    assert_int_equal(multi->as.array.count, 2);
    assert_string_equal(multi->as.array.items[1]->as.string, "b");
    assert_int_equal(multi->as.array.items[1]->line, 15);
    assert_int_equal(find(root, "list.inline.p.q", STEEP_TOML_INTEGER)->as.integer, 1);
    assert_int_equal(find(root, "list.inline.r.s", STEEP_TOML_INTEGER)->as.integer, 2);
    assert_int_equal(find(root, "list.empty_table", STEEP_TOML_TABLE)->as.table.count, 0);
    assert_null(steep_toml_find(root, "a.nothing"));
    assert_null(steep_toml_find(root, "top.below"));
    assert_null(steep_toml_get(steep_toml_find(root, "top"), "x"));
    steep_toml_free(root);
}

struct error_case {
    const char *text;
    const char *error;
};

static const struct error_case error_cases[] = {
    {"a = 1\na = 2\n", "t.toml:2:1: duplicate key 'a'"},
    {"[x]\n[x]\n", "t.toml:2:2: duplicate table 'x'"},
    {"[x]\ny = 1\n[x.y]\n", "t.toml:3:4: key 'y' is not a table"},
    {"a.b = 1\n[a]\n", "t.toml:2:2: duplicate table 'a'"},
    {"a = 1\na.b = 2\n", "t.toml:2:1: cannot extend key 'a' here"},
    {"[a.b]\n[a]\nb.c = 1\n", "t.toml:3:1: cannot extend key 'b' here"},
    {"a = { b = 1 }\n[a]\n", "t.toml:2:2: cannot extend inline table 'a'"},
    {"a = { b = 1 }\na.c = 2\n", "t.toml:2:1: cannot extend key 'a' here"},
    {"a = { b = 1, b = 2 }\n", "t.toml:1:14: duplicate key 'b'"},
    {"a = \"abc\n", "t.toml:1:5: unterminated string"},
    {"a = 'abc", "t.toml:1:5: unterminated string"},
    {"a = \"\"\"x\"\"\"\n", "t.toml:1:5: multi-line strings are not supported"},
    {"a = \"\\q\"\n", "t.toml:1:6: invalid escape sequence"},
    {"a = \"\\u00\"\n", "t.toml:1:10: expected 4 hex digits in unicode escape"},
    {"a = \"\\u0000\"\n", "t.toml:1:6: invalid unicode escape (NUL, surrogate or too large)"},
    {"a = \"\\uD800\"\n", "t.toml:1:6: invalid unicode escape (NUL, surrogate or too large)"},
    {"a = \"x\x01\"\n", "t.toml:1:7: control character in string"},
    {"a = \"\xc3\x28\"\n", "t.toml:1:5: string is not valid UTF-8"},
    {"a = 1.5\n", "t.toml:1:5: floats are not supported"},
    {"a = 1e3\n", "t.toml:1:5: floats are not supported"},
    {"a = inf\n", "t.toml:1:5: floats are not supported"},
    {"a = 01\n", "t.toml:1:5: leading zeros are not allowed"},
    {"a = 0x1F\n", "t.toml:1:5: only decimal integers are supported"},
    {"a = 1__0\n", "t.toml:1:6: '_' must be between digits"},
    {"a = 1_\n", "t.toml:1:6: '_' must be between digits"},
    {"a = 9223372036854775808\n", "t.toml:1:5: integer out of range"},
    {"a = -9223372036854775809\n", "t.toml:1:5: integer out of range"},
    {"a = 1979-05-27\n", "t.toml:1:5: invalid integer"},
    {"a = -\n", "t.toml:1:6: expected a digit"},
    {"a = truex\n", "t.toml:1:5: expected a value"},
    {"a = b\n", "t.toml:1:5: expected a value"},
    {"a =\n", "t.toml:1:4: expected a value"},
    {"a\n", "t.toml:1:2: expected '=' after key"},
    {"= 1\n", "t.toml:1:1: expected a key"},
    {"a.= 1\n", "t.toml:1:3: expected a key"},
    {"a = 1 b = 2\n", "t.toml:1:7: expected end of line, found 'b'"},
    {"[x] y = 1\n", "t.toml:1:5: expected end of line, found 'y'"},
    {"[x\n", "t.toml:1:3: expected ']' after table name"},
    {"[[x]]\n", "t.toml:1:2: arrays of tables ([[...]]) are not supported"},
    {"a = [1, 2\n", "t.toml:2:1: unterminated array"},
    {"a = [1 2]\n", "t.toml:1:8: expected ',' or ']' in array"},
    {"a = [\n  1,\n  x\n]\n", "t.toml:3:3: expected a value"},
    {"a = [,]\n", "t.toml:1:6: expected a value"},
    {"a = { b = 1, }\n", "t.toml:1:14: trailing comma in inline table"},
    {"a = { b = 1\n}\n", "t.toml:1:12: inline table must be closed on the same line"},
    {"a = { b = 1; c = 2 }\n", "t.toml:1:12: expected ',' or '}' in inline table"},
    {"a = 1\r", "t.toml:1:6: carriage return without line feed"},
    {"# bell \x07\n", "t.toml:1:8: control character in comment"},
    {"a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
     "t.toml:1:37: nesting deeper than 32 levels"},
};

static void test_errors(void **state)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        struct steep_toml_value *root = NULL;
        const struct error_case *c = &error_cases[i];
        int rc = steep_toml_parse("t.toml", c->text, strlen(c->text), &root);
        if (rc != -1)
            fail_msg("case %zu accepted: %s", i, c->text);
        assert_null(root);
        if (strcmp(steep_error_get(), c->error) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, steep_error_get(), c->error);
    }
}

static void test_embedded_nul_rejected(void **state)
{
    static const char text[] = "a = \"x\0y\"\n";
    struct steep_toml_value *root = NULL;
    assert_int_equal(steep_toml_parse("t.toml", text, sizeof text - 1, &root), -1);
    assert_string_equal(steep_error_get(), "t.toml:1:7: control character in string");
}

static void test_missing_file(void **state)
{
    struct steep_toml_value *root = NULL;
    assert_int_equal(steep_toml_parse_file("/nonexistent/steep.toml", &root), -1);
    assert_non_null(strstr(steep_error_get(), "/nonexistent/steep.toml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),      cmocka_unit_test(test_tables_and_arrays),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_embedded_nul_rejected),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
