/* Test helpers; see helpers.h. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "test helper: %s: %s\n", what, strerror(errno));
    abort();
}

void test_temp_dir(char *out, size_t size, const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, size, "%s/steep-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(out))
        die("mkdtemp");
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (type == FTW_D || type == FTW_DP)
        chmod(path, 0700);
    remove(path);
    return 0;
}

void test_remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die(path);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
        die(path);
    fclose(f);
    data[size] = 0;
    if (len)
        *len = (size_t)size;
    return data;
}

bool test_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

void test_fixture_path(char *out, size_t size, const char *rel)
{
    const char *shared = getenv("STEEP_SHARED_DIR");
    snprintf(out, size, "%s/fixtures/teaclave/%s", shared && *shared ? shared : "../shared", rel);
}

void test_copy_fixture(const char *rel, const char *to)
{
    char from[1024];
    size_t len;
    test_fixture_path(from, sizeof from, rel);
    char *data = test_read_file(from, &len);
    if (!data) {
        errno = ENOENT;
        die(from);
    }
    test_write_file(to, data, len);
    free(data);
}

void test_http_start(struct test_http_server *server, const char *root)
{
    int in[2], out[2];
    const char *source = getenv("STEEP_SOURCE_DIR");
    char script[1024];
    snprintf(script, sizeof script, "%s/tests/execution/http_server.py",
             source && *source ? source : ".");
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
        die("pipe");
    snprintf(server->root, sizeof server->root, "%s", root);
    server->pid = fork();
    if (server->pid < 0)
        die("fork");
    if (server->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl("/usr/bin/python3", "python3", script, root, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    server->stdin_fd = in[1];
    char line[32] = {0};
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(out[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    close(out[0]);
    server->port = atoi(line);
    if (server->port <= 0) {
        errno = EPROTO;
        die("http_server.py did not start");
    }
}

void test_http_stop(struct test_http_server *server)
{
    close(server->stdin_fd);
    int status;
    for (int i = 0; i < 200; i++) {
        if (waitpid(server->pid, &status, WNOHANG) == server->pid)
            return;
        usleep(10000);
    }
    kill(server->pid, SIGKILL);
    waitpid(server->pid, &status, 0);
}
