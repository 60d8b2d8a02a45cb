/*
 * Opening and closing a store.
 *
 * A fresh store is created only in an absent or empty directory, and only
 * when the caller asks (STEEP_STORE_CREATE); it starts with a sealed marker
 * record. Opening anything else must prove it is this store: LevelDB opens
 * it with paranoid checks (corruption is an error, never a silent repair),
 * and the marker must be present and authenticate under the caller's key.
 * A directory that fails either check is refused with a message; it is
 * never reset or reused empty -- except one holding only the files of a
 * LevelDB creation that failed half-way (no CURRENT yet), which is created
 * again with STEEP_STORE_CREATE.
 */
#include <dirent.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "store/internal.h"

#define MARKER_KEY   "m"
#define MARKER_VALUE "steep-store v1"

enum directory_state { DIRECTORY_ABSENT_OR_EMPTY, DIRECTORY_HAS_FILES };

static int inspect_directory(const char *path, enum directory_state *state)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        ENSURE(errno == ENOENT, "cannot access store directory %s: %s", path, strerror(errno));
        *state = DIRECTORY_ABSENT_OR_EMPTY;
        return 0;
    }
    ENSURE(S_ISDIR(st.st_mode), "store path %s is not a directory", path);
    DIR *dir = opendir(path);
    ENSURE(dir, "cannot read store directory %s: %s", path, strerror(errno));
    *state = DIRECTORY_ABSENT_OR_EMPTY;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            *state = DIRECTORY_HAS_FILES;
            break;
        }
    }
    closedir(dir);
    return 0;
}

/* True when path holds only what LevelDB writes while it creates a database
 * and no CURRENT file: a creation that failed (disk full, I/O error) before
 * it completed. Nothing was ever stored there, so creating it anew loses
 * nothing; anything else in the directory keeps it from being reset. */
static bool interrupted_creation(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return false;
    bool only_artifacts = true;
    struct dirent *entry;
    while (only_artifacts && (entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        size_t len = strlen(name);
        only_artifacts = strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
                         strcmp(name, "LOCK") == 0 || strcmp(name, "LOG") == 0 ||
                         strcmp(name, "LOG.old") == 0 || strncmp(name, "MANIFEST-", 9) == 0 ||
                         (len > 6 && strcmp(name + len - 6, ".dbtmp") == 0);
    }
    closedir(dir);
    return only_artifacts;
}

static int make_directories(const char *path)
{
    char *copy = strdup(path);
    ENSURE(copy, "out of memory");
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
            int saved = errno;
            free(copy);
            return steep_error_set("cannot create directory for the store: %s", strerror(saved));
        }
        *p = '/';
    }
    free(copy);
    ENSURE(mkdir(path, 0700) == 0 || errno == EEXIST, "cannot create store directory %s: %s", path,
           strerror(errno));
    return 0;
}

static int open_leveldb(struct steep_store_leveldb *store, bool create)
{
    char *error = NULL;
    leveldb_options_set_create_if_missing(store->options, create);
    leveldb_options_set_error_if_exists(store->options, create);
    store->db = leveldb_open(store->options, store->path, &error);
    if (error) {
        bool locked = strstr(error, "lock") != NULL;
        steep_error_set("cannot open store %s: %s%s", store->path, error,
                        locked   ? " (in use by another process)"
                        : create ? ""
                                 : " (corrupt, or not a Steep store)");
        leveldb_free(error);
        return -1;
    }
    return 0;
}

static int write_marker(struct steep_store_leveldb *store)
{
    struct steep_buf sealed = STEEP_BUF_INIT;
    char *error = NULL;
    if (steep_store_seal(&store->sealer, (const uint8_t *)MARKER_KEY, strlen(MARKER_KEY),
                         MARKER_VALUE, strlen(MARKER_VALUE), &sealed) < 0) {
        steep_buf_free(&sealed);
        return -1;
    }
    leveldb_put(store->db, store->write_options, MARKER_KEY, strlen(MARKER_KEY),
                (const char *)sealed.data, sealed.len, &error);
    steep_buf_free(&sealed);
    if (error) {
        steep_error_set("cannot write the store marker in %s: %s", store->path, error);
        leveldb_free(error);
        return -1;
    }
    return 0;
}

static bool leveldb_is_empty(struct steep_store_leveldb *store)
{
    leveldb_iterator_t *it = leveldb_create_iterator(store->db, store->read_options);
    leveldb_iter_seek_to_first(it);
    bool empty = !leveldb_iter_valid(it);
    leveldb_iter_destroy(it);
    return empty;
}

static int check_marker(struct steep_store_leveldb *store, int flags)
{
    struct steep_buf plain = STEEP_BUF_INIT;
    char *error = NULL;
    size_t sealed_len = 0;
    char *sealed = leveldb_get(store->db, store->read_options, MARKER_KEY, strlen(MARKER_KEY),
                               &sealed_len, &error);
    if (error) {
        steep_error_set("store %s is corrupt: %s", store->path, error);
        leveldb_free(error);
        return -1;
    }
    if (!sealed) {
        /* A crash between creating LevelDB and writing the marker leaves an
         * empty LevelDB: that one alone may be completed. */
        if ((flags & STEEP_STORE_CREATE) && leveldb_is_empty(store))
            return write_marker(store);
        return steep_error_set("%s is not a Steep store (no marker record)", store->path);
    }
    int rc = steep_store_unseal(&store->sealer, (const uint8_t *)MARKER_KEY, strlen(MARKER_KEY),
                                (const uint8_t *)sealed, sealed_len, &plain);
    leveldb_free(sealed);
    if (rc == STEEP_STORE_UNCHECKED) {
        steep_buf_free(&plain);
        return -1; /* could not check it (out of memory): not a wrong key */
    }
    bool same = rc == 0 && plain.len == strlen(MARKER_VALUE) &&
                memcmp(plain.data, MARKER_VALUE, plain.len) == 0;
    steep_buf_free(&plain);
    ENSURE(same, "store %s was sealed under a different key (or its marker was tampered with)",
           store->path);
    return 0;
}

static int set_up(struct steep_store_leveldb *store, const char *path, const uint8_t *key)
{
    GUARD(steep_store_sealer_init(&store->sealer, key));
    store->path = strdup(path);
    ENSURE(store->path, "out of memory");
    store->options = leveldb_options_create();
    store->cache = leveldb_cache_create_lru(32u << 20);
    store->filter = leveldb_filterpolicy_create_bloom(10);
    store->read_options = leveldb_readoptions_create();
    store->write_options = leveldb_writeoptions_create();
    leveldb_options_set_paranoid_checks(store->options, 1);
    leveldb_options_set_cache(store->options, store->cache);
    leveldb_options_set_filter_policy(store->options, store->filter);
    leveldb_options_set_compression(store->options, leveldb_no_compression);
    leveldb_readoptions_set_verify_checksums(store->read_options, 1);
    leveldb_writeoptions_set_sync(store->write_options, 1);
    ENSURE(pthread_mutex_init(&store->commit_mutex, NULL) == 0, "mutex init failed");
    ENSURE(pthread_mutex_init(&store->watch_mutex, NULL) == 0, "mutex init failed");
    ENSURE(pthread_rwlock_init(&store->db_lock, NULL) == 0, "rwlock init failed");
    return 0;
}

static int open_store(struct steep_store_leveldb *store, const char *path, int flags)
{
    enum directory_state state = DIRECTORY_HAS_FILES;
    GUARD(inspect_directory(path, &state));
    if (state == DIRECTORY_ABSENT_OR_EMPTY) {
        ENSURE(flags & STEEP_STORE_CREATE, "no store at %s (absent or empty directory)", path);
        GUARD(make_directories(path));
        GUARD(open_leveldb(store, true));
        GUARD(write_marker(store));
        log_info("store: created a new store in %s", path);
        return 0;
    }
    if ((flags & STEEP_STORE_CREATE) && interrupted_creation(path)) {
        log_warn("store: %s holds a creation that did not complete; creating it again", path);
        GUARD(open_leveldb(store, true));
        GUARD(write_marker(store));
        log_info("store: created a new store in %s", path);
        return 0;
    }
    GUARD(open_leveldb(store, false));
    return check_marker(store, flags);
}

int steep_store_reopen_db(struct steep_store_leveldb *store)
{
    GUARD(open_leveldb(store, false));
    return check_marker(store, 0);
}

static void close_store(struct steep_store_leveldb *store);

/* The back-end interface (backend.h) over the functions of this engine. */
#define LEVELDB(store) ((struct steep_store_leveldb *)(store))

static void engine_close_store(struct steep_store *store)
{
    close_store(LEVELDB(store));
}

static int engine_get(struct steep_store *store, const void *key, size_t key_len,
                      struct steep_buf *value)
{
    return steep_store_leveldb_get(LEVELDB(store), key, key_len, value);
}

static int engine_scan(struct steep_store *store, const void *prefix, size_t prefix_len,
                       steep_store_scan_fn fn, void *arg)
{
    return steep_store_leveldb_scan(LEVELDB(store), prefix, prefix_len, fn, arg);
}

static int engine_batch(struct steep_store *store, const struct steep_store_op *ops, size_t n)
{
    return steep_store_leveldb_batch(LEVELDB(store), ops, n);
}

static int engine_compare_and_swap(struct steep_store *store, struct steep_store_cas *cas)
{
    return steep_store_leveldb_compare_and_swap(LEVELDB(store), cas);
}

static int engine_wait_change(struct steep_store *store, const void *key, size_t key_len,
                              bool known_absent, const void *known, size_t known_len,
                              int timeout_ms, bool *changed)
{
    return steep_store_leveldb_wait_change(LEVELDB(store), key, key_len, known_absent, known,
                                           known_len, timeout_ms, changed);
}

static struct steep_store_watch *engine_watch(struct steep_store *store, const void *key,
                                              size_t key_len, steep_store_wake_fn wake, void *arg)
{
    return steep_store_leveldb_watch(LEVELDB(store), key, key_len, wake, arg);
}

static void engine_unwatch(struct steep_store *store, struct steep_store_watch *watch)
{
    steep_store_leveldb_unwatch(LEVELDB(store), watch);
}

static int engine_enqueue(struct steep_store *store, const void *queue, size_t queue_len,
                          const void *value, size_t value_len)
{
    return steep_store_leveldb_enqueue(LEVELDB(store), queue, queue_len, value, value_len);
}

static int engine_dequeue(struct steep_store *store, const void *queue, size_t queue_len,
                          struct steep_buf *value)
{
    return steep_store_leveldb_dequeue(LEVELDB(store), queue, queue_len, value);
}

static void engine_compact(struct steep_store *store)
{
    leveldb_compact_range(LEVELDB(store)->db, NULL, 0, NULL, 0);
}

static const struct steep_store_backend leveldb_backend = {
    .name = "leveldb",
    .close = engine_close_store,
    .get = engine_get,
    .scan = engine_scan,
    .batch = engine_batch,
    .compare_and_swap = engine_compare_and_swap,
    .wait_change = engine_wait_change,
    .watch = engine_watch,
    .unwatch = engine_unwatch,
    .enqueue = engine_enqueue,
    .dequeue = engine_dequeue,
    .compact = engine_compact,
};

int steep_store_open(const char *path, const uint8_t key[STEEP_STORE_KEY_BYTES], int flags,
                     struct steep_store **out)
{
    *out = NULL;
    ENSURE(path && *path, "empty store path");
    struct steep_store_leveldb *store = calloc(1, sizeof *store);
    ENSURE(store, "out of memory");
    store->base.backend = &leveldb_backend;
    if (set_up(store, path, key) < 0 || open_store(store, path, flags) < 0) {
        close_store(store);
        return -1;
    }
    *out = &store->base;
    return 0;
}

static void close_store(struct steep_store_leveldb *store)
{
    if (!store)
        return;
    if (store->db)
        leveldb_close(store->db);
    if (store->options)
        leveldb_options_destroy(store->options);
    if (store->cache)
        leveldb_cache_destroy(store->cache);
    if (store->filter)
        leveldb_filterpolicy_destroy(store->filter);
    if (store->read_options)
        leveldb_readoptions_destroy(store->read_options);
    if (store->write_options)
        leveldb_writeoptions_destroy(store->write_options);
    if (store->path) {
        pthread_mutex_destroy(&store->commit_mutex);
        pthread_mutex_destroy(&store->watch_mutex);
        pthread_rwlock_destroy(&store->db_lock);
    }
    steep_store_sealer_free(&store->sealer);
    free(store->path);
    free(store);
}
