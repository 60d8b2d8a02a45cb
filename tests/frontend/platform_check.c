/*
 * The frontend on a real platform (all services from `steep up`): Teaclave's
 * error texts from the real authentication, access-control and management
 * services, and the audit entries each request left, read back through
 * QueryAuditLogs. Run by run_platform.sh; prints ok/FAILED per check.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "platform_client.h"

static int failed, passed;

static void check(int condition, const char *name, const char *detail)
{
    if (condition) {
        passed++;
        printf("ok      %s\n", name);
    } else {
        failed++;
        printf("FAILED  %s %s\n", name, detail ? detail : "");
    }
}

#define MISSING_FUNCTION "function-00000000-0000-4000-8000-000000000000"

static struct steep_audit_entry *query(steep_client *admin, const char *q, uint64_t limit,
                                       size_t *n)
{
    struct steep_audit_entry *entries = NULL;
    struct steep_error err;
    *n = 0;
    if (steep_query_audit_logs(admin, q, limit, &entries, n, &err) < 0) {
        fprintf(stderr, "query '%s': %s\n", q, err.message);
        return NULL;
    }
    return entries;
}

static int entry_is(const struct steep_audit_entry *e, const char *user, const char *message,
                    int result)
{
    static const uint8_t loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 1};
    int ok = strcmp(e->user, user) == 0 && strcmp(e->message, message) == 0 &&
             e->result == result && memcmp(e->ip, loopback, 16) == 0;
    if (!ok)
        fprintf(stderr,
                "  entry: user=%s message=%s result=%d\n  want:  user=%s message=%s result=%d\n",
                e->user, e->message, e->result, user, message, result);
    return ok;
}

int main(void)
{
    struct steep_error err;
    steep_client *admin = platform_login("admin", platform_admin_password(), NULL, NULL);
    steep_client *alice = platform_login("fe-alice", "alice-password", "DataOwner", "org1");
    steep_client *fred = platform_login("fe-fred", "fred-password", "FunctionOwner", NULL);

    /* 1. a management error passes through unchanged */
    struct steep_function *function = NULL;
    int rc = steep_get_function(alice, MISSING_FUNCTION, &function, &err);
    check(rc < 0 && err.code == 3 && strcmp(err.message, "invalid function id") == 0,
          "management error passes through", err.message);
    char status_text[700], expected[800];
    steep_frontend_entry_status(err.code, err.message, status_text, sizeof status_text);
    snprintf(expected, sizeof expected, "get_function:%s", status_text);

    /* 2. a success */
    struct steep_string_list registered = {0}, allowed = {0};
    rc = steep_list_functions(alice, "fe-alice", &registered, &allowed, &err);
    check(rc == 0, "list_functions as DataOwner", err.message);

    /* 3. access control denies a FunctionOwner's create_task */
    struct steep_task_spec spec = {.function_id = MISSING_FUNCTION, .executor = "builtin"};
    char *task_id = NULL;
    rc = steep_create_task(fred, &spec, &task_id, &err);
    check(rc < 0 && err.code == 7 && strcmp(err.message, "permission denied") == 0,
          "FunctionOwner create_task: PERMISSION_DENIED permission denied", err.message);

    /* 4. a bad token */
    steep_client *forged = platform_client();
    steep_client_set_credential(forged, "fe-alice", "not-a-token", &err);
    rc = steep_get_function(forged, MISSING_FUNCTION, &function, &err);
    check(rc < 0 && err.code == 16 && strcmp(err.message, "incorrent credential") == 0,
          "bad token: UNAUTHENTICATED incorrent credential", err.message);

    /* 5. only PlatformAdmin reads the log */
    struct steep_audit_entry *entries = NULL;
    size_t n = 0;
    rc = steep_query_audit_logs(alice, "*", 10, &entries, &n, &err);
    check(rc < 0 && err.code == 7, "DataOwner query_audit_logs denied", err.message);

    /* 6. the entries, newest first, in Teaclave's formats */
    entries = query(admin, "*", 5, &n);
    check(entries && n == 5, "five newest entries", NULL);
    if (entries && n == 5) {
        check(entry_is(&entries[0], "", "authenticate to query_audit_logs", 0),
              "entry: denied query_audit_logs", NULL);
        check(entry_is(&entries[1], "", "authenticate to get_function: incorrent credential", 0),
              "entry: bad token", NULL);
        check(entry_is(&entries[2], "", "authenticate to create_task", 0),
              "entry: denied create_task", NULL);
        check(entry_is(&entries[3], "{ user: fe-alice, role: DataOwner(\"org1\") }",
                       "list_functions", 1),
              "entry: list_functions", NULL);
        check(entry_is(&entries[4], "{ user: fe-alice, role: DataOwner(\"org1\") }", expected, 0),
              "entry: get_function error", NULL);
        check(entries[0].microsecond >= entries[4].microsecond, "newest first", NULL);
    }
    steep_audit_entries_free(entries, n);

    entries = query(admin, "user:fe-alice AND result:true", 100, &n);
    check(entries && n >= 1 && strcmp(entries[0].message, "list_functions") == 0,
          "query user:fe-alice AND result:true", NULL);
    steep_audit_entries_free(entries, n);
    entries = query(admin, "*", 0, &n);
    check(n == 0, "limit 0 returns no entries", NULL);
    steep_audit_entries_free(entries, n);
    entries = query(admin, "incorrent", 100, &n);
    check(entries && n >= 1, "query by a word of the message", NULL);
    steep_audit_entries_free(entries, n);

    /* 7. steep_wait_task is one held GetTask (steep-wait-ms), audited once */
    struct steep_function_argument argument = {"message", "", true};
    struct steep_function_spec echo = {.name = "builtin-echo",
                                       .executor_type = "builtin",
                                       .arguments = &argument,
                                       .n_arguments = 1,
                                       .usage_quota = -1};
    char *function_id = NULL;
    rc = steep_register_function(admin, &echo, &function_id, &err);
    check(rc == 0, "register builtin-echo", err.message);
    struct steep_task_spec echo_task = {.function_id = function_id,
                                        .arguments_json = "{\"message\": \"held\"}",
                                        .executor = "builtin"};
    size_t before = 0, after = 0, created = 0, invoked = 0;
    entries =
        query(admin, "get_task", 10000, &before); /* n is set by the call: not in one expression */
    steep_audit_entries_free(entries, before);
    entries = query(admin, "create_task AND result:true", 10000, &created);
    steep_audit_entries_free(entries, created);
    entries = query(admin, "invoke_task AND result:true", 10000, &invoked);
    steep_audit_entries_free(entries, invoked);
    struct steep_task *task = NULL;
    rc = function_id ? steep_create_task(admin, &echo_task, &task_id, &err) : -1;
    if (rc == 0)
        rc = steep_invoke_task(admin, task_id, &err);
    if (rc == 0)
        rc = steep_wait_task(admin, task_id, 60000, &task, &err);
    check(rc == 0 && task->status == STEEP_TASK_FINISHED, "waited task finished", err.message);
    entries =
        query(admin, "get_task", 10000, &after); /* n is set by the call: not in one expression */
    steep_audit_entries_free(entries, after);
    check(after == before + 1, "the wait was one GetTask (one audit entry)", NULL);
    if (after != before + 1)
        fprintf(stderr, "    get_task entries: %zu before, %zu after\n", before, after);
    /* 8. create_task and invoke_task wrote their entries with their task
     * records (issue 15 item 1): each is on the chain exactly once. */
    size_t n_created = 0, n_invoked = 0;
    entries = query(admin, "create_task AND result:true", 10000, &n_created);
    check(entries && n_created == created + 1 &&
              entry_is(&entries[0], "{ user: admin, role: PlatformAdmin }", "create_task", 1),
          "create_task audited once, with its record", NULL);
    steep_audit_entries_free(entries, n_created);
    entries = query(admin, "invoke_task AND result:true", 10000, &n_invoked);
    check(entries && n_invoked == invoked + 1 &&
              entry_is(&entries[0], "{ user: admin, role: PlatformAdmin }", "invoke_task", 1),
          "invoke_task audited once, with its record", NULL);
    steep_audit_entries_free(entries, n_invoked);
    steep_task_free(task);
    free(task_id);
    free(function_id);

    steep_client_free(forged);
    steep_client_free(fred);
    steep_client_free(alice);
    steep_client_free(admin);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
