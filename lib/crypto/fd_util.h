/*
 * Small fd helpers shared by the stream implementations: whole-buffer
 * reads and writes that retry on EINTR and short transfers, and report a
 * message through steep_error_set(). Internal to lib/crypto.
 */
#ifndef STEEP_CRYPTO_FD_UTIL_H
#define STEEP_CRYPTO_FD_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Reads up to n bytes, stopping early only at end of file; returns the count or -1. */
ssize_t steep_fd_read_full(int fd, void *buf, size_t n);
/* Same with pread at offset. */
ssize_t steep_fd_pread_full(int fd, void *buf, size_t n, off_t offset);
int steep_fd_write_all(int fd, const void *buf, size_t n);
int steep_fd_pwrite_all(int fd, const void *buf, size_t n, off_t offset);

#endif
