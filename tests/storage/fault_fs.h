/*
 * A file-system fault layer for storage tests, without LD_PRELOAD or FUSE.
 *
 * LevelDB's C API has no custom Env, so the layer sits under it at the
 * libc boundary: a test executable linked with fault_fs.c defines write(),
 * pwrite(), fsync() and fdatasync() itself. The dynamic linker resolves
 * every reference to them, including those inside libleveldb.so, to the
 * executable's definitions first (the executable precedes libc in the
 * lookup scope; the link exports them with --export-dynamic-symbol), and
 * the definitions issue the real system call with syscall(2). Only
 * descriptors whose path lies under the watched directory are counted or
 * failed; everything else (stderr, sockets) passes straight through.
 * (-Wl,--wrap would only reach statically linked objects, and a FUSE layer
 * needs /dev/fuse and a daemon.)
 *
 * SQLite-style plans: count the calls a transaction makes (a census with
 * no fault), then rerun it failing the 1st, 2nd, ... Nth call. A failing
 * write first writes half its bytes for real, so the file ends in a torn
 * record exactly as on a disk that filled up mid-write. A persistent
 * fault also fails every later write (a full disk) until cleared; a
 * transient one fails that single call (an I/O error).
 */
#ifndef STEEP_TESTS_STORAGE_FAULT_FS_H
#define STEEP_TESTS_STORAGE_FAULT_FS_H

#include <stdbool.h>

/* Count and fail only calls on descriptors under dir (NULL: none). */
void fault_fs_watch(const char *dir);
/* Arms a plan: fail the at-th counted call (1-based) with err; at 0 only
 * counts. Resets the count. */
void fault_fs_arm(long at, int err, bool persistent);
/* Stops failing (the disk has space again); counting goes on. */
void fault_fs_clear(void);
/* Calls counted since the last arm, and how many of them failed. */
long fault_fs_calls(void);
long fault_fs_failed(void);

#endif
