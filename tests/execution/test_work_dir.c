/*
 * Node work directories (executors/work_dir.h) claimed by several nodes
 * starting at once on one work root: every claim succeeds and keeps its
 * directory and lock while other nodes sweep; a dead node's directory and
 * an old abandoned claim are removed, a fresh claim is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <cmocka.h>

#include "core/error.h"
#include "executors/work_dir.h"
#include "helpers.h"

#define CLAIMERS 6
#define ROUNDS   150

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* One node starting ROUNDS times: 0 when every claim held, else 1. */
static int claimer(const char *base)
{
    for (int round = 0; round < ROUNDS; round++) {
        char dir[4096], lock[4200];
        int fd = -1;
        if (steep_work_dir_claim(base, dir, sizeof dir, &fd) < 0) {
            fprintf(stderr, "claim %d failed: %s\n", round, steep_error_get());
            return 1;
        }
        snprintf(lock, sizeof lock, "%s/.lock", dir);
        /* a task's file, as a node writes them */
        char file[4300];
        snprintf(file, sizeof file, "%s/task", dir);
        int task = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (task < 0 || !exists(lock)) {
            fprintf(stderr, "claim %d: %s was swept from under its live node\n", round, dir);
            return 1;
        }
        close(task);
        steep_work_dir_release(dir, fd);
    }
    return 0;
}

static void test_concurrent_claims(void **state)
{
    (void)state;
    char base[400];
    test_temp_dir(base, sizeof base, "workdir");
    pid_t pids[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            _exit(claimer(base));
    }
    int failed = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    assert_int_equal(failed, 0);
    test_remove_tree(base);
}

static void test_dead_and_abandoned_removed(void **state)
{
    (void)state;
    char base[400], dead[600], old_claim[600], new_claim[600], path[700];
    test_temp_dir(base, sizeof base, "workdir");
    /* a dead node's directory: a lock file nobody holds */
    snprintf(dead, sizeof dead, "%s/node-00112233deadbeef", base);
    assert_int_equal(mkdir(dead, 0700), 0);
    snprintf(path, sizeof path, "%s/.lock", dead);
    close(open(path, O_RDWR | O_CREAT, 0600));
    /* a claim abandoned long ago, and one being made right now */
    snprintf(old_claim, sizeof old_claim, "%s/.claim-0011223344556677", base);
    snprintf(new_claim, sizeof new_claim, "%s/.claim-8899aabbccddeeff", base);
    assert_int_equal(mkdir(old_claim, 0700), 0);
    assert_int_equal(mkdir(new_claim, 0700), 0);
    struct utimbuf old = {.actime = time(NULL) - 3600, .modtime = time(NULL) - 3600};
    assert_int_equal(utime(old_claim, &old), 0);
    char dir[4096];
    int fd = -1;
    assert_int_equal(steep_work_dir_claim(base, dir, sizeof dir, &fd), 0);
    assert_false(exists(dead));
    assert_false(exists(old_claim));
    assert_true(exists(new_claim));
    assert_true(exists(dir));
    /* a second node leaves the first one's live directory alone */
    char second[4096];
    int fd2 = -1;
    assert_int_equal(steep_work_dir_claim(base, second, sizeof second, &fd2), 0);
    assert_true(exists(dir));
    steep_work_dir_release(second, fd2);
    steep_work_dir_release(dir, fd);
    assert_false(exists(dir));
    test_remove_tree(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_claims),
        cmocka_unit_test(test_dead_and_abandoned_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
