/*
 * steep-python-runner: the process Python tasks come from.
 *
 *   steep-python-runner [--result-limit BYTES] [runner options]
 *       one task, started like steep-task-runner (pid 1 of a new PID
 *       namespace, channel on descriptor 3, task files after it, the
 *       runner options --uid=N --gid=N ... of steep_runner_options_parse);
 *   steep-python-runner --zygote NODE_PID [--result-limit BYTES]
 *       the node's zygote: control socket on descriptor 3.
 *
 * Both initialise the interpreter first (python_embed.c), so a task pays
 * for forks only. The zygote serves one control message per task: the
 * runner options as strings and the task's channel and files as
 * SCM_RIGHTS (channel first). It forks with clone(CLONE_PARENT |
 * CLONE_NEWPID): the task process is the node's own child and pid 1 of a
 * fresh PID namespace, exactly what the node's clone makes of a
 * steep-task-runner, so the node kills it (and with it the whole
 * namespace) on cancel or timeout and reaps it (exit status, rusage, crash
 * and limit reasons) with the same code. (Older clone(2) pages list
 * CLONE_PARENT with CLONE_NEWPID as EINVAL; current kernels refuse
 * CLONE_PARENT only to an init process, which the zygote is not; a kernel
 * that refuses it fails the task with the errno.) Simpler
 * than the alternatives: an unshare(CLONE_NEWPID) and second fork would put
 * an extra process between the node and the namespace (a node's SIGKILL
 * would have to reach pid 1 through a parent-death signal, and the rusage
 * through a relay), and a pidfd passed to the node could not be reaped by
 * it (no wait status, no rusage). The zygote answers with the pid (or
 * -errno) and forgets the task; it never runs task code and holds no task
 * data. The child closes the control socket, moves its descriptors to 3,
 * 4, ... and runs the task (steep_python_task): request, the sandbox of
 * runner_confine.c (namespaces, empty root, sandbox user, supervisor and
 * worker, Landlock, seccomp), payload; then it _exits.
 *
 * The zygote is single-threaded (checked at start), so the raw clone is a
 * plain fork for it and the child may create namespaces; Python's own
 * before/after-fork hooks run around it (import lock, random reseeding in
 * the child).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "executors/runner_confine.h"
#include "executors/python/node/python_zygote.h"
#include "executors/runner_protocol.h"
#include "python_runner.h"

#define CONTROL_FD    3
#define MAX_TASK_FDS  253 /* SCM_MAX_FD */
#define DEFAULT_LIMIT (1u << 20)
#define MAX_OPTIONS   8 /* runner options in one control message */

/* One control message (python_zygote.c): u32 count, the runner options as
 * NUL-terminated strings, then the descriptors. 0 at the end. */
static int receive_task(int *fds, size_t *n, struct steep_runner_options *options)
{
    uint8_t message[STEEP_PYTHON_ZYGOTE_MESSAGE + 1];
    uint32_t count = 0;
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_TASK_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {message, STEEP_PYTHON_ZYGOTE_MESSAGE};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    ssize_t r;
    do
        r = recvmsg(CONTROL_FD, &msg, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    ENSURE(r >= (ssize_t)sizeof count && !(msg.msg_flags & MSG_TRUNC),
           "python zygote: bad control message");
    memcpy(&count, message, sizeof count);
    *n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && *n < MAX_TASK_FDS; i++)
            memcpy(&fds[(*n)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    int rc = 0;
    if ((msg.msg_flags & MSG_CTRUNC) || *n != count || count == 0)
        rc = steep_error_set("python zygote: %zu descriptors received, %u announced", *n, count);
    /* The options: strings after the count, each ended by a NUL. */
    char *argv[MAX_OPTIONS + 2] = {"steep-python-runner"};
    int argc = 1;
    message[r] = 0;
    for (size_t at = sizeof count; rc == 0 && at < (size_t)r; argc++) {
        if (argc > MAX_OPTIONS || message[r - 1] != 0)
            rc = steep_error_set("python zygote: bad runner options");
        argv[argc] = (char *)message + at;
        at += strlen(argv[argc]) + 1;
    }
    if (rc == 0)
        rc = steep_runner_options_parse(argc, argv, options);
    if (rc < 0) {
        for (size_t i = 0; i < *n; i++)
            close(fds[i]);
        return -1;
    }
    return 1;
}

/* In the child: fds[i] becomes descriptor 3 + i, the control socket goes. */
static int place_descriptors(const int *fds, size_t n)
{
    int low = (int)(STEEP_PYTHON_CHANNEL_FD + n);
    int moved[MAX_TASK_FDS];
    for (size_t i = 0; i < n; i++) {
        moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, low);
        ENSURE(moved[i] >= 0, "cannot move a task descriptor: %s", strerror(errno));
        close(fds[i]);
    }
    close(CONTROL_FD);
    for (size_t i = 0; i < n; i++) {
        ENSURE(dup2(moved[i], STEEP_PYTHON_CHANNEL_FD + (int)i) >= 0,
               "cannot place a task descriptor: %s", strerror(errno));
        close(moved[i]);
    }
    return 0;
}

static void __attribute__((noreturn))
run_child(const int *fds, size_t n, const struct steep_runner_options *options, uint64_t limit)
{
    PyOS_AfterFork_Child();
    /* Dies with the node, this process's parent (CLONE_PARENT). getppid()
     * is 0 here (the parent is outside the new PID namespace): a node that
     * died before this line closed its end of the channel, and the task
     * ends reading no request (steep_runner_enter checks again once the
     * sandbox user's credentials cleared the signal). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getpid() != 1)
        _exit(126);
    if (place_descriptors(fds, n) < 0) {
        log_error("python task: %s", steep_error_get());
        _exit(126);
    }
    _exit(steep_python_task(limit, options));
}

static int serve(uint64_t limit)
{
    int fds[MAX_TASK_FDS];
    size_t n = 0;
    for (;;) {
        struct steep_runner_options options;
        int r = receive_task(fds, &n, &options);
        if (r == 0)
            return 0;
        if (r < 0) {
            /* A message the node did not mean: refused, the zygote serves on. */
            log_error("%s", steep_error_get());
            int32_t refused = -EINVAL;
            ENSURE(send(CONTROL_FD, &refused, sizeof refused, MSG_NOSIGNAL) == sizeof refused,
                   "python zygote: cannot answer the node: %s", strerror(errno));
            continue;
        }
        PyOS_BeforeFork();
        long pid = syscall(SYS_clone, CLONE_PARENT | CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0);
        if (pid == 0)
            run_child(fds, n, &options, limit);
        int fork_errno = errno;
        PyOS_AfterFork_Parent();
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
        int32_t reply = pid > 0 ? (int32_t)pid : -(int32_t)fork_errno;
        ENSURE(send(CONTROL_FD, &reply, sizeof reply, MSG_NOSIGNAL) == sizeof reply,
               "python zygote: cannot answer the node: %s", strerror(errno));
    }
}

static int parse_number(const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    ENSURE(errno == 0 && *end == 0 && end != text && value <= max, "bad number %s", text);
    *out = value;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t node = 0, limit = DEFAULT_LIMIT;
    bool zygote = false;
    /* Direct mode: the options the node gives a steep-task-runner. */
    char *runner_argv[MAX_OPTIONS + 2] = {"steep-python-runner"};
    int runner_argc = 1;
    struct steep_runner_options options;
    steep_log_init("python-runner");
    for (int i = 1; i < argc; i++) {
        int rc = 0;
        if (strcmp(argv[i], "--zygote") == 0 && i + 1 < argc) {
            zygote = true;
            rc = parse_number(argv[++i], INT32_MAX, &node);
        } else if (strcmp(argv[i], "--result-limit") == 0 && i + 1 < argc) {
            rc = parse_number(argv[++i], STEEP_RUNNER_MAX_MESSAGE, &limit);
        } else if (strncmp(argv[i], "--", 2) == 0 && runner_argc <= MAX_OPTIONS) {
            runner_argv[runner_argc++] = argv[i];
        } else {
            rc = steep_error_set("usage: steep-python-runner [--zygote NODE_PID] "
                                 "[--result-limit BYTES] [runner options]");
        }
        if (rc < 0) {
            log_error("%s", steep_error_get());
            return 2;
        }
    }
    if (steep_runner_options_parse(runner_argc, runner_argv, &options) < 0 ||
        (zygote && runner_argc > 1)) {
        log_error("python runner: %s", runner_argc > 1 && zygote
                                           ? "the zygote gets runner options per task"
                                           : steep_error_get());
        return 2;
    }
    if (zygote && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != (pid_t)node)) {
        log_error("python zygote: the node %llu is gone", (unsigned long long)node);
        return 2;
    }
    /* A crashing task leaves no core file with its data behind. */
    struct rlimit no_core = {0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) < 0) {
        log_error("python runner: cannot turn off core files: %s", strerror(errno));
        return 2;
    }
    /* Nothing of the node's but the control socket and stdio. */
    if (zygote)
        close_range(CONTROL_FD + 1, ~0u, 0);
    if (steep_runner_prime() < 0 || steep_python_init() < 0) {
        log_error("python runner: %s", steep_error_get());
        if (!zygote) /* the node reads it as the task's failure */
            steep_runner_frame_write(STEEP_PYTHON_CHANNEL_FD, STEEP_RUNNER_ERROR, steep_error_get(),
                                     strlen(steep_error_get()));
        return 2;
    }
    if (!zygote)
        _exit(steep_python_task(limit, &options));
    int rc = serve(limit);
    if (rc < 0)
        log_error("%s", steep_error_get());
    /* _exit: no interpreter finalisation in a process that only forks. */
    _exit(rc < 0 ? 2 : 0);
}
