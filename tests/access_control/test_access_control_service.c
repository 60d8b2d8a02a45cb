/*
 * steep-access-control's handlers over RPC, through the client helper
 * (lib/policy/acs_client.h): the whole default matrix via AuthorizeApi,
 * and Steep's Authorize with the shipped multi-party rules, dynamic facts
 * and malformed requests (denied with a reason).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_control/handlers.h"
#include "core/error.h"
#include "policy/acs_client.h"
#include "policy/policy.h"
#include "rpc_harness.h"
#include "teaclave_apis.h"

static struct steep_policy *policy;
static struct test_server server;

static int add_methods(struct steep_rpc_server *rpc, void *arg)
{
    return steep_access_control_register(rpc, arg);
}

static int setup(void **state)
{
    const char *root = getenv("STEEP_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/policies", root ? root : ".");
    policy = steep_policy_load_dir(dir);
    if (!policy) {
        fprintf(stderr, "policy: %s\n", steep_error_get());
        return -1;
    }
    if (test_server_start(&server, add_methods, policy) < 0) {
        fprintf(stderr, "server: %s\n", steep_error_get());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    test_server_stop(&server);
    steep_policy_free(policy);
    return 0;
}

static const char *const *apis = teaclave_apis;

static void test_authorize_api_matrix(void **state)
{
    /* expected allowed counts per role: admin all, function owner 7, data owners 17 */
    const struct {
        const char *role;
        int allowed;
    } roles[] = {{"PlatformAdmin", 22}, {"FunctionOwner", 7}, {"DataOwnerManager", 17},
                 {"DataOwner", 17},     {"Invalid", 0},       {"Nobody", 0}};
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
        int allowed = 0;
        for (size_t a = 0; a < TEACLAVE_API_COUNT; a++) {
            bool accept = false;
            if (steep_acs_authorize_api(server.client, roles[r].role, apis[a], &accept) < 0)
                fail_msg("%s", steep_error_get());
            allowed += accept;
            if (strcmp(apis[a], "query_audit_logs") == 0)
                assert_int_equal(accept, strcmp(roles[r].role, "PlatformAdmin") == 0);
            if (strcmp(apis[a], "register_function") == 0)
                assert_int_equal(accept, roles[r].allowed == 22 || roles[r].allowed == 7);
            if (strcmp(apis[a], "create_task") == 0)
                assert_int_equal(accept, roles[r].allowed == 22 || roles[r].allowed == 17);
        }
        if (allowed != roles[r].allowed)
            fail_msg("%s: %d APIs allowed, expected %d", roles[r].role, allowed, roles[r].allowed);
    }
}

static void test_authorize_multi_party(void **state)
{
    const char *owner_a[] = {"data-1", "alice"}, *owner_b[] = {"data-1", "bob"};
    const char *part_a[] = {"task-1", "alice"}, *part_b[] = {"task-1", "bob"};
    struct steep_acs_fact facts[] = {{"data_owner", owner_a, 2},
                                     {"data_owner", owner_b, 2},
                                     {"task_participant", part_a, 2},
                                     {"task_participant", part_b, 2}};
    struct steep_acs_field fields[] = {{"task", "task-1"}, {"data", "data-1"}};
    bool accept = false;
    char reason[256];
    assert_int_equal(steep_acs_authorize(server.client, "task_access_data", fields, 2, facts, 4,
                                         &accept, reason, sizeof reason),
                     0);
    assert_true(accept);
    assert_string_equal(reason, "");
    /* bob does not take part: not all owners are participants */
    assert_int_equal(steep_acs_authorize(server.client, "task_access_data", fields, 2, facts, 3,
                                         &accept, reason, sizeof reason),
                     0);
    assert_false(accept);
    assert_non_null(strstr(reason, "denied by the matcher of 'task_access_data'"));
    /* membership */
    struct steep_acs_field member[] = {{"task", "task-1"}, {"usr", "bob"}};
    assert_int_equal(steep_acs_authorize(server.client, "task_access", member, 2, facts, 4, &accept,
                                         reason, sizeof reason),
                     0);
    assert_true(accept);
    struct steep_acs_field stranger[] = {{"task", "task-1"}, {"usr", "mallory"}};
    assert_int_equal(steep_acs_authorize(server.client, "task_access", stranger, 2, facts, 4,
                                         &accept, reason, sizeof reason),
                     0);
    assert_false(accept);
}

static void test_authorize_malformed_is_denied(void **state)
{
    bool accept = true;
    char reason[256];
    struct steep_acs_field fields[] = {{"task", "t"}, {"data", "d"}};
    assert_int_equal(steep_acs_authorize(server.client, "no_such_request", fields, 2, NULL, 0,
                                         &accept, reason, sizeof reason),
                     0);
    assert_false(accept);
    assert_string_equal(reason, "unknown request 'no_such_request'");
    accept = true;
    assert_int_equal(steep_acs_authorize(server.client, "task_access_data", fields, 1, NULL, 0,
                                         &accept, reason, sizeof reason),
                     0);
    assert_false(accept);
    assert_string_equal(reason, "missing field 'data' of request 'task_access_data'");
    const char *bad[] = {"only-one"};
    struct steep_acs_fact fact = {"data_owner", bad, 1};
    accept = true;
    assert_int_equal(steep_acs_authorize(server.client, "task_access_data", fields, 2, &fact, 1,
                                         &accept, reason, sizeof reason),
                     0);
    assert_false(accept);
    assert_string_equal(reason, "term 'data_owner' takes 2 values, got 1");
}

static void test_client_reports_transport_failure(void **state)
{
    struct steep_rpc_client_config config = {.address = "127.0.0.1:1", .connect_timeout_ms = 500};
    struct steep_rpc_client *dead = steep_rpc_client_new(&config);
    assert_non_null(dead);
    bool accept = true;
    assert_int_equal(steep_acs_authorize_api(dead, "PlatformAdmin", "get_task", &accept), -1);
    assert_false(accept);
    char reason[256];
    accept = true;
    assert_int_equal(
        steep_acs_authorize(dead, "task_access", NULL, 0, NULL, 0, &accept, reason, sizeof reason),
        -1);
    assert_false(accept);
    assert_non_null(strstr(reason, "access control:"));
    steep_rpc_client_free(dead);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authorize_api_matrix),
        cmocka_unit_test(test_authorize_multi_party),
        cmocka_unit_test(test_authorize_malformed_is_denied),
        cmocka_unit_test(test_client_reports_transport_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
