/* Helpers shared by the crypto tests: fixture paths, a temp dir, read-all. */
#ifndef STEEP_TESTS_CRYPTO_TEST_UTIL_H
#define STEEP_TESTS_CRYPTO_TEST_UTIL_H

#include "core/buf.h"
#include "crypto/stream.h"

#include <stddef.h>

/* $STEEP_SHARED_DIR/fixtures/teaclave/functions/<rel> (default ../shared). */
void test_fixture_path(char *out, size_t n, const char *rel);
/* Creates a fresh temp dir under $TMPDIR (or /tmp). */
void test_temp_dir_init(const char *tag);
void test_temp_path(char *out, size_t n, const char *name);
void test_temp_dir_cleanup(void);
/* Reads the reader to its end into b (does not close it). */
int test_read_all(struct steep_reader *r, struct steep_buf *b);

#endif
