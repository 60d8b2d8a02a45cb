/*
 * The shipped policies/api.policy against Teaclave's role x API matrix
 * (teaclave-api.md §8.1): all 22 frontend APIs for every role, and the
 * whole policies/ directory (api.policy with the other shipped files)
 * gives the same answers.
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
#include "teaclave_apis.h"

static const char *const *apis = teaclave_apis;

static bool is_function_api(const char *api)
{
    static const char *list[] = {"register_function",       "update_function", "delete_function",
                                 "disable_function",        "get_function",    "list_functions",
                                 "get_function_usage_stats"};
    for (size_t i = 0; i < 7; i++)
        if (strcmp(api, list[i]) == 0)
            return true;
    return false;
}

static bool data_owner_may(const char *api)
{
    if (strcmp(api, "query_audit_logs") == 0)
        return false;
    if (!is_function_api(api))
        return true;
    return strcmp(api, "get_function") == 0 || strcmp(api, "list_functions") == 0 ||
           strcmp(api, "get_function_usage_stats") == 0;
}

static bool expected(const char *role, const char *api)
{
    if (strcmp(role, "PlatformAdmin") == 0)
        return true;
    if (strcmp(role, "FunctionOwner") == 0)
        return is_function_api(api);
    if (strcmp(role, "DataOwner") == 0 || strcmp(role, "DataOwnerManager") == 0)
        return data_owner_may(api);
    return false;
}

static const char *roles[] = {"PlatformAdmin", "FunctionOwner",  "DataOwnerManager",
                              "DataOwner",     "Invalid",        "",
                              "platformadmin", "DataOwner-org1", "Auditor"};

static void check_matrix(const struct steep_policy *p)
{
    size_t allowed = 0;
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
        for (size_t a = 0; a < TEACLAVE_API_COUNT; a++) {
            struct steep_policy_field fields[] = {{"role", roles[r]}, {"api", apis[a]}};
            bool accept = !expected(roles[r], apis[a]);
            assert_int_equal(
                steep_policy_decide(p, "user_access_api", fields, 2, NULL, 0, &accept, NULL, 0), 0);
            if (accept != expected(roles[r], apis[a]))
                fail_msg("%s x %s: got %d", roles[r], apis[a], accept);
            allowed += accept;
        }
        /* an API that does not exist */
        struct steep_policy_field fields[] = {{"role", roles[r]}, {"api", "drop_everything"}};
        bool accept = false;
        assert_int_equal(
            steep_policy_decide(p, "user_access_api", fields, 2, NULL, 0, &accept, NULL, 0), 0);
        assert_int_equal(accept, strcmp(roles[r], "PlatformAdmin") == 0);
    }
    assert_int_equal(allowed, 22 + 7 + 17 + 17);
}

static char *repo_path(const char *relative)
{
    const char *root = getenv("STEEP_SOURCE_DIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/%s", root ? root : ".", relative);
    return path;
}

static void test_api_policy_matrix(void **state)
{
    struct steep_policy *p = steep_policy_new();
    char *path = repo_path("policies/api.policy");
    if (steep_policy_add_file(p, path) < 0 || steep_policy_finish(p) < 0)
        fail_msg("%s", steep_error_get());
    free(path);
    check_matrix(p);
    steep_policy_free(p);
}

static void test_shipped_policy_directory(void **state)
{
    char *dir = repo_path("policies");
    struct steep_policy *p = steep_policy_load_dir(dir);
    free(dir);
    if (!p)
        fail_msg("policies/ does not load: %s", steep_error_get());
    check_matrix(p);
    steep_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_policy_matrix),
        cmocka_unit_test(test_shipped_policy_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
