/*
 * Management's per-user records are keyed by a keyed hash of the user id
 * (issue 14, item 17), not Teaclave's unkeyed uuidv5 that anyone with the
 * storage files could test guessed ids against; records of an older store
 * move to the new keys when management starts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ids.h"
#include "management.h"
#include "records.h"

static struct harness_store store;

struct key_text {
    char text[2048];
};

static int collect(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                   size_t value_len)
{
    struct key_text *keys = arg;
    size_t used = strlen(keys->text);
    snprintf(keys->text + used, sizeof keys->text - used, "%.*s\n", (int)key_len,
             (const char *)key);
    return 0;
}

static void test_keyed_user_keys(void **state)
{
    uint8_t one[STEEP_ID_USER_SECRET_LEN], two[STEEP_ID_USER_SECRET_LEN];
    memset(one, 0x5a, sizeof one);
    memset(two, 0xa5, sizeof two);
    char a[STEEP_ID_TEXT], b[STEEP_ID_TEXT], legacy[STEEP_ID_TEXT];
    assert_int_equal(steep_id_user_key_keyed(one, "python.org", a), 0);
    assert_int_equal(steep_id_user_key_keyed(two, "python.org", b), 0);
    assert_int_equal(steep_id_user_key("python.org", legacy), 0);
    assert_int_equal(strlen(a), 5 + 32);
    assert_int_equal(strncmp(a, "user-", 5), 0);
    assert_string_not_equal(a, b); /* known only with the key */
    assert_string_not_equal(a, legacy);
    assert_true(steep_id_user_key_is_legacy(legacy));
    assert_false(steep_id_user_key_is_legacy(a));
}

static void test_legacy_records_migrated(void **state)
{
    harness_store_open(&store);
    struct steep_management m = {.kv = harness_kv(&store)};
    memset(m.user_secret, 0x5a, sizeof m.user_secret);
    const char *users[] = {"fo-1", "fo-2"};
    for (size_t i = 0; i < 2; i++) {
        char legacy[STEEP_ID_TEXT];
        assert_int_equal(steep_id_user_key(users[i], legacy), 0);
        json_t *record = json_pack("{s:s, s:[s], s:[]}", "id", users[i], "registered_functions",
                                   "function-x", "allowed_functions");
        assert_int_equal(steep_record_save(&m.kv, legacy, record), STEEP_STORE_OK);
        json_decref(record);
    }
    assert_int_equal(steep_management_migrate_user_keys(&m), 0);
    for (size_t i = 0; i < 2; i++) {
        char legacy[STEEP_ID_TEXT], keyed[STEEP_ID_TEXT];
        assert_int_equal(steep_id_user_key(users[i], legacy), 0);
        assert_int_equal(steep_id_user_key_keyed(m.user_secret, users[i], keyed), 0);
        json_t *record = NULL;
        assert_int_equal(steep_record_load(&m.kv, legacy, &record, NULL), STEEP_STORE_NOT_FOUND);
        assert_int_equal(steep_record_load(&m.kv, keyed, &record, NULL), STEEP_STORE_OK);
        assert_string_equal(json_string_value(json_object_get(record, "id")), users[i]);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(record, "registered_functions"), 0)),
            "function-x");
        json_decref(record);
    }
    struct key_text keys = {""};
    assert_int_equal(m.kv.keys(m.kv.ctx, "user", collect, &keys), STEEP_STORE_OK);
    print_message("user keys after the migration:\n%s", keys.text);
    for (const char *line = keys.text; *line; line = strchr(line, '\n') + 1) {
        char key[STEEP_ID_TEXT] = "";
        sscanf(line, "%63s", key);
        assert_false(steep_id_user_key_is_legacy(key));
    }
    /* once is enough: a second start finds nothing to move */
    assert_int_equal(steep_management_migrate_user_keys(&m), 0);
    harness_store_close(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_user_keys),
        cmocka_unit_test(test_legacy_records_migrated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
