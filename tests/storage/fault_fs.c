/* The file-system fault layer (fault_fs.h): write/pwrite/fsync/fdatasync
 * defined in the test executable, forwarding to the kernel by syscall(2). */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fault_fs.h"

static char watched[PATH_MAX];
static size_t watched_len;
static atomic_long calls, failed, fail_at;
static atomic_int fail_errno;
static atomic_bool persistent, cleared;

void fault_fs_watch(const char *dir)
{
    watched_len = 0;
    if (dir && realpath(dir, watched))
        watched_len = strlen(watched);
}

void fault_fs_arm(long at, int err, bool persistent_fault)
{
    atomic_store(&fail_at, 0);
    atomic_store(&calls, 0);
    atomic_store(&failed, 0);
    atomic_store(&fail_errno, err);
    atomic_store(&persistent, persistent_fault);
    atomic_store(&cleared, false);
    atomic_store(&fail_at, at);
}

void fault_fs_clear(void)
{
    atomic_store(&cleared, true);
}

long fault_fs_calls(void)
{
    return atomic_load(&calls);
}

long fault_fs_failed(void)
{
    return atomic_load(&failed);
}

static bool is_watched(int fd)
{
    if (watched_len == 0 || fd < 0)
        return false;
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < (ssize_t)watched_len)
        return false;
    target[n] = '\0';
    return memcmp(target, watched, watched_len) == 0 &&
           (target[watched_len] == '/' || target[watched_len] == '\0');
}

/* Counts a watched call; true when this one must fail. */
static bool should_fail(int fd, bool is_write)
{
    if (!is_watched(fd))
        return false;
    long n = atomic_fetch_add(&calls, 1) + 1;
    long at = atomic_load(&fail_at);
    if (at <= 0 || atomic_load(&cleared))
        return false;
    /* A full disk keeps refusing writes; syncs of what was written pass. */
    bool fail = n == at || (n > at && is_write && atomic_load(&persistent));
    if (fail)
        atomic_fetch_add(&failed, 1);
    return fail;
}

static ssize_t torn(long nr, int fd, const void *buf, size_t count, off_t offset, bool first)
{
    /* The first failing write leaves half its bytes behind (a torn record);
     * later ones on a full disk write nothing. */
    if (first && count > 1) {
        if (nr == SYS_write)
            (void)syscall(SYS_write, fd, buf, count / 2);
        else
            (void)syscall(SYS_pwrite64, fd, buf, count / 2, offset);
    }
    errno = atomic_load(&fail_errno);
    return -1;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    if (should_fail(fd, true))
        return torn(SYS_write, fd, buf, count, 0,
                    atomic_load(&failed) == 1 || !atomic_load(&persistent));
    return syscall(SYS_write, fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    if (should_fail(fd, true))
        return torn(SYS_pwrite64, fd, buf, count, offset,
                    atomic_load(&failed) == 1 || !atomic_load(&persistent));
    return syscall(SYS_pwrite64, fd, buf, count, offset);
}

int fsync(int fd)
{
    if (should_fail(fd, false)) {
        errno = atomic_load(&fail_errno);
        return -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    if (should_fail(fd, false)) {
        errno = atomic_load(&fail_errno);
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}
