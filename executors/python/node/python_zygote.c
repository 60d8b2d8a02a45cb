/* The node's Python zygote; see python_zygote.h. */
#include "python_zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "executors/sandbox.h"

#define MAX_TASK_FDS 253 /* SCM_MAX_FD */
/* The first request waits for the interpreter and numpy to load. */
#define REPLY_TIMEOUT_MS 60000

struct steep_python_zygote {
    pthread_mutex_t lock;
    char runner_path[PATH_MAX];
    char limit_text[32];
    pid_t pid; /* 0: none */
    int control;
};

static int launch(struct steep_python_zygote *zygote)
{
    int pair[2];
    char parent[32];
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    char *argv[] = {"steep-python-runner", "--zygote",         parent,
                    "--result-limit",      zygote->limit_text, NULL};
    /* Sanitizer builds: the sandbox's crash handlers stay in charge. */
    static char asan[] = "ASAN_OPTIONS=detect_leaks=0:handle_segv=0:handle_sigbus=0:"
                         "handle_abort=0:handle_sigill=0:handle_sigfpe=0:"
                         "allow_user_segv_handler=1:allocator_may_return_null=1";
    char log_env[64] = "";
    char *envp[3] = {asan, NULL, NULL};
    const char *level = getenv("STEEP_LOG");
    if (level && strlen(level) < 32) {
        snprintf(log_env, sizeof log_env, "STEEP_LOG=%s", level);
        envp[1] = log_env;
    }
    ENSURE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0,
           "cannot create the Python zygote's socket: %s", strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    /* Each of these fails only without memory; posix_spawn is not tried then. */
    int rc = posix_spawn_file_actions_init(&actions);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(&actions, pair[1], 3);
    rc = rc ? rc : posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    rc = rc ? rc : posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    rc = rc ? rc : posix_spawnattr_init(&attributes);
    rc = rc ? rc : posix_spawnattr_setsigmask(&attributes, &none);
    rc = rc ? rc : posix_spawnattr_setsigdefault(&attributes, &defaults);
    rc = rc ? rc
            : posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    rc = rc ? rc : posix_spawn(&pid, zygote->runner_path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close(pair[1]);
    if (rc != 0) {
        close(pair[0]);
        return steep_error_set("cannot start the Python zygote %s: %s", zygote->runner_path,
                               strerror(rc));
    }
    zygote->pid = pid;
    zygote->control = pair[0];
    log_info("python zygote %d started", (int)pid);
    return 0;
}

static void discard(struct steep_python_zygote *zygote)
{
    if (zygote->pid <= 0)
        return;
    close(zygote->control);
    kill(zygote->pid, SIGKILL);
    while (waitpid(zygote->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    zygote->pid = 0;
    zygote->control = -1;
}

struct steep_python_zygote *steep_python_zygote_start(const char *runner_path,
                                                      uint64_t result_limit)
{
    struct steep_python_zygote *zygote = calloc(1, sizeof *zygote);
    if (!zygote) {
        steep_error_set("out of memory");
        return NULL;
    }
    pthread_mutex_init(&zygote->lock, NULL);
    zygote->control = -1;
    snprintf(zygote->runner_path, sizeof zygote->runner_path, "%s", runner_path);
    snprintf(zygote->limit_text, sizeof zygote->limit_text, "%llu",
             (unsigned long long)result_limit);
    if (launch(zygote) < 0) {
        pthread_mutex_destroy(&zygote->lock);
        free(zygote);
        return NULL;
    }
    return zygote;
}

/* One control message: u32 count, the runner options as NUL-terminated
 * strings, and the count descriptors (SCM_RIGHTS). */
static int request(struct steep_python_zygote *zygote, const int *fds, size_t n, char *const *argv,
                   pid_t *pid)
{
    uint8_t message[STEEP_PYTHON_ZYGOTE_MESSAGE];
    uint32_t count = (uint32_t)n;
    size_t used = sizeof count;
    memcpy(message, &count, sizeof count);
    for (size_t i = 1; argv[i]; i++) {
        size_t len = strlen(argv[i]) + 1;
        ENSURE(used + len <= sizeof message, "python zygote: runner options too long");
        memcpy(message + used, argv[i], len);
        used += len;
    }
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_TASK_FDS)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {message, used};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    ssize_t sent;
    do
        sent = sendmsg(zygote->control, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    ENSURE(sent == (ssize_t)used, "the Python zygote is gone: %s", strerror(errno));
    struct pollfd pfd = {zygote->control, POLLIN, 0};
    int ready;
    do
        ready = poll(&pfd, 1, REPLY_TIMEOUT_MS);
    while (ready < 0 && errno == EINTR);
    ENSURE(ready == 1, "the Python zygote did not answer");
    int32_t reply = 0;
    ssize_t got = recv(zygote->control, &reply, sizeof reply, 0);
    ENSURE(got == (ssize_t)sizeof reply, "the Python zygote is gone");
    ENSURE(reply > 0, "the Python zygote cannot fork: %s", strerror(-reply));
    *pid = (pid_t)reply;
    return 0;
}

int steep_python_zygote_spawn(void *arg, const int *fds, size_t n, char *const *argv, pid_t *pid)
{
    struct steep_python_zygote *zygote = arg;
    ENSURE(n > 0 && n <= MAX_TASK_FDS, "a Python task can have at most %d files", MAX_TASK_FDS - 1);
    pthread_mutex_lock(&zygote->lock);
    int rc = -1;
    for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
        if (zygote->pid <= 0 && launch(zygote) < 0)
            break;
        rc = request(zygote, fds, n, argv, pid);
        if (rc < 0) {
            log_warn("python zygote %d: %s; starting another", (int)zygote->pid, steep_error_get());
            discard(zygote);
        }
    }
    pthread_mutex_unlock(&zygote->lock);
    if (rc < 0)
        return steep_error_wrap("cannot start the Python task");
    return 0;
}

pid_t steep_python_zygote_pid(struct steep_python_zygote *zygote)
{
    pthread_mutex_lock(&zygote->lock);
    pid_t pid = zygote->pid;
    pthread_mutex_unlock(&zygote->lock);
    return pid;
}

void steep_python_zygote_stop(struct steep_python_zygote *zygote)
{
    if (!zygote)
        return;
    pthread_mutex_lock(&zygote->lock);
    discard(zygote);
    pthread_mutex_unlock(&zygote->lock);
    pthread_mutex_destroy(&zygote->lock);
    free(zygote);
}

int steep_python_default_runner(char *path, size_t size)
{
    return steep_sandbox_runner_beside("steep-python-runner", path, size);
}
