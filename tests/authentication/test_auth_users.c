/*
 * Every user-management rule of steep-authentication (teaclave-api.md
 * §3.6) over RPC: who may register, update, reset, delete and list whom,
 * with Teaclave's error messages, including Steep's fixes (a
 * DataOwnerManager touches only DataOwners of its own attribute, checked
 * against the target's CURRENT role; empty passwords are refused; only a
 * PlatformAdmin makes DataOwnerManagers or reuses a deleted user's id).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_harness.h"

#define UNAUTHENTICATED 16
#define MSG_MANAGER_ONLY_ADMIN                                                                     \
    "permission denied: only a PlatformAdmin may create a DataOwnerManager"
#define MSG_DELETED_ID                                                                             \
    "permission denied: the id of a deleted user may be registered again only by a PlatformAdmin"

struct fixture {
    struct auth_env env;
    char *admin; /* PlatformAdmin "admin" */
    char *fo;    /* FunctionOwner "fo" */
    char *dom1;  /* DataOwnerManager-org1 "dom1" */
    char *dom2;  /* DataOwnerManager-org2 "dom2" */
    char *do1;   /* DataOwner-org1 "do1" */
    char *do2;   /* DataOwner-org2 "do2" */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || auth_env_start(&f->env) < 0)
        return -1;
    if (auth_login(&f->env, "admin", "teaclave", &f->admin) != 0)
        return -1;
    f->fo = auth_make_user(&f->env, f->admin, "fo", "FunctionOwner", "");
    f->dom1 = auth_make_user(&f->env, f->admin, "dom1", "DataOwnerManager", "org1");
    f->dom2 = auth_make_user(&f->env, f->admin, "dom2", "DataOwnerManager", "org2");
    f->do1 = auth_make_user(&f->env, f->admin, "do1", "DataOwner", "org1");
    f->do2 = auth_make_user(&f->env, f->admin, "do2", "DataOwner", "org2");
    if (!f->fo || !f->dom1 || !f->dom2 || !f->do1 || !f->do2)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    auth_env_destroy(&f->env);
    free(f->admin);
    free(f->fo);
    free(f->dom1);
    free(f->dom2);
    free(f->do1);
    free(f->do2);
    free(f);
    return 0;
}

/* Asserts an UNAUTHENTICATED failure with exactly this message. */
static void expect_error(struct auth_env *env, int code, const char *message)
{
    if (code != UNAUTHENTICATED || strcmp(env->last_status.message, message) != 0)
        fail_msg("expected UNAUTHENTICATED '%s', got %d '%s'", message, code,
                 env->last_status.message);
}

static void test_register_rules(void **state)
{
    struct fixture *f = *state;
    struct auth_env *env = &f->env;
    /* PlatformAdmin: any valid role */
    assert_int_equal(auth_register(env, "admin", f->admin, "pa2", "p", "PlatformAdmin", ""), 0);
    assert_int_equal(auth_register(env, "admin", f->admin, "fo2", "p", "FunctionOwner", ""), 0);
    assert_int_equal(auth_register(env, "admin", f->admin, "dom3", "p", "DataOwnerManager", "org3"),
                     0);
    /* FunctionOwner: nobody (Teaclave: DataOwnerManager of any attribute) */
    expect_error(env, auth_register(env, "fo", f->fo, "x0", "p", "DataOwnerManager", "org3"),
                 MSG_MANAGER_ONLY_ADMIN);
    expect_error(env, auth_register(env, "fo", f->fo, "x1", "p", "DataOwner", "org1"),
                 "permission denied");
    expect_error(env, auth_register(env, "fo", f->fo, "x2", "p", "FunctionOwner", ""),
                 "permission denied");
    expect_error(env, auth_register(env, "fo", f->fo, "x3", "p", "PlatformAdmin", ""),
                 "permission denied");
    /* DataOwnerManager(org1): only DataOwner(org1) */
    assert_int_equal(auth_register(env, "dom1", f->dom1, "do1b", "p", "DataOwner", "org1"), 0);
    expect_error(env, auth_register(env, "dom1", f->dom1, "x4", "p", "DataOwner", "org2"),
                 "permission denied");
    expect_error(env, auth_register(env, "dom1", f->dom1, "x5", "p", "DataOwnerManager", "org1"),
                 MSG_MANAGER_ONLY_ADMIN);
    expect_error(env, auth_register(env, "dom1", f->dom1, "x6", "p", "FunctionOwner", ""),
                 "permission denied");
    expect_error(env, auth_register(env, "dom1", f->dom1, "x7", "p", "PlatformAdmin", ""),
                 "permission denied");
    /* DataOwner: nothing */
    expect_error(env, auth_register(env, "do1", f->do1, "x8", "p", "DataOwner", "org1"),
                 "permission denied");
    /* errors in Teaclave's order */
    expect_error(env, auth_register(env, "admin", f->admin, "", "p", "DataOwner", "org1"),
                 "invalid user id");
    expect_error(env, auth_register(env, "admin", f->admin, "do1", "p", "DataOwner", "org1"),
                 "user id exist");
    expect_error(env, auth_register(env, "admin", f->admin, "x9", "p", "Auditor", ""),
                 "invalid role");
    expect_error(env, auth_register(env, "admin", f->admin, "x9", "p", "DataOwner", ""),
                 "invalid role");
    /* Steep: an empty password is refused (Teaclave accepted it) */
    expect_error(env, auth_register(env, "admin", f->admin, "x9", "", "DataOwner", "org1"),
                 "invalid password");
    assert_int_not_equal(auth_login(env, "x9", "", NULL), 0);
    /* the users created can log in with their role */
    char *token = NULL;
    char role[64];
    assert_int_equal(auth_login(env, "do1b", "p", &token), 0);
    assert_int_equal(auth_authenticate(env, "do1b", token, role, sizeof role, NULL), 0);
    assert_string_equal(role, "DataOwner-org1");
    free(token);
    assert_int_equal(auth_login(env, "dom3", "p", &token), 0);
    assert_int_equal(auth_authenticate(env, "dom3", token, role, sizeof role, NULL), 0);
    assert_string_equal(role, "DataOwnerManager-org3");
    free(token);
}

static void test_update_rules(void **state)
{
    struct fixture *f = *state;
    struct auth_env *env = &f->env;
    /* DataOwnerManager(org1): its own DataOwners, staying in org1 */
    assert_int_equal(auth_update(env, "dom1", f->dom1, "do1", "new1", "DataOwner", "org1"), 0);
    assert_int_equal(auth_login(env, "do1", "new1", NULL), 0);
    expect_error(env, auth_update(env, "dom1", f->dom1, "do1", "x", "DataOwner", "org2"),
                 "permission denied");
    /* the fix: not admin, not another org's user, not a manager — whatever the new role */
    expect_error(env, auth_update(env, "dom1", f->dom1, "admin", "pwned", "DataOwner", "org1"),
                 "permission denied");
    assert_int_equal(auth_login(env, "admin", "teaclave", NULL), 0);
    assert_int_not_equal(auth_login(env, "admin", "pwned", NULL), 0);
    expect_error(env, auth_update(env, "dom1", f->dom1, "do2", "x", "DataOwner", "org1"),
                 "permission denied");
    expect_error(env, auth_update(env, "dom1", f->dom1, "dom2", "x", "DataOwner", "org1"),
                 "permission denied");
    expect_error(env, auth_update(env, "dom1", f->dom1, "fo", "x", "DataOwner", "org1"),
                 "permission denied");
    /* FunctionOwner and DataOwner may update nobody */
    expect_error(env, auth_update(env, "fo", f->fo, "dom1", "x", "DataOwnerManager", "org1"),
                 MSG_MANAGER_ONLY_ADMIN);
    expect_error(env, auth_update(env, "do2", f->do2, "do2", "x", "DataOwner", "org2"),
                 "permission denied");
    /* PlatformAdmin: anyone, any role */
    assert_int_equal(auth_update(env, "admin", f->admin, "do2", "p2", "FunctionOwner", ""), 0);
    char *token = NULL;
    char role[64];
    assert_int_equal(auth_login(env, "do2", "p2", &token), 0);
    assert_int_equal(auth_authenticate(env, "do2", token, role, sizeof role, NULL), 0);
    assert_string_equal(role, "FunctionOwner");
    free(token);
    /* errors */
    expect_error(env, auth_update(env, "admin", f->admin, "", "p", "DataOwner", "org1"),
                 "invalid user id");
    expect_error(env, auth_update(env, "admin", f->admin, "ghost", "p", "DataOwner", "org1"),
                 "invalid user id");
    expect_error(env, auth_update(env, "admin", f->admin, "do1", "p", "Root", ""), "invalid role");
    expect_error(env, auth_update(env, "admin", f->admin, "do1", "", "DataOwner", "org1"),
                 "invalid password");
}

static void test_reset_rules(void **state)
{
    struct fixture *f = *state;
    struct auth_env *env = &f->env;
    char password[64];
    assert_int_equal(auth_reset(env, "dom1", f->dom1, "do1", password), 0);
    assert_int_equal(strlen(password), 32);
    assert_int_equal(strspn(password, "0123456789abcdef"), 32);
    assert_int_equal(password[12], '4'); /* UUIDv4 */
    assert_int_equal(auth_login(env, "do1", password, NULL), 0);
    assert_int_not_equal(auth_login(env, "do1", "pw-do1", NULL), 0);
    expect_error(env, auth_reset(env, "dom1", f->dom1, "do2", NULL), "permission denied");
    expect_error(env, auth_reset(env, "dom1", f->dom1, "admin", NULL), "permission denied");
    expect_error(env, auth_reset(env, "dom1", f->dom1, "dom2", NULL), "permission denied");
    expect_error(env, auth_reset(env, "fo", f->fo, "do1", NULL), "permission denied");
    expect_error(env, auth_reset(env, "do2", f->do2, "do2", NULL), "permission denied");
    expect_error(env, auth_reset(env, "admin", f->admin, "ghost", NULL), "permission denied");
    expect_error(env, auth_reset(env, "admin", f->admin, "", NULL), "invalid user id");
    assert_int_equal(auth_reset(env, "admin", f->admin, "fo", password), 0);
    assert_int_equal(auth_login(env, "fo", password, NULL), 0);
}

static void test_delete_rules(void **state)
{
    struct fixture *f = *state;
    struct auth_env *env = &f->env;
    expect_error(env, auth_delete(env, "dom1", f->dom1, "do2"), "permission denied");
    expect_error(env, auth_delete(env, "dom1", f->dom1, "admin"), "permission denied");
    expect_error(env, auth_delete(env, "dom1", f->dom1, "dom2"), "permission denied");
    expect_error(env, auth_delete(env, "fo", f->fo, "do1"), "permission denied");
    expect_error(env, auth_delete(env, "do1", f->do1, "do1"), "permission denied");
    expect_error(env, auth_delete(env, "admin", f->admin, "ghost"), "permission denied");
    expect_error(env, auth_delete(env, "admin", f->admin, ""), "invalid user id");
    assert_int_equal(auth_delete(env, "dom1", f->dom1, "do1"), 0);
    assert_int_not_equal(auth_login(env, "do1", "pw-do1", NULL), 0);
    assert_int_equal(auth_delete(env, "admin", f->admin, "dom2"), 0);
    assert_int_not_equal(auth_login(env, "dom2", "pw-dom2", NULL), 0);
    /* the id is free again */
    assert_int_equal(auth_register(env, "admin", f->admin, "dom2", "p", "FunctionOwner", ""), 0);
}

/* Issue 14, item 13: the account-takeover chain a FunctionOwner had in
 * Teaclave, and every other way found to become a victim's manager or to
 * inherit a victim's id, each refused; the admin's own paths still work. */
static void test_takeover_chains(void **state)
{
    struct fixture *f = *state;
    struct auth_env *env = &f->env;
    char *victim = auth_make_user(env, f->admin, "victim", "DataOwner", "bank");
    assert_non_null(victim);
    /* 1. FunctionOwner registers a DataOwnerManager of the victim's attribute ... */
    expect_error(env, auth_register(env, "fo", f->fo, "evil", "pw", "DataOwnerManager", "bank"),
                 MSG_MANAGER_ONLY_ADMIN);
    assert_int_not_equal(auth_login(env, "evil", "pw", NULL), 0);
    /* ... and the rest of the chain fails for the FunctionOwner itself */
    expect_error(env, auth_reset(env, "fo", f->fo, "victim", NULL), "permission denied");
    expect_error(env, auth_update(env, "fo", f->fo, "victim", "x", "DataOwner", "bank"),
                 "permission denied");
    /* 2. a FunctionOwner promotes itself; a manager promotes one of its owners
     *    or makes a manager of its own attribute */
    expect_error(env, auth_update(env, "fo", f->fo, "fo", "x", "DataOwnerManager", "bank"),
                 MSG_MANAGER_ONLY_ADMIN);
    expect_error(env, auth_update(env, "dom1", f->dom1, "do1", "x", "DataOwnerManager", "org1"),
                 MSG_MANAGER_ONLY_ADMIN);
    expect_error(env, auth_register(env, "dom1", f->dom1, "m2", "x", "DataOwnerManager", "org1"),
                 MSG_MANAGER_ONLY_ADMIN);
    char role[64];
    assert_int_equal(auth_authenticate(env, "do1", f->do1, role, sizeof role, NULL), 0);
    assert_string_equal(role, "DataOwner-org1");
    assert_int_equal(auth_authenticate(env, "fo", f->fo, role, sizeof role, NULL), 0);
    assert_string_equal(role, "FunctionOwner");
    /* 3. a manager of another attribute re-creates a deleted victim's id */
    assert_int_equal(auth_delete(env, "admin", f->admin, "do2"), 0);
    expect_error(env, auth_register(env, "dom1", f->dom1, "do2", "x", "DataOwner", "org1"),
                 MSG_DELETED_ID);
    assert_int_not_equal(auth_login(env, "do2", "x", NULL), 0);
    /*    (also for an id the manager itself deleted) */
    assert_int_equal(auth_delete(env, "dom1", f->dom1, "do1"), 0);
    expect_error(env, auth_register(env, "dom1", f->dom1, "do1", "x", "DataOwner", "org1"),
                 MSG_DELETED_ID);
    /*    the tombstone survives a restart */
    assert_int_equal(auth_env_restart(env), 0);
    char *dom1 = NULL;
    assert_int_equal(auth_login(env, "dom1", "pw-dom1", &dom1), 0);
    expect_error(env, auth_register(env, "dom1", dom1, "do2", "x", "DataOwner", "org1"),
                 MSG_DELETED_ID);
    /* the legitimate paths: the admin makes a manager of the attribute, which
     * then manages the victim; the admin promotes, and reuses deleted ids */
    char *admin = NULL;
    assert_int_equal(auth_login(env, "admin", "teaclave", &admin), 0);
    char *manager = auth_make_user(env, admin, "bank-manager", "DataOwnerManager", "bank");
    assert_non_null(manager);
    char password[64];
    assert_int_equal(auth_reset(env, "bank-manager", manager, "victim", password), 0);
    assert_int_equal(auth_login(env, "victim", password, NULL), 0);
    assert_int_equal(auth_update(env, "admin", admin, "fo", "fo-pw", "DataOwnerManager", "bank"),
                     0);
    char *fo = NULL;
    assert_int_equal(auth_login(env, "fo", "fo-pw", &fo), 0);
    assert_int_equal(auth_authenticate(env, "fo", fo, role, sizeof role, NULL), 0);
    assert_string_equal(role, "DataOwnerManager-bank");
    assert_int_equal(auth_register(env, "admin", admin, "do2", "again", "DataOwner", "org1"), 0);
    assert_int_equal(auth_login(env, "do2", "again", NULL), 0);
    /* a manager still registers fresh ids of its attribute */
    assert_int_equal(auth_register(env, "dom1", dom1, "do1c", "p", "DataOwner", "org1"), 0);
    free(victim);
    free(dom1);
    free(admin);
    free(manager);
    free(fo);
}

static void test_list_rules(void **state)
{
    struct fixture *f = *state;
    struct auth_env *env = &f->env;
    char out[512];
    assert_int_equal(auth_register(env, "dom1", f->dom1, "do1b", "p", "DataOwner", "org1"), 0);
    assert_int_equal(auth_list(env, "admin", f->admin, "anything", out, sizeof out), 0);
    assert_string_equal(out, "admin,do1,do1b,do2,dom1,dom2,fo");
    assert_int_equal(auth_list(env, "dom1", f->dom1, "org1", out, sizeof out), 0);
    assert_string_equal(out, "do1,do1b");
    assert_int_equal(auth_list(env, "dom2", f->dom2, "org2", out, sizeof out), 0);
    assert_string_equal(out, "do2");
    expect_error(env, auth_list(env, "dom1", f->dom1, "org2", out, sizeof out),
                 "permission denied");
    expect_error(env, auth_list(env, "fo", f->fo, "org1", out, sizeof out), "permission denied");
    expect_error(env, auth_list(env, "do1", f->do1, "org1", out, sizeof out), "permission denied");
    expect_error(env, auth_list(env, "admin", f->admin, "", out, sizeof out), "invalid user id");
}

static void test_change_password(void **state)
{
    struct fixture *f = *state;
    struct auth_env *env = &f->env;
    expect_error(env, auth_change_password(env, "do1", f->do1, ""), "invalid password");
    assert_int_equal(auth_change_password(env, "do1", f->do1, "fresh"), 0);
    assert_int_equal(auth_login(env, "do1", "fresh", NULL), 0);
    assert_int_not_equal(auth_login(env, "do1", "pw-do1", NULL), 0);
    /* every role may change its own password; the role stays the database's */
    assert_int_equal(auth_change_password(env, "fo", f->fo, "fo-new"), 0);
    char *token = NULL;
    char role[64];
    assert_int_equal(auth_login(env, "fo", "fo-new", &token), 0);
    assert_int_equal(auth_authenticate(env, "fo", token, role, sizeof role, NULL), 0);
    assert_string_equal(role, "FunctionOwner");
    free(token);
    /* the default admin password can be changed, and then the default no longer works */
    assert_int_equal(auth_change_password(env, "admin", f->admin, "a-better-one"), 0);
    assert_int_not_equal(auth_login(env, "admin", "teaclave", NULL), 0);
    assert_int_equal(auth_login(env, "admin", "a-better-one", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_takeover_chains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_password, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
