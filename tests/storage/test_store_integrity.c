/*
 * Engine integrity tests: tampered LevelDB table and log files fail closed,
 * records swapped or moved at the LevelDB level fail to authenticate, and
 * open refuses a store sealed under another key, a foreign LevelDB, a
 * corrupt directory, or a missing store without STEEP_STORE_CREATE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "helpers.h"
#include "store/store.h"

static const uint8_t test_key[STEEP_STORE_KEY_BYTES] = {42, 1, 2, 3};
static const uint8_t other_key[STEEP_STORE_KEY_BYTES] = {42, 1, 2, 4};

#define RECORDS 200

static char *dir;

static int setup(void **state)
{
    dir = test_temp_dir("store-integrity");
    assert_non_null(dir);
    return 0;
}

static int teardown(void **state)
{
    test_remove_tree(dir);
    free(dir);
    return 0;
}

static void record_value(int i, char *out, size_t len)
{
    snprintf(out, len, "value-%04d-%s", i, "padding-to-make-the-record-longer-than-a-few-bytes");
}

static void fill(int flags)
{
    struct steep_store *store;
    char key[32], value[128];
    assert_int_equal(steep_store_open(dir, test_key, flags, &store), 0);
    for (int i = 0; i < RECORDS; i++) {
        snprintf(key, sizeof key, "key-%04d", i);
        record_value(i, value, sizeof value);
        assert_int_equal(steep_store_put(store, key, strlen(key), value, strlen(value)), 0);
    }
    steep_store_close(store);
}

/* After tampering: open fails, or every read returns the right value or an
 * error. Returns how many reads failed (or RECORDS when open failed). */
static int count_failed_reads(void)
{
    struct steep_store *store;
    if (steep_store_open(dir, test_key, 0, &store) < 0) {
        assert_true(strlen(steep_error_get()) > 0);
        return RECORDS;
    }
    int failed = 0;
    char key[32], value[128];
    struct steep_buf got = STEEP_BUF_INIT;
    for (int i = 0; i < RECORDS; i++) {
        snprintf(key, sizeof key, "key-%04d", i);
        record_value(i, value, sizeof value);
        int rc = steep_store_get(store, key, strlen(key), &got);
        if (rc == STEEP_STORE_ERROR) {
            failed++;
            continue;
        }
        /* never garbage, never a silently vanished record */
        assert_int_equal(rc, STEEP_STORE_OK);
        assert_int_equal(got.len, strlen(value));
        assert_memory_equal(got.data, value, got.len);
    }
    steep_buf_free(&got);
    steep_store_close(store);
    return failed;
}

static void flip_middle_of_each(const char *suffix)
{
    char **files = test_list_files(dir, suffix);
    assert_non_null(files[0]);
    for (size_t i = 0; files[i]; i++) {
        long size = test_file_size(files[i]);
        assert_true(size > 200);
        assert_int_equal(test_flip_bytes(files[i], size / 2, 4), 0);
    }
    test_free_list(files);
}

static void test_tampered_table_fails_closed(void **state)
{
    fill(STEEP_STORE_CREATE);
    /* reopening moves the log into a level-0 table file */
    struct steep_store *store;
    assert_int_equal(steep_store_open(dir, test_key, 0, &store), 0);
    steep_store_close(store);
    flip_middle_of_each(".ldb");
    assert_true(count_failed_reads() > 0);
}

static void test_tampered_log_fails_closed(void **state)
{
    fill(STEEP_STORE_CREATE); /* records are still in the write-ahead log */
    flip_middle_of_each(".log");
    assert_true(count_failed_reads() > 0);
}

static char *raw_get(leveldb_t *db, const char *key, size_t *len)
{
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    char *error = NULL;
    char *value = leveldb_get(db, ro, key, strlen(key), len, &error);
    leveldb_readoptions_destroy(ro);
    assert_null(error);
    assert_non_null(value);
    return value;
}

static void raw_put(leveldb_t *db, const char *key, const char *value, size_t len)
{
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char *error = NULL;
    leveldb_put(db, wo, key, strlen(key), value, len, &error);
    leveldb_writeoptions_destroy(wo);
    assert_null(error);
}

static leveldb_t *raw_open(bool create)
{
    leveldb_options_t *options = leveldb_options_create();
    leveldb_options_set_create_if_missing(options, create);
    char *error = NULL;
    leveldb_t *db = leveldb_open(options, dir, &error);
    leveldb_options_destroy(options);
    assert_null(error);
    return db;
}

static void expect_get(struct steep_store *store, const char *key, int want_rc)
{
    struct steep_buf got = STEEP_BUF_INIT;
    assert_int_equal(steep_store_get(store, key, strlen(key), &got), want_rc);
    steep_buf_free(&got);
}

static void test_swapped_and_moved_records_fail(void **state)
{
    fill(STEEP_STORE_CREATE);
    leveldb_t *db = raw_open(false);
    size_t len_a, len_b;
    char *a = raw_get(db, "ukey-0001", &len_a);
    char *b = raw_get(db, "ukey-0002", &len_b);
    raw_put(db, "ukey-0001", b, len_b);
    raw_put(db, "ukey-0002", a, len_a);
    raw_put(db, "ucopied", a, len_a); /* moved onto a new key */
    a[len_a - 20] ^= 1;               /* one flipped ciphertext bit */
    raw_put(db, "ukey-0004", a, len_a);
    leveldb_free(a);
    leveldb_free(b);
    leveldb_close(db);

    struct steep_store *store;
    assert_int_equal(steep_store_open(dir, test_key, 0, &store), 0);
    expect_get(store, "key-0001", STEEP_STORE_ERROR);
    assert_string_equal(steep_error_get(),
                        "stored record failed authentication (tampered or moved)");
    expect_get(store, "key-0002", STEEP_STORE_ERROR);
    expect_get(store, "copied", STEEP_STORE_ERROR);
    expect_get(store, "key-0004", STEEP_STORE_ERROR);
    expect_get(store, "key-0003", STEEP_STORE_OK);
    steep_store_close(store);
}

static void test_wrong_key_refused(void **state)
{
    fill(STEEP_STORE_CREATE);
    struct steep_store *store = NULL;
    assert_int_equal(steep_store_open(dir, other_key, STEEP_STORE_CREATE, &store), -1);
    assert_null(store);
    assert_non_null(strstr(steep_error_get(), "sealed under a different key"));
    /* the right key still opens it, with the data intact */
    assert_int_equal(count_failed_reads(), 0);
}

static void test_missing_store_needs_create(void **state)
{
    char path[600];
    struct steep_store *store = NULL;
    snprintf(path, sizeof path, "%s/sub/dir", dir);
    assert_int_equal(steep_store_open(path, test_key, 0, &store), -1);
    assert_non_null(strstr(steep_error_get(), "no store at"));
    assert_int_equal(steep_store_open(path, test_key, STEEP_STORE_CREATE, &store), 0);
    assert_int_equal(steep_store_put(store, "k", 1, "v", 1), 0);
    steep_store_close(store);
    assert_int_equal(steep_store_open(path, test_key, 0, &store), 0);
    expect_get(store, "k", STEEP_STORE_OK);
    steep_store_close(store);
}

static void test_foreign_directory_refused(void **state)
{
    char path[600];
    struct steep_store *store = NULL;
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("not a database\n", f);
    fclose(f);
    assert_int_equal(steep_store_open(dir, test_key, STEEP_STORE_CREATE, &store), -1);
    assert_non_null(strstr(steep_error_get(), "cannot open store"));
    /* the directory was left alone */
    assert_true(test_file_size(path) == 15);
}

static void test_foreign_leveldb_refused(void **state)
{
    leveldb_t *db = raw_open(true);
    raw_put(db, "some", "record", 6);
    leveldb_close(db);
    struct steep_store *store = NULL;
    assert_int_equal(steep_store_open(dir, test_key, STEEP_STORE_CREATE, &store), -1);
    assert_non_null(strstr(steep_error_get(), "not a Steep store"));
}

static void test_corrupt_directory_refused(void **state)
{
    fill(STEEP_STORE_CREATE);
    char **manifests = test_list_files(dir, "");
    char path[600];
    /* garble the MANIFEST the CURRENT file points at */
    for (size_t i = 0; manifests[i]; i++) {
        if (strstr(manifests[i], "/MANIFEST-")) {
            long size = test_file_size(manifests[i]);
            assert_int_equal(test_flip_bytes(manifests[i], 0, (size_t)size), 0);
        }
    }
    test_free_list(manifests);
    struct steep_store *store = NULL;
    assert_int_equal(steep_store_open(dir, test_key, STEEP_STORE_CREATE, &store), -1);
    assert_non_null(strstr(steep_error_get(), "cannot open store"));
    /* and a store whose CURRENT file is gone */
    snprintf(path, sizeof path, "%s/CURRENT", dir);
    assert_int_equal(remove(path), 0);
    assert_int_equal(steep_store_open(dir, test_key, STEEP_STORE_CREATE, &store), -1);
    assert_non_null(strstr(steep_error_get(), "cannot open store"));
}

static void test_store_in_use_refused(void **state)
{
    struct steep_store *first = NULL, *second = NULL;
    assert_int_equal(steep_store_open(dir, test_key, STEEP_STORE_CREATE, &first), 0);
    assert_int_equal(steep_store_open(dir, test_key, STEEP_STORE_CREATE, &second), -1);
    assert_null(second);
    assert_non_null(strstr(steep_error_get(), "in use by another process"));
    steep_store_close(first);
}

static void test_path_is_a_file_refused(void **state)
{
    char path[600];
    struct steep_store *store = NULL;
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    assert_int_equal(steep_store_open(path, test_key, STEEP_STORE_CREATE, &store), -1);
    assert_non_null(strstr(steep_error_get(), "is not a directory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tampered_table_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_log_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_and_moved_records_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_store_needs_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_directory_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_leveldb_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_directory_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_in_use_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_is_a_file_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
