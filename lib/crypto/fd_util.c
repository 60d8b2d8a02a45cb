/* Whole-buffer fd reads and writes; see fd_util.h. */
#include "crypto/fd_util.h"

#include "core/error.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

ssize_t steep_fd_read_full(int fd, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, (char *)buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return steep_error_set("read failed: %s", strerror(errno));
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

ssize_t steep_fd_pread_full(int fd, void *buf, size_t n, off_t offset)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, offset + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return steep_error_set("read failed: %s", strerror(errno));
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int steep_fd_write_all(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const char *)buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return steep_error_set("write failed: %s", strerror(errno));
        done += (size_t)r;
    }
    return 0;
}

int steep_fd_pwrite_all(int fd, const void *buf, size_t n, off_t offset)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const char *)buf + done, n - done, offset + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return steep_error_set("write failed: %s", strerror(errno));
        done += (size_t)r;
    }
    return 0;
}
