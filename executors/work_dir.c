/* Node work directories; see work_dir.h. */
#include "work_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

#define NODE_PREFIX  "node-"
#define CLAIM_PREFIX ".claim-"
/* A claim directory this old was left by a node killed while claiming. */
#define CLAIM_STALE_SECS 60

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (remove(path) < 0)
        log_warn("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

void steep_work_dir_remove_tree(const char *dir)
{
    if (dir[0] && nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", dir, strerror(errno));
}

/* Removes <base>/<name> when no live node holds its lock. */
static void sweep_one(const char *base, const char *name)
{
    char dir[4096], lock[4200];
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    snprintf(lock, sizeof lock, "%s/.lock", dir);
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd); /* a live node */
        return;
    }
    log_info("removing the work directory of a stopped node: %s", dir);
    steep_work_dir_remove_tree(dir);
    if (fd >= 0)
        close(fd);
}

/* A claim directory is being made by a starting node, or was left by one
 * killed while claiming: only an old one is removed. */
static void sweep_claim(const char *base, const char *name)
{
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    if (lstat(dir, &st) == 0 && time(NULL) - st.st_mtime > CLAIM_STALE_SECS)
        sweep_one(base, name);
}

static void sweep(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *entry;
    if (!d)
        return;
    while ((entry = readdir(d)))
        if (strncmp(entry->d_name, NODE_PREFIX, strlen(NODE_PREFIX)) == 0)
            sweep_one(base, entry->d_name);
        else if (strncmp(entry->d_name, CLAIM_PREFIX, strlen(CLAIM_PREFIX)) == 0)
            sweep_claim(base, entry->d_name);
    closedir(d);
}

/*
 * The directory is made under a claim name the sweep of another starting
 * node leaves alone, its lock taken, and only then renamed to node-<hex>:
 * a node-* directory without a held lock is always a dead node's (made in
 * place, a second node's sweep could remove it between the mkdir and the
 * lock, and the claimer then failed to start).
 */
int steep_work_dir_claim(const char *base, char *dir, size_t size, int *lock_fd)
{
    uint8_t nonce[8];
    char hex[17], claim[4096], lock[4200];
    ENSURE(mkdir(base, 0700) == 0 || errno == EEXIST, "cannot create %s: %s", base,
           strerror(errno));
    sweep(base);
    ENSURE(RAND_bytes(nonce, sizeof nonce) == 1, "no randomness for the work directory");
    steep_hex_encode(nonce, sizeof nonce, hex);
    ENSURE((size_t)snprintf(dir, size, "%s/" NODE_PREFIX "%s", base, hex) < size &&
               strlen(dir) < 3000,
           "work directory path too long");
    snprintf(claim, sizeof claim, "%s/" CLAIM_PREFIX "%s", base, hex);
    ENSURE(mkdir(claim, 0700) == 0, "cannot create %s: %s", claim, strerror(errno));
    snprintf(lock, sizeof lock, "%s/.lock", claim);
    *lock_fd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (*lock_fd < 0) {
        int result = steep_error_set("cannot create %s: %s", lock, strerror(errno));
        rmdir(claim);
        return result;
    }
    if (flock(*lock_fd, LOCK_EX | LOCK_NB) < 0 || rename(claim, dir) < 0) {
        int result = steep_error_set("cannot claim %s: %s", dir, strerror(errno));
        close(*lock_fd);
        *lock_fd = -1;
        steep_work_dir_remove_tree(claim);
        return result;
    }
    return 0;
}

void steep_work_dir_release(const char *dir, int lock_fd)
{
    steep_work_dir_remove_tree(dir);
    if (lock_fd >= 0)
        close(lock_fd);
}
