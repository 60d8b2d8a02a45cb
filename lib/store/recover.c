/*
 * Failing closed after a failed write, and recovering in place.
 *
 * LevelDB (1.23) keeps using its log after a failed append: when a write()
 * of the log fails half-way (ENOSPC), the torn record stays in the file and
 * the next batch is appended behind it. Once space is back those batches
 * are written, synced and acknowledged, and the next open stops at the torn
 * record with "Corruption: checksum mismatch" (paranoid checks; without
 * them LevelDB would silently drop everything behind it). A failed sync
 * leaves LevelDB refusing every later write until it is reopened. So after
 * any failed write the store never writes to that LevelDB handle again: it
 * is marked failed, and every write is refused with the reason until the
 * store has reopened LevelDB. Reopening recovers the log up to its last
 * complete record (a torn tail is an ordinary end of log), writes what it
 * recovered to a table and starts a fresh log, so writes resume behind
 * nothing torn and a restart finds every acknowledged write.
 *
 * The next write attempts the reopen (a read does too when the handle is
 * gone, at most every RETRY_MS), but only when the file system has room
 * for what a reopen writes (about the size of the logs and manifests, plus
 * a margin): while the disk is full the old handle stays open for reads,
 * which see every acknowledged write (LevelDB puts a batch in its memtable
 * only after the log write succeeded), and writes are refused saying so.
 * If a reopen fails anyway (an I/O error), the handle is gone and calls
 * fail until a later attempt succeeds.
 *
 * store->db_lock: readers, and the leader while it applies and writes a
 * group, hold it shared while they use the handle; a reopen holds it
 * exclusively. Only the commit leader writes and marks the store failed,
 * so nothing is written to a handle after its failure.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "core/log.h"
#include "store/internal.h"

#define RETRY_MS      200
#define REOPEN_MARGIN (1u << 20)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bytes a reopen may write (the logs become a table; a new manifest) and
 * bytes free; false when either cannot be told (then the reopen is tried). */
static bool room_to_reopen(const struct steep_store_leveldb *store, uint64_t *need, uint64_t *avail)
{
    struct statvfs vfs;
    DIR *dir;
    if (statvfs(store->path, &vfs) < 0 || (dir = opendir(store->path)) == NULL)
        return true;
    *avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    *need = REOPEN_MARGIN;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        bool log = len > 4 && strcmp(entry->d_name + len - 4, ".log") == 0;
        if (!log && strncmp(entry->d_name, "MANIFEST-", 9) != 0)
            continue;
        char file[4096];
        struct stat st;
        snprintf(file, sizeof file, "%s/%s", store->path, entry->d_name);
        if (stat(file, &st) == 0)
            *need += (uint64_t)st.st_size;
    }
    closedir(dir);
    return *avail >= *need;
}

void steep_store_mark_failed(struct steep_store_leveldb *store, const char *why)
{
    /* Only the leader gets here, and no reopen runs while failed is false. */
    if (atomic_load(&store->failed))
        return;
    snprintf(store->failure, sizeof store->failure, "%s", why);
    atomic_store(&store->failed, true);
    log_error("store: a write failed (%s): refusing writes until %s reopens on a fresh log", why,
              store->path);
}

/* With db_lock held exclusively: reopens LevelDB if the store failed. */
static int recover_locked(struct steep_store_leveldb *store, bool writer)
{
    if (!store->failed)
        return 0;
    int64_t now = now_ms();
    if (!writer && now - store->last_reopen_ms < RETRY_MS)
        return steep_error_set("storage is unavailable after a failed write (%s)", store->failure);
    store->last_reopen_ms = now;
    uint64_t need = 0, avail = 0;
    if (store->db && !room_to_reopen(store, &need, &avail))
        return steep_error_set("storage is refusing writes since a write failed (%s); they resume "
                               "when the disk has room (%" PRIu64 " bytes free, %" PRIu64
                               " needed to reopen on a fresh log)",
                               store->failure, avail, need);
    if (store->db) {
        leveldb_close(store->db);
        store->db = NULL;
    }
    if (steep_store_reopen_db(store) < 0) {
        if (store->db) {
            leveldb_close(store->db);
            store->db = NULL;
        }
        log_error("store: reopening %s after a failed write: %s", store->path, steep_error_get());
        return steep_error_wrap("storage is unavailable since a write failed (%s); reopening",
                                store->failure);
    }
    atomic_store(&store->failed, false);
    log_info("store: %s reopened on a fresh log after a failed write; writes resume", store->path);
    return 0;
}

static int recover(struct steep_store_leveldb *store, bool writer)
{
    /* Readers hold the lock only briefly, but a steady stream of them could
     * keep a writer out for ever (glibc prefers readers): bound the wait. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    if (pthread_rwlock_timedwrlock(&store->db_lock, &until) != 0)
        return steep_error_set("storage is refusing writes since a write failed (%s); it is busy "
                               "reopening",
                               store->failure);
    int rc = recover_locked(store, writer);
    pthread_rwlock_unlock(&store->db_lock);
    return rc;
}

int steep_store_begin_write(struct steep_store_leveldb *store)
{
    pthread_rwlock_rdlock(&store->db_lock);
    if (!store->failed)
        return 0;
    pthread_rwlock_unlock(&store->db_lock);
    GUARD(recover(store, true));
    pthread_rwlock_rdlock(&store->db_lock);
    return 0; /* only the leader marks the store failed, and it is this caller */
}

int steep_store_begin_read(struct steep_store_leveldb *store)
{
    pthread_rwlock_rdlock(&store->db_lock);
    if (store->db)
        return 0;
    pthread_rwlock_unlock(&store->db_lock);
    GUARD(recover(store, false));
    pthread_rwlock_rdlock(&store->db_lock);
    if (store->db)
        return 0;
    pthread_rwlock_unlock(&store->db_lock);
    return steep_error_set("storage is unavailable after a failed write");
}

void steep_store_end(struct steep_store_leveldb *store)
{
    pthread_rwlock_unlock(&store->db_lock);
}
