/*
 * Reads: get and prefix scan. They go to LevelDB directly (never through the
 * committer), so they run concurrently and only see committed writes. Every
 * value is authenticated against its key; a record that fails is an error
 * whose log line names the key, never a value.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/internal.h"

static int refuse_record(const uint8_t *ikey, size_t ikey_len, const char *why)
{
    char name[160];
    steep_store_describe_key(ikey, ikey_len, name, sizeof name);
    log_error("store: record '%s' %s", name, why);
    return steep_error_set("stored record failed authentication (tampered or moved)");
}

int steep_store_read_record(struct steep_store_leveldb *store, const uint8_t *ikey, size_t ikey_len,
                            struct steep_buf *plain)
{
    char *error = NULL;
    size_t sealed_len = 0;
    if (steep_store_begin_read(store) < 0)
        return STEEP_STORE_ERROR;
    char *sealed = leveldb_get(store->db, store->read_options, (const char *)ikey, ikey_len,
                               &sealed_len, &error);
    steep_store_end(store);
    if (error) {
        char name[160];
        steep_store_describe_key(ikey, ikey_len, name, sizeof name);
        log_error("store: reading record '%s': %s", name, error);
        steep_error_set("storage read failed: %s", error);
        leveldb_free(error);
        return STEEP_STORE_ERROR;
    }
    if (!sealed)
        return STEEP_STORE_NOT_FOUND;
    int rc = steep_store_unseal(&store->sealer, ikey, ikey_len, (const uint8_t *)sealed, sealed_len,
                                plain);
    leveldb_free(sealed);
    if (rc == STEEP_STORE_UNCHECKED)
        return STEEP_STORE_ERROR; /* not the record's fault: no tamper alarm */
    if (rc < 0)
        return refuse_record(ikey, ikey_len, "failed authentication");
    return STEEP_STORE_OK;
}

int steep_store_check_key(const void *key, size_t key_len)
{
    ENSURE(key != NULL && key_len > 0, "empty key");
    return 0;
}

int steep_store_leveldb_get(struct steep_store_leveldb *store, const void *key, size_t key_len,
                            struct steep_buf *value)
{
    struct steep_buf ikey = STEEP_BUF_INIT;
    GUARD(steep_store_check_key(key, key_len));
    if (steep_store_user_key(&ikey, key, key_len) < 0) {
        steep_buf_free(&ikey);
        return STEEP_STORE_ERROR;
    }
    int rc = steep_store_read_record(store, ikey.data, ikey.len, value);
    steep_buf_free(&ikey);
    return rc;
}

static bool has_prefix(const char *key, size_t key_len, const struct steep_buf *prefix)
{
    return key_len >= prefix->len && memcmp(key, prefix->data, prefix->len) == 0;
}

static int scan_from(struct steep_store_leveldb *store, leveldb_iterator_t *it,
                     const struct steep_buf *iprefix, steep_store_scan_fn fn, void *arg)
{
    struct steep_buf plain = STEEP_BUF_INIT;
    int rc = 0;
    steep_buf_wipe(&plain);
    for (leveldb_iter_seek(it, (const char *)iprefix->data, iprefix->len);
         rc == 0 && leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t key_len = 0, sealed_len = 0;
        const char *key = leveldb_iter_key(it, &key_len);
        if (!has_prefix(key, key_len, iprefix))
            break;
        const char *sealed = leveldb_iter_value(it, &sealed_len);
        rc = steep_store_unseal(&store->sealer, (const uint8_t *)key, key_len,
                                (const uint8_t *)sealed, sealed_len, &plain);
        if (rc < 0) {
            if (rc != STEEP_STORE_UNCHECKED)
                refuse_record((const uint8_t *)key, key_len, "failed authentication in a scan");
            break;
        }
        steep_error_clear();
        rc = fn(arg, (const uint8_t *)key + 1, key_len - 1, plain.data, plain.len);
        if (rc < 0 && steep_error_get()[0] == '\0')
            steep_error_set("scan callback failed");
    }
    steep_buf_free(&plain);
    if (rc < 0)
        return -1;
    char *error = NULL;
    leveldb_iter_get_error(it, &error);
    if (error) {
        log_error("store: scan: %s", error);
        steep_error_set("storage scan failed: %s", error);
        leveldb_free(error);
        return -1;
    }
    return 0;
}

int steep_store_leveldb_scan(struct steep_store_leveldb *store, const void *prefix,
                             size_t prefix_len, steep_store_scan_fn fn, void *arg)
{
    struct steep_buf iprefix = STEEP_BUF_INIT;
    if (steep_store_user_key(&iprefix, prefix_len ? prefix : "", prefix_len) < 0) {
        steep_buf_free(&iprefix);
        return -1;
    }
    if (steep_store_begin_read(store) < 0) {
        steep_buf_free(&iprefix);
        return -1;
    }
    leveldb_iterator_t *it = leveldb_create_iterator(store->db, store->read_options);
    int rc = scan_from(store, it, &iprefix, fn, arg);
    leveldb_iter_destroy(it);
    steep_store_end(store);
    steep_buf_free(&iprefix);
    return rc;
}
