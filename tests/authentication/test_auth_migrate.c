/*
 * User ids out of storage keys (issue 14, item 17): a user database of an
 * older version ("user/<id>", "deleted/<id>" keys) is migrated at open to
 * keyed-hash keys: its users still log in, its tombstones still refuse the
 * reuse of a deleted id, and afterwards no raw key of the store, nor any
 * of its files, names a user. A fresh store never has an id in a key either.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_harness.h"
#include "store/store.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void put(struct steep_store *store, const char *key, const char *value)
{
    assert_int_equal(steep_store_put(store, key, strlen(key), value, strlen(value)),
                     STEEP_STORE_OK);
}

static void put_user(struct steep_store *store, const char *id, const char *password,
                     const char *role)
{
    const struct steep_auth_argon2 params = {1, 64, 1};
    char hash[STEEP_AUTH_HASH_MAX], key[300], value[512];
    assert_int_equal(steep_auth_password_hash(&params, password, hash), 0);
    snprintf(key, sizeof key, "user/%s", id);
    snprintf(value, sizeof value, "{\"role\":\"%s\",\"hash\":\"%s\",\"version\":7}", role, hash);
    put(store, key, value);
}

struct keys {
    char text[4096];
};

static int collect(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                   size_t value_len)
{
    struct keys *keys = arg;
    size_t used = strlen(keys->text);
    snprintf(keys->text + used, sizeof keys->text - used, "%.*s\n", (int)key_len,
             (const char *)key);
    return 0;
}

/* Every raw key of the stopped service's store, one per line. */
static void raw_keys(struct auth_env *env, struct keys *keys)
{
    char path[128];
    snprintf(path, sizeof path, "%s/users", env->dir);
    struct steep_store *store = NULL;
    assert_int_equal(steep_store_open(path, env->options.db_key, 0, &store), STEEP_STORE_OK);
    keys->text[0] = '\0';
    assert_int_equal(steep_store_scan(store, "", 0, collect, keys), STEEP_STORE_OK);
    steep_store_close(store);
}

static void test_legacy_store_migrated(void **state)
{
    struct auth_env env;
    assert_int_equal(auth_env_start(&env), 0);
    auth_env_stop(&env);
    /* replace the user database with one of an older version */
    char path[128];
    snprintf(path, sizeof path, "%s/users", env.dir);
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    struct steep_store *store = NULL;
    assert_int_equal(steep_store_open(path, env.options.db_key, STEEP_STORE_CREATE, &store),
                     STEEP_STORE_OK);
    put_user(store, "admin", "teaclave", "PlatformAdmin");
    put_user(store, "legacy-carol", "pw-carol", "DataOwner-org1");
    put(store, "deleted/gone-dave", "{}");
    put(store, "meta/bootstrapped", "1");
    steep_store_close(store);

    assert_int_equal(auth_env_restart(&env), 0);
    char *admin = NULL;
    assert_int_equal(auth_login(&env, "admin", "teaclave", &admin), 0);
    assert_int_equal(auth_login(&env, "legacy-carol", "pw-carol", NULL), 0);
    char ids[256];
    assert_int_equal(auth_list(&env, "admin", admin, "admin", ids, sizeof ids), 0);
    assert_string_equal(ids, "admin,legacy-carol");
    /* the tombstone moved too: a manager may not reuse the deleted id */
    char *dom = auth_make_user(&env, admin, "dom", "DataOwnerManager", "org1");
    assert_non_null(dom);
    assert_int_equal(auth_register(&env, "dom", dom, "gone-dave", "pw", "DataOwner", "org1"), 16);
    assert_non_null(strstr(env.last_status.message, "deleted user"));
    auth_env_stop(&env);

    struct keys keys;
    raw_keys(&env, &keys);
    print_message("keys after the migration:\n%s", keys.text);
    const char *ids_in_store[] = {"admin", "legacy-carol", "gone-dave", "dom"};
    for (size_t i = 0; i < sizeof ids_in_store / sizeof ids_in_store[0]; i++)
        if (strstr(keys.text, ids_in_store[i]))
            fail_msg("a key names user '%s'", ids_in_store[i]);
    assert_non_null(strstr(keys.text, "meta/key-index\n"));
    assert_non_null(strstr(keys.text, "deleted/"));
    /* nor do the store's tables and write-ahead logs: the old keys were
     * compacted away. LevelDB's own bookkeeping may name one key of the
     * compaction for a while: the MANIFEST's compaction pointer (until a
     * later compaction moves it) and its diagnostic LOG (LOG.old is gone
     * after the second next open). */
    char command[320];
    snprintf(command, sizeof command,
             "grep -rlaF --exclude='MANIFEST-*' --exclude='LOG*' -e legacy-carol -e gone-dave "
             "'%s/users'",
             env.dir);
    FILE *grep = popen(command, "r");
    assert_non_null(grep);
    char hit[256] = "";
    if (fgets(hit, sizeof hit, grep))
        fail_msg("a user id is still on disk in %s", hit);
    pclose(grep);

    /* a second start migrates nothing and everything still works */
    assert_int_equal(auth_env_restart(&env), 0);
    assert_int_equal(auth_login(&env, "legacy-carol", "pw-carol", NULL), 0);
    assert_int_equal(auth_delete(&env, "admin", admin, "legacy-carol"), 0);
    assert_int_equal(auth_login(&env, "legacy-carol", "pw-carol", NULL), 16);
    free(admin);
    free(dom);
    auth_env_destroy(&env);
}

static void test_fresh_store_has_no_ids_in_keys(void **state)
{
    struct auth_env env;
    assert_int_equal(auth_env_start(&env), 0);
    char *admin = NULL;
    assert_int_equal(auth_login(&env, "admin", "teaclave", &admin), 0);
    char *erin = auth_make_user(&env, admin, "erin-7", "DataOwner", "org1");
    assert_non_null(erin);
    assert_int_equal(auth_delete(&env, "admin", admin, "erin-7"), 0);
    auth_env_stop(&env);
    struct keys keys;
    raw_keys(&env, &keys);
    assert_null(strstr(keys.text, "admin"));
    assert_null(strstr(keys.text, "erin-7"));
    /* user/<64 hex> for admin, deleted/<64 hex> for erin-7 */
    assert_non_null(strstr(keys.text, "deleted/"));
    assert_non_null(strstr(keys.text, "user/"));
    free(admin);
    free(erin);
    auth_env_destroy(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_store_migrated),
        cmocka_unit_test(test_fresh_store_has_no_ids_in_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
