/*
 * Node side of the sandbox: start the runner, feed it the request, collect
 * its frames under a wall-clock deadline, reap it and explain its end.
 *
 * The process is cloned from a multi-threaded node with CLONE_VFORK (the
 * node's memory, this thread suspended until exec) and CLONE_NEWPID, so the
 * runner is pid 1 of its own PID namespace: killing it kills the whole
 * task. The child does only async-signal-safe work (dup2, close_range,
 * prctl, execve) before exec; everything else (the other namespaces, the
 * empty root, the sandbox user, rlimits, Landlock, seccomp) happens in the
 * single-threaded runner (runner_confine.c), whose supervisor reports the
 * worker's wait status in an EXIT frame. All descriptors the node opens
 * are close-on-exec, so a task never inherits another slot's files.
 *
 * A spawner (the Python zygote, executors/python) can start the process
 * instead: it gets the same descriptors and runner options, and its
 * process is the same kind of thing, this node's child and pid 1 of a new
 * PID namespace (the zygote clones with CLONE_PARENT | CLONE_NEWPID), that
 * enters the same sandbox; from then on watching, killing, reaping and
 * explaining are the same code for both.
 *
 * A pre-started runner (runner_pool.h) is started the same way but gets a
 * PREPARE first; once it said READY, steep_sandbox_run_prestarted() sends
 * the task with its descriptors attached (SCM_RIGHTS: the runner already
 * runs, so nothing can be inherited any more), and the same collect, reap
 * and explain follow.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "wamr/wamr.h"
#include "core/metrics.h"

#define CHANNEL_FD    3
#define FIRST_FILE_FD 4
#define MAX_LOG_LINES 10000
#define MAX_LOG_BYTES (4u << 20)
#define MAX_FILES     512
#define CHILD_STACK   (64 * 1024)
#define MAX_AUDITED   64

/* Set once at node start (steep_sandbox_configure), read by every slot. */
static struct steep_sandbox_options options = {65534, 65534, false, false};
/* Counts configurations: a pre-started runner is usable only under the
 * configuration (and audit mode) it was started with. */
static unsigned generation;

void steep_sandbox_options_default(struct steep_sandbox_options *defaults)
{
    defaults->uid = 65534;
    defaults->gid = 65534;
    defaults->insecure_without_user_namespace = false;
    defaults->audit_syscalls = false;
}

int steep_sandbox_configure(const struct steep_sandbox_options *configured)
{
    ENSURE(configured->uid != 0 && configured->uid < UINT32_MAX,
           "[execution] sandbox_uid must be 1..4294967294 (never root)");
    ENSURE(configured->gid != 0 && configured->gid < UINT32_MAX,
           "[execution] sandbox_gid must be 1..4294967294 (never root)");
#ifndef STEEP_TEST_PAYLOADS
    ENSURE(!configured->audit_syscalls, "the syscall audit exists only in test builds");
#endif
    options = *configured;
    __atomic_add_fetch(&generation, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static bool audit_requested(void)
{
#ifdef STEEP_TEST_PAYLOADS
    const char *env = getenv("STEEP_SANDBOX_AUDIT");
    return options.audit_syscalls || (env && strcmp(env, "1") == 0);
#else
    return false;
#endif
}

void steep_sandbox_limits_default(struct steep_sandbox_limits *limits)
{
    limits->cpu_seconds = 300;
    limits->wall_seconds = 300;
    limits->open_files = 64;
    limits->memory_bytes = 1ull << 30;
    limits->file_size_bytes = 4ull << 30;
    limits->message_bytes = STEEP_RUNNER_DEFAULT_MESSAGE;
}

void steep_sandbox_control_init(struct steep_sandbox_control *control)
{
    pthread_mutex_init(&control->lock, NULL);
    control->pid = 0;
    control->cancel = false;
}

void steep_sandbox_control_destroy(struct steep_sandbox_control *control)
{
    pthread_mutex_destroy(&control->lock);
}

void steep_sandbox_cancel(struct steep_sandbox_control *control)
{
    pthread_mutex_lock(&control->lock);
    control->cancel = true;
    if (control->pid > 0)
        kill(control->pid, SIGKILL);
    pthread_mutex_unlock(&control->lock);
}

int steep_sandbox_default_runner(char *path, size_t size)
{
    return steep_sandbox_runner_beside("steep-task-runner", path, size);
}

int steep_sandbox_runner_beside(const char *name, char *path, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ENSURE(n > 0, "cannot find the running executable: %s", strerror(errno));
    self[n] = 0;
    char *slash = strrchr(self, '/');
    ENSURE(slash, "cannot find the running executable's directory");
    *slash = 0;
    ENSURE((size_t)snprintf(path, size, "%s/%s", self, name) < size, "runner path too long");
    return 0;
}

void steep_sandbox_result_free(struct steep_sandbox_result *result)
{
    steep_buf_free(&result->summary);
    free(result->outputs);
    for (size_t i = 0; i < result->n_log; i++)
        free(result->log[i]);
    free(result->log);
    memset(result, 0, sizeof *result);
}

/* ---- starting the runner ------------------------------------------------ */

struct spawn {
    int sources[MAX_FILES + 1]; /* node descriptors; [0] is the channel */
    size_t n;
    const char *path;
    char uid_arg[32], gid_arg[32];
    char *argv[6];
    char *envp[4];
    char log_env[64];
    int null_fd; /* /dev/null, the runner's stdin and stdout */
};

/* Runs in the cloned child (the parent's memory, this thread suspended,
 * its own stack): async-signal-safe calls only, no writes outside this
 * frame. Not instrumented: a sanitizer's stack bookkeeping would write into
 * the node's shadow memory from a stack it does not know. */
__attribute__((no_sanitize("address"))) static int exec_runner(void *arg)
{
    struct spawn *spawn = arg;
    int low = (int)(CHANNEL_FD + spawn->n);
    int moved[MAX_FILES + 1];
    sigset_t all;

    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    /* The parent lies outside the new PID namespace (getppid() is 0): a
     * node that died before this line leaves the runner a closed channel,
     * and it exits when it reads no request. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        _exit(126);
    /* First move every source above the target range, then into place. */
    for (size_t i = 0; i < spawn->n; i++) {
        moved[i] = fcntl(spawn->sources[i], F_DUPFD_CLOEXEC, low);
        if (moved[i] < 0)
            _exit(126);
    }
    for (size_t i = 0; i < spawn->n; i++)
        if (dup2(moved[i], CHANNEL_FD + (int)i) < 0)
            _exit(126);
    /* stderr stays the node's log (runner and sanitizer messages). */
    if (dup2(spawn->null_fd, 0) < 0 || dup2(spawn->null_fd, 1) < 0)
        _exit(126);
    close_range((unsigned)low, ~0u, 0);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    execve(spawn->path, spawn->argv, spawn->envp);
    _exit(127);
}

static void prepare_argv(struct spawn *spawn, bool audit)
{
    size_t n = 0;
    spawn->argv[n++] = "steep-task-runner";
    snprintf(spawn->uid_arg, sizeof spawn->uid_arg, "--uid=%u", options.uid);
    snprintf(spawn->gid_arg, sizeof spawn->gid_arg, "--gid=%u", options.gid);
    spawn->argv[n++] = spawn->uid_arg;
    spawn->argv[n++] = spawn->gid_arg;
    if (options.insecure_without_user_namespace)
        spawn->argv[n++] = "--insecure-without-user-namespace";
    if (audit)
        spawn->argv[n++] = "--audit-syscalls";
    spawn->argv[n] = NULL;
}

static void prepare_env(struct spawn *spawn)
{
    static char asan[] = "ASAN_OPTIONS=detect_leaks=0:handle_segv=0:handle_sigbus=0:"
                         "handle_abort=0:handle_sigill=0:handle_sigfpe=0:"
                         "allow_user_segv_handler=1:allocator_may_return_null=1:"
                         "quarantine_size_mb=16";
    static char ubsan[] = "UBSAN_OPTIONS=print_stacktrace=0:halt_on_error=1";
    size_t n = 0;
    spawn->envp[n++] = asan;
    spawn->envp[n++] = ubsan;
    const char *level = getenv("STEEP_LOG");
    if (level && strlen(level) < 32) {
        snprintf(spawn->log_env, sizeof spawn->log_env, "STEEP_LOG=%s", level);
        spawn->envp[n++] = spawn->log_env;
    }
    spawn->envp[n] = NULL;
}

/* Encodes the request with the runner's descriptor numbers. */
static int encode_request(const struct steep_sandbox_task *task, struct spawn *spawn,
                          struct steep_buf *encoded)
{
    struct steep_runner_request *request = task->request;
    size_t total = request->n_inputs + request->n_outputs + request->n_resources;
    ENSURE(total <= MAX_FILES, "task has too many files");
    int saved[MAX_FILES];
    struct steep_runner_file *files[MAX_FILES];
    size_t k = 0;
    for (size_t i = 0; i < request->n_inputs; i++)
        files[k++] = &request->inputs[i];
    for (size_t i = 0; i < request->n_outputs; i++)
        files[k++] = &request->outputs[i];
    for (size_t i = 0; i < request->n_resources; i++)
        files[k++] = &request->resources[i];
    for (size_t i = 0; i < total; i++) {
        saved[i] = files[i]->fd;
        spawn->sources[1 + i] = files[i]->fd;
        files[i]->fd = FIRST_FILE_FD + (int)i;
    }
    spawn->n = 1 + total;
    request->cpu_seconds = task->limits.cpu_seconds;
    request->open_files = task->limits.open_files;
    request->memory_bytes = task->limits.memory_bytes;
    request->file_size_bytes = task->limits.file_size_bytes;
    request->message_bytes = task->limits.message_bytes;
    int rc = steep_runner_request_encode(request, encoded);
    for (size_t i = 0; i < total; i++)
        files[i]->fd = saved[i];
    return rc;
}

/* The process runs: cancel can reach it; it gets its request. */
static int started(const struct steep_sandbox_task *task, struct steep_buf *encoded, int node_end,
                   int *channel, pid_t pid)
{
    if (task->control) {
        pthread_mutex_lock(&task->control->lock);
        task->control->pid = pid;
        if (task->control->cancel)
            kill(pid, SIGKILL);
        pthread_mutex_unlock(&task->control->lock);
    }
    /* A runner that died before reading shows up when it is reaped. */
    steep_runner_frame_write(node_end, STEEP_RUNNER_REQUEST, encoded->data, encoded->len);
    steep_buf_free(encoded);
    fcntl(node_end, F_SETFL, fcntl(node_end, F_GETFL) | O_NONBLOCK);
    *channel = node_end;
    return 0;
}

/* Starts the runner process with spawn->sources[0] as its channel
 * (descriptor 3) and the rest at 4, 5, ...: cloned and exec'd, or from
 * the spawner. */
static int spawn_process(const char *runner_path, const struct steep_sandbox_spawner *spawner,
                         bool audit, struct spawn *spawn, pid_t *pid)
{
    spawn->path = runner_path;
    prepare_env(spawn);
    prepare_argv(spawn, audit);
    if (spawner)
        return spawner->spawn(spawner->arg, spawn->sources, spawn->n, spawn->argv, pid);
    spawn->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    ENSURE(spawn->null_fd >= 0, "cannot open /dev/null: %s", strerror(errno));
    /* CLONE_VM | CLONE_VFORK: the node is a big multithreaded process, and
     * copying its page tables for a child that only moves descriptors and
     * execs cost more than the runner's own start. The child touches
     * nothing but its own stack (exec_runner) and per-process state
     * (descriptors, signal mask and dispositions, rlimits); this thread
     * waits until it execs. */
    char *stack = malloc(CHILD_STACK);
    if (!stack) {
        close(spawn->null_fd);
        return steep_error_set("out of memory");
    }
    *pid = clone(exec_runner, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | CLONE_NEWPID | SIGCHLD,
                 spawn);
    int fork_errno = errno;
    free(stack);
    close(spawn->null_fd);
    ENSURE(*pid > 0, "cannot start the task process in a new PID namespace: %s%s",
           strerror(fork_errno),
           fork_errno == EPERM ? " (the execution node must run as root)" : "");
    return 0;
}

static int start(const struct steep_sandbox_task *task, const struct steep_sandbox_spawner *spawner,
                 bool audit, int *channel, pid_t *pid)
{
    struct spawn spawn = {.null_fd = -1};
    struct steep_buf encoded = STEEP_BUF_INIT;
    int pair[2];

    if (encode_request(task, &spawn, &encoded) < 0) {
        steep_buf_free(&encoded);
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
        steep_buf_free(&encoded);
        return steep_error_set("cannot create the task channel: %s", strerror(errno));
    }
    spawn.sources[0] = pair[1];
    int rc = spawn_process(task->runner_path, spawner, audit, &spawn, pid);
    close(pair[1]);
    if (rc < 0) {
        close(pair[0]);
        steep_buf_free(&encoded);
        return -1;
    }
    return started(task, &encoded, pair[0], channel, *pid);
}

/* ---- pre-started runners ------------------------------------------------ */

unsigned steep_sandbox_generation(void)
{
    unsigned now = __atomic_load_n(&generation, __ATOMIC_SEQ_CST);
    return now * 2 + (audit_requested() ? 1 : 0);
}

int steep_sandbox_prestart(const struct steep_sandbox_prestart *prestart, pid_t *pid, int *channel)
{
    struct spawn spawn = {.null_fd = -1};
    struct steep_runner_request request;
    struct steep_runner_file module;
    struct steep_buf encoded = STEEP_BUF_INIT;
    int pair[2];

    memset(&request, 0, sizeof request);
    request.executor = (char *)prestart->executor;
    request.function_name = "";
    request.arguments = "";
    request.jail_dir = (char *)prestart->jail_dir;
    request.cpu_seconds = prestart->limits.cpu_seconds;
    request.open_files = prestart->limits.open_files;
    request.memory_bytes = prestart->limits.memory_bytes;
    request.file_size_bytes = prestart->limits.file_size_bytes;
    request.message_bytes = prestart->limits.message_bytes;
    spawn.n = 1;
    if (prestart->module_fd >= 0) {
        memset(&module, 0, sizeof module);
        module.name = STEEP_WAMR_MODULE_RESOURCE;
        module.file_name = "";
        module.fd = FIRST_FILE_FD;
        module.scheme = STEEP_RUNNER_SCHEME_RAW;
        request.resources = &module;
        request.n_resources = 1;
        spawn.sources[spawn.n++] = prestart->module_fd;
    }
    GUARD(steep_runner_request_encode(&request, &encoded));
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
        steep_buf_free(&encoded);
        return steep_error_set("cannot create the runner channel: %s", strerror(errno));
    }
    spawn.sources[0] = pair[1];
    int rc = spawn_process(prestart->runner_path, prestart->spawner, prestart->generation & 1,
                           &spawn, pid);
    close(pair[1]);
    if (rc == 0)
        rc = steep_runner_frame_write(pair[0], STEEP_RUNNER_PREPARE, encoded.data, encoded.len);
    steep_buf_free(&encoded);
    if (rc < 0 && *pid > 0) {
        kill(*pid, SIGKILL);
        while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (rc < 0) {
        close(pair[0]);
        return -1;
    }
    *channel = pair[0];
    return 0;
}

/* The task's frame with its descriptors attached to the header. 1: the
 * runner was gone before any of it was sent. */
static int send_task(int channel, const struct spawn *spawn, const struct steep_buf *encoded)
{
    uint8_t header[STEEP_RUNNER_FRAME_HEADER];
    size_t n_fds = spawn->n - 1;
    header[0] = (uint8_t)encoded->len;
    header[1] = (uint8_t)(encoded->len >> 8);
    header[2] = (uint8_t)(encoded->len >> 16);
    header[3] = (uint8_t)(encoded->len >> 24);
    header[4] = STEEP_RUNNER_REQUEST;
    union {
        char buf[CMSG_SPACE(sizeof(int) * STEEP_RUNNER_POOL_MAX_FILES)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {header, sizeof header};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n_fds > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(c), spawn->sources + 1, sizeof(int) * n_fds);
    }
    ssize_t sent;
    do
        sent = sendmsg(channel, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0 && (errno == EPIPE || errno == ECONNRESET))
        return 1;
    ENSURE(sent > 0, "cannot hand the task to its runner: %s", strerror(errno));
    size_t done = (size_t)sent;
    while (done < sizeof header) {
        ssize_t n = send(channel, header + done, sizeof header - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        ENSURE(n > 0, "cannot hand the task to its runner: %s", strerror(errno));
        done += (size_t)n;
    }
    for (done = 0; done < encoded->len;) {
        ssize_t n = send(channel, encoded->data + done, encoded->len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        ENSURE(n > 0, "cannot hand the task to its runner: %s", strerror(errno));
        done += (size_t)n;
    }
    return 0;
}

/* ---- collecting frames -------------------------------------------------- */

struct collected {
    bool got_ok, got_error, memory, timed_out;
    bool audit, worker_ended;
    int worker_status;         /* from the supervisor's EXIT frame */
    long violation;            /* syscall number, -1 when none */
    long audited[MAX_AUDITED]; /* audit mode: refused calls, each once */
    size_t n_audited;
    char error[STEEP_ERROR_MAX];
    size_t log_bytes;
    bool log_truncated;
};

static int add_log(struct steep_sandbox_result *result, struct collected *seen, const uint8_t *line,
                   size_t len)
{
    if (result->n_log >= MAX_LOG_LINES || seen->log_bytes + len > MAX_LOG_BYTES) {
        seen->log_truncated = true;
        return 0;
    }
    char **grown = realloc(result->log, (result->n_log + 1) * sizeof *grown);
    ENSURE(grown, "out of memory");
    result->log = grown;
    char *copy = strndup((const char *)line, len);
    ENSURE(copy, "out of memory");
    result->log[result->n_log++] = copy;
    seen->log_bytes += len;
    return 0;
}

static int add_output(struct steep_sandbox_result *result, const uint8_t *data, size_t len)
{
    struct steep_sandbox_output output;
    GUARD(steep_runner_output_decode(data, len, output.name, sizeof output.name, output.cmac));
    ENSURE(result->n_outputs < MAX_FILES, "runner reported too many outputs");
    struct steep_sandbox_output *grown =
        realloc(result->outputs, (result->n_outputs + 1) * sizeof *grown);
    ENSURE(grown, "out of memory");
    result->outputs = grown;
    result->outputs[result->n_outputs++] = output;
    return 0;
}

static void copy_text(char *dst, size_t size, const uint8_t *src, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
    for (size_t i = 0; i < len; i++)
        if (dst[i] == 0)
            dst[i] = '?';
}

static int handle_frame(struct steep_sandbox_result *result, struct collected *seen, uint8_t type,
                        const uint8_t *data, size_t len)
{
    struct steep_cursor c = steep_cursor_make(data, len);
    uint32_t number;
    switch (type) {
    case STEEP_RUNNER_LOG:
        return add_log(result, seen, data, len);
    case STEEP_RUNNER_OUTPUT:
        return add_output(result, data, len);
    case STEEP_RUNNER_OK:
        seen->got_ok = true;
        steep_buf_reset(&result->summary);
        return steep_buf_append(&result->summary, data, len);
    case STEEP_RUNNER_ERROR:
        seen->got_error = true;
        copy_text(seen->error, sizeof seen->error, data, len);
        return 0;
    case STEEP_RUNNER_VIOLATION:
        GUARD(steep_cursor_read_u32le(&c, &number));
        if (!seen->audit) {
            seen->violation = number;
            return 0;
        }
        for (size_t i = 0; i < seen->n_audited; i++)
            if (seen->audited[i] == (long)number)
                return 0;
        if (seen->n_audited < MAX_AUDITED)
            seen->audited[seen->n_audited++] = number;
        return 0;
    case STEEP_RUNNER_EXIT:
        GUARD(steep_cursor_read_u32le(&c, &number));
        seen->worker_ended = true;
        seen->worker_status = (int)number;
        return 0;
    case STEEP_RUNNER_MEMORY:
        seen->memory = true;
        return 0;
    default:
        return steep_error_set("runner sent an unknown frame type %u", type);
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads frames until the runner closes the channel or the deadline passes. */
static void collect(int channel, pid_t pid, int64_t deadline, size_t max_frame,
                    struct steep_sandbox_result *result, struct collected *seen)
{
    struct steep_buf acc = STEEP_BUF_INIT;
    bool broken = false;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            seen->timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd pfd = {channel, POLLIN, 0};
        int ready = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            continue;
        if (steep_buf_reserve(&acc, 65536) < 0)
            break;
        ssize_t n = read(channel, acc.data + acc.len, 65536);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        acc.len += (size_t)n;
        uint8_t type;
        const uint8_t *payload;
        size_t payload_len, consumed;
        int r;
        while (!broken && (r = steep_runner_frame_parse(&acc, max_frame, &type, &payload,
                                                        &payload_len, &consumed)) != 0) {
            if (r < 0 || handle_frame(result, seen, type, payload, payload_len) < 0) {
                /* A runner that breaks the protocol is stopped. */
                log_warn("task runner %d broke the protocol: %s", (int)pid, steep_error_get());
                broken = true;
                kill(pid, SIGKILL);
                break;
            }
            memmove(acc.data, acc.data + consumed, acc.len - consumed);
            acc.len -= consumed;
        }
        if (broken)
            break;
    }
    steep_buf_free(&acc);
    if (broken && !seen->got_error) {
        seen->got_error = true;
        snprintf(seen->error, sizeof seen->error, "function runner broke the protocol");
    }
}

/* ---- explaining the end ------------------------------------------------- */

static const char *signal_name(int sig, char *buf, size_t size)
{
    const char *abbrev = sigabbrev_np(sig);
    snprintf(buf, size, "SIG%s", abbrev ? abbrev : "?");
    return buf;
}

static void syscall_name(long number, char *out, size_t size)
{
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)number);
    if (name)
        snprintf(out, size, "%s", name);
    else
        snprintf(out, size, "%ld", number);
    free(name);
}

static void describe_violation(long number, char *reason, size_t size)
{
    char name[64];
    syscall_name(number, name, sizeof name);
    snprintf(reason, size, "function violated the sandbox policy (syscall %s)", name);
}

static void describe_audit(const struct collected *seen, char *reason, size_t size)
{
    size_t used = (size_t)snprintf(reason, size, "sandbox audit: refused system calls:");
    for (size_t i = 0; i < seen->n_audited && used < size; i++) {
        char name[64];
        syscall_name(seen->audited[i], name, sizeof name);
        used += (size_t)snprintf(reason + used, size - used, "%s %s", i ? "," : "", name);
    }
}

static void explain(const struct steep_sandbox_task *task, const struct collected *seen, int status,
                    const struct rusage *usage, struct steep_sandbox_result *result)
{
    char *reason = result->reason;
    size_t size = sizeof result->reason;
    char sigbuf[32];
    double cpu = (double)usage->ru_utime.tv_sec + (double)usage->ru_stime.tv_sec +
                 (usage->ru_utime.tv_usec + usage->ru_stime.tv_usec) / 1e6;
    /* The runner (the supervisor) exits 0 after reporting how the worker
     * ended; killed (cancel, timeout) or failing before the fork, it
     * speaks for itself. */
    if (seen->worker_ended && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        status = seen->worker_status;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;

    result->ok = false;
    if (result->canceled)
        snprintf(reason, size, "task canceled");
    else if (seen->timed_out)
        snprintf(reason, size, "function timed out after %u s", task->limits.wall_seconds);
    else if (seen->violation >= 0)
        describe_violation(seen->violation, reason, size);
    else if (seen->memory)
        snprintf(reason, size, "function exceeded its memory limit of %llu MiB",
                 (unsigned long long)(task->limits.memory_bytes >> 20));
    else if (sig == SIGXCPU || (sig == SIGKILL && cpu >= task->limits.cpu_seconds))
        snprintf(reason, size, "function exceeded its CPU time limit");
    else if (sig == SIGXFSZ)
        snprintf(reason, size, "function exceeded its file size limit");
    else if (sig == SIGSYS)
        snprintf(reason, size, "function violated the sandbox policy");
    else if (sig != 0)
        snprintf(reason, size, "function crashed: signal %d (%s)", sig,
                 signal_name(sig, sigbuf, sizeof sigbuf));
    else if (seen->got_error)
        snprintf(reason, size, "%s", seen->error);
    else if (WEXITSTATUS(status) == 127 || WEXITSTATUS(status) == 126)
        snprintf(reason, size, "cannot start the task runner %s", task->runner_path);
    else if (seen->got_ok && WEXITSTATUS(status) == 0)
        result->ok = true;
    else
        snprintf(reason, size, "function runner exited with status %d", WEXITSTATUS(status));
    if (seen->n_audited > 0 && !result->canceled && !seen->timed_out) {
        result->ok = false;
        describe_audit(seen, reason, size);
    }
}

/* The runner normally closes the channel by exiting; one that closed it
 * early is still killed at the deadline. The exited process is reaped only
 * after the control forgot its pid, so a late cancel can never signal a
 * recycled pid. */
static void reap(const struct steep_sandbox_task *task, pid_t pid, int64_t deadline,
                 struct collected *seen, int *status, struct rusage *usage)
{
    siginfo_t info;
    memset(usage, 0, sizeof *usage);
    /* A pidfd turns readable the moment the runner exits (no polling delay
     * on every task); without one, poll waitid every 2 ms. The pidfd is
     * close-on-exec, so no other slot's runner inherits it. */
    int exit_fd = (int)pidfd_open(pid, 0);
    for (;;) {
        memset(&info, 0, sizeof info);
        int r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
        if ((r == 0 && info.si_pid == pid) || (r < 0 && errno != EINTR))
            break;
        if (r == 0 && now_ms() >= deadline && !seen->timed_out) {
            seen->timed_out = true;
            kill(pid, SIGKILL);
        }
        if (r != 0)
            continue;
        if (exit_fd >= 0) {
            int64_t left = seen->timed_out ? 1000 : deadline - now_ms();
            struct pollfd pfd = {exit_fd, POLLIN, 0};
            poll(&pfd, 1, left <= 0 ? 0 : left > 1000 ? 1000 : (int)left);
        } else {
            usleep(2000);
        }
    }
    if (exit_fd >= 0)
        close(exit_fd);
    if (task->control) {
        pthread_mutex_lock(&task->control->lock);
        task->control->pid = 0;
        pthread_mutex_unlock(&task->control->lock);
    }
    while (wait4(pid, status, 0, usage) < 0 && errno == EINTR)
        ;
}

static int finish(const struct steep_sandbox_task *task, struct collected *seen, int channel,
                  pid_t pid, struct steep_sandbox_result *result);
/* A failed run counted by reason (issue 18, item 4): explain()'s message
 * mapped onto a fixed set of words, so the label set stays bounded. */
static void count_failure(const char *why)
{
    static const struct {
        const char *prefix, *reason;
    } reasons[] = {
        {"task canceled", "canceled"},        {"function timed out", "timeout"},
        {"function violated", "policy"},      {"function exceeded its memory", "memory"},
        {"function exceeded its CPU", "cpu"}, {"function exceeded its file size", "file_size"},
        {"function crashed", "crash"},        {"cannot start", "start"},
        {"sandbox audit", "audit"},           {"function runner exited", "runner_exit"}};
    const char *reason = "error";
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (!strncmp(why, reasons[i].prefix, strlen(reasons[i].prefix))) {
            reason = reasons[i].reason;
            break;
        }
    char labels[48];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    steep_metrics_count("steep_sandbox_failures_total",
                        "Sandboxed runs that did not end well, by reason", labels, 1);
}

/* A task started in a sandboxed runner, one spawned for it or pre-started. */
static void count_start(void)
{
    steep_metrics_count("steep_sandbox_starts_total",
                        "Tasks started in a sandboxed runner (spawned for it or pre-started)", NULL,
                        1);
}

int steep_sandbox_run(const struct steep_sandbox_task *task, struct steep_sandbox_result *result)
{
    return steep_sandbox_run_spawned(task, NULL, result);
}

int steep_sandbox_run_spawned(const struct steep_sandbox_task *task,
                              const struct steep_sandbox_spawner *spawner,
                              struct steep_sandbox_result *result)
{
    struct collected seen = {.violation = -1};
    int channel = -1;
    pid_t pid = 0;

    memset(result, 0, sizeof *result);
    seen.audit = audit_requested();
    if (start(task, spawner, seen.audit, &channel, &pid) < 0) {
        count_failure("cannot start");
        return -1;
    }
    count_start();
    return finish(task, &seen, channel, pid, result);
}

/* From a started runner with its request sent to its reaped end. */
static int finish(const struct steep_sandbox_task *task, struct collected *seen_, int channel,
                  pid_t pid, struct steep_sandbox_result *result)
{
    struct collected seen = *seen_;
    int status = 0;
    struct rusage usage;
    int64_t deadline = now_ms() + (int64_t)task->limits.wall_seconds * 1000;
    collect(channel, pid, deadline, steep_runner_max_frame(task->limits.message_bytes), result,
            &seen);
    close(channel);
    reap(task, pid, deadline, &seen, &status, &usage);
    if (task->control) {
        pthread_mutex_lock(&task->control->lock);
        result->canceled = task->control->cancel;
        pthread_mutex_unlock(&task->control->lock);
    }
    explain(task, &seen, status, &usage, result);
    if (!result->ok)
        count_failure(result->reason);
    if (seen.log_truncated)
        add_log(result, &seen, (const uint8_t *)"[log truncated]", 15);
    return 0;
}

int steep_sandbox_run_prestarted(const struct steep_sandbox_task *task, pid_t pid, int channel,
                                 struct steep_sandbox_result *result)
{
    struct collected seen = {.violation = -1};
    struct spawn spawn = {.null_fd = -1};
    struct steep_buf encoded = STEEP_BUF_INIT;

    memset(result, 0, sizeof *result);
    seen.audit = audit_requested();
    int rc = encode_request(task, &spawn, &encoded);
    if (rc == 0 && spawn.n - 1 > STEEP_RUNNER_POOL_MAX_FILES)
        rc = steep_error_set("a pre-started runner takes at most %d files",
                             STEEP_RUNNER_POOL_MAX_FILES);
    if (rc < 0) {
        steep_buf_free(&encoded);
        return -1;
    }
    count_start();
    if (task->control) {
        pthread_mutex_lock(&task->control->lock);
        task->control->pid = pid;
        if (task->control->cancel)
            kill(pid, SIGKILL);
        pthread_mutex_unlock(&task->control->lock);
    }
    /* Blocking while the request goes; the runner reads all of it. */
    fcntl(channel, F_SETFL, fcntl(channel, F_GETFL) & ~O_NONBLOCK);
    rc = send_task(channel, &spawn, &encoded);
    steep_buf_free(&encoded);
    if (rc != 0 && task->control) {
        pthread_mutex_lock(&task->control->lock);
        task->control->pid = 0;
        pthread_mutex_unlock(&task->control->lock);
    }
    if (rc == 1) { /* nothing sent: the runner is discarded */
        close(channel);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return 1;
    }
    if (rc < 0)
        log_warn("task runner %d: %s", (int)pid, steep_error_get());
    /* A runner that died now shows up when it is reaped. */
    fcntl(channel, F_SETFL, fcntl(channel, F_GETFL) | O_NONBLOCK);
    return finish(task, &seen, channel, pid, result);
}

/* ---- the check at node start -------------------------------------------- */

int steep_sandbox_check(const char *runner_path, const char *work_dir)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1u);
    if (abi > 0)
        log_info("sandbox: Landlock ABI %ld in force: runners have no file system access%s%s", abi,
                 abi >= 4 ? ", no TCP" : "",
                 abi >= 6 ? ", no signals or abstract sockets outside their task" : "");
    else
        log_warn("sandbox: no Landlock on this kernel (%s): runners are confined by their "
                 "namespaces, an empty root, no capabilities and seccomp only",
                 strerror(errno));
    if (options.insecure_without_user_namespace)
        log_warn("[execution] insecure_without_user_namespace: runners share the host's user "
                 "namespace (tests only)");
    char jail[4096];
    ENSURE((size_t)snprintf(jail, sizeof jail, "%s/sandbox-check-XXXXXX", work_dir) < sizeof jail,
           "work directory path too long");
    ENSURE(mkdtemp(jail), "cannot create %s: %s", jail, strerror(errno));
    chmod(jail, 0500);
    struct steep_runner_request request;
    memset(&request, 0, sizeof request);
    request.executor = "builtin";
    request.function_name = "builtin-echo";
    request.arguments = "{\"message\":\"sandbox check\"}";
    request.jail_dir = jail;
    struct steep_sandbox_task task = {runner_path, &request, {0}, NULL};
    steep_sandbox_limits_default(&task.limits);
    task.limits.wall_seconds = 30;
    struct steep_sandbox_result result;
    int rc = steep_sandbox_run(&task, &result);
    rmdir(jail);
    if (rc < 0)
        return steep_error_wrap("the task sandbox does not work on this host");
    if (!result.ok)
        rc = steep_error_set("the task sandbox does not work on this host: %s", result.reason);
    steep_sandbox_result_free(&result);
    if (rc == 0)
        log_info("sandbox: runners run as uid %u gid %u in their own %sPID, network, mount, IPC "
                 "and UTS namespaces with no capabilities",
                 options.uid, options.gid, options.insecure_without_user_namespace ? "" : "user, ");
    return rc;
}
