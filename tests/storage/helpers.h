/*
 * Small helpers shared by the storage tests: temporary directories,
 * recursive removal, and file byte flipping for tamper tests.
 */
#ifndef STEEP_TESTS_STORAGE_HELPERS_H
#define STEEP_TESTS_STORAGE_HELPERS_H

#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a malloc'd path. */
char *test_temp_dir(const char *tag);
/* rm -rf path. */
void test_remove_tree(const char *path);
/* Lists the files of dir whose name ends with suffix (malloc'd full paths,
 * NULL-terminated array; free with test_free_list). */
char **test_list_files(const char *dir, const char *suffix);
void test_free_list(char **list);
/* XORs 0xff into count bytes of the file starting at offset (clamped inside). */
int test_flip_bytes(const char *path, long offset, size_t count);
long test_file_size(const char *path);

#endif
