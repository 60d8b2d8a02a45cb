/*
 * steep-python-runner: the process Python tasks come from.
 *
 *   steep-python-runner [--result-limit BYTES]
 *       one task, started like steep-task-runner (channel on descriptor 3,
 *       task files after it);
 *   steep-python-runner --zygote NODE_PID [--result-limit BYTES]
 *       the node's zygote: control socket on descriptor 3.
 *
 * Both initialise the interpreter first (python_embed.c), so a task pays
 * for a fork only. The zygote serves one control message per task: the
 * task's channel and files as SCM_RIGHTS (channel first). It forks with
 * clone(CLONE_PARENT), so the task process is the node's own child: the
 * node's sandbox kills it on cancel or timeout and reaps it (exit status,
 * rusage, crash and limit reasons) exactly like a steep-task-runner. The
 * zygote answers with the pid (or -errno) and forgets the task; it never
 * runs task code and holds no task data. The child closes the control
 * socket, moves its descriptors to 3, 4, ... and runs the task
 * (steep_python_task: request, confinement, payload), then _exits.
 *
 * The zygote is single-threaded (checked at start), so the raw clone is a
 * plain fork for it; Python's own before/after-fork hooks run around it
 * (import lock, random reseeding in the child).
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
#include "executors/runner_protocol.h"
#include "python_runner.h"

#define CONTROL_FD    3
#define MAX_TASK_FDS  253 /* SCM_MAX_FD */
#define DEFAULT_LIMIT (1u << 20)

/* One control message: u32 count, then the descriptors. 0 at the end. */
static int receive_task(int *fds, size_t *n)
{
    uint32_t count = 0;
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_TASK_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {&count, sizeof count};
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
    ENSURE(r == (ssize_t)sizeof count, "python zygote: bad control message");
    *n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && *n < MAX_TASK_FDS; i++)
            memcpy(&fds[(*n)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    ENSURE(!(msg.msg_flags & MSG_CTRUNC) && *n == count && count > 0,
           "python zygote: %zu descriptors received, %u announced", *n, count);
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
run_child(const int *fds, size_t n, pid_t node, uint64_t limit)
{
    PyOS_AfterFork_Child();
    /* Dies with the node; the node is this process's parent (CLONE_PARENT). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != node)
        _exit(126);
    if (place_descriptors(fds, n) < 0) {
        log_error("python task: %s", steep_error_get());
        _exit(126);
    }
    _exit(steep_python_task(limit));
}

static int serve(pid_t node, uint64_t limit)
{
    int fds[MAX_TASK_FDS];
    size_t n = 0;
    for (;;) {
        int r = receive_task(fds, &n);
        if (r <= 0)
            return r;
        PyOS_BeforeFork();
        long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
        if (pid == 0)
            run_child(fds, n, node, limit);
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
    steep_log_init("python-runner");
    for (int i = 1; i < argc; i++) {
        int rc = 0;
        if (strcmp(argv[i], "--zygote") == 0 && i + 1 < argc) {
            zygote = true;
            rc = parse_number(argv[++i], INT32_MAX, &node);
        } else if (strcmp(argv[i], "--result-limit") == 0 && i + 1 < argc) {
            rc = parse_number(argv[++i], STEEP_RUNNER_MAX_FRAME, &limit);
        } else {
            rc = steep_error_set("usage: steep-python-runner [--zygote NODE_PID] "
                                 "[--result-limit BYTES]");
        }
        if (rc < 0) {
            log_error("%s", steep_error_get());
            return 2;
        }
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
        _exit(steep_python_task(limit));
    int rc = serve((pid_t)node, limit);
    if (rc < 0)
        log_error("%s", steep_error_get());
    /* _exit: no interpreter finalisation in a process that only forks. */
    _exit(rc < 0 ? 2 : 0);
}
