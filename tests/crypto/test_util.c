/* Helpers shared by the crypto and function tests; see test_util.h. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char temp_dir[4096];

void test_fixture_path(char *out, size_t n, const char *rel)
{
    const char *shared = getenv("STEEP_SHARED_DIR");
    snprintf(out, n, "%s/fixtures/teaclave/functions/%s", shared ? shared : "../shared", rel);
}

void test_temp_dir_init(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(temp_dir, sizeof(temp_dir), "%s/%s-XXXXXX", tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(temp_dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

void test_temp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", temp_dir, name);
}

void test_temp_dir_cleanup(void)
{
    char cmd[4200];
    if (!temp_dir[0] || strstr(temp_dir, "'"))
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", temp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", temp_dir);
}

int test_read_all(struct steep_reader *r, struct steep_buf *b)
{
    uint8_t chunk[5000]; /* deliberately not a multiple of the node size */
    for (;;) {
        ssize_t n = steep_reader_read(r, chunk, sizeof(chunk));
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (steep_buf_append(b, chunk, (size_t)n) < 0)
            return -1;
    }
}
