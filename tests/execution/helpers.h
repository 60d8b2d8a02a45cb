/* Shared helpers for the execution tests: temporary directories, small
 * files, and the Python HTTP file server (http_server.py). */
#ifndef STEEP_TESTS_EXECUTION_HELPERS_H
#define STEEP_TESTS_EXECUTION_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdtemp under $TMPDIR or /tmp; aborts on failure. */
void test_temp_dir(char *out, size_t size, const char *tag);
void test_remove_tree(const char *dir);
void test_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file into a malloc'ed NUL-terminated buffer; NULL if missing. */
char *test_read_file(const char *path, size_t *len);
bool test_file_exists(const char *path);
/* $STEEP_SHARED_DIR/fixtures/teaclave/<rel> (or ../shared/... from the repo root). */
void test_fixture_path(char *out, size_t size, const char *rel);

/* Copies a fixture (path relative to fixtures/teaclave) to `to`; aborts on failure. */
void test_copy_fixture(const char *rel, const char *to);

struct test_http_server {
    pid_t pid;
    int stdin_fd;
    int port;
    char root[512];
};

/* Starts http_server.py serving root. */
void test_http_start(struct test_http_server *server, const char *root);
void test_http_stop(struct test_http_server *server);

#endif
