/*
 * Hostile test-only functions for the execution sandbox tests, compiled in
 * only with the CMake option STEEP_TEST_PAYLOADS. Each does one forbidden or
 * abusive thing and, if it survives, says in its summary what it managed.
 *   test-crash      SIGSEGV
 *   test-loop       spins forever
 *   test-alloc      {"max_mb"?}: allocates and touches 16 MiB blocks until failure
 *   test-fork       {"count"?}: forks up to count (default 64) children
 *   test-network    {"port"}: TCP connect to 127.0.0.1:port
 *   test-open-file  {"path"}: opens and reads a file
 *   test-sleep      {"ms"}: sleeps
 *   test-write-big  {"bytes"}: writes that many bytes to output "output"
 *   test-signal-escape {"pid", "step"?}: tries to make the kernel or the
 *                   node signal process pid from inside: F_SETOWN(_EX),
 *                   F_SETSIG and O_ASYNC (fcntl and FIOASYNC) on the
 *                   channel (descriptor 3), SIOCSPGRP, F_SETLEASE, F_NOTIFY,
 *                   kill(pid), kill(1), kill(-1); "all" (default) tries each
 *                   in turn and reports every result
 *   test-stat-path  {"step"?}: newfstatat(AT_FDCWD, "/") with and without
 *                   AT_EMPTY_PATH, statx("/"), open("/etc/passwd"), and
 *                   fstat of the channel (which must work); "all" reports each
 *   test-identity   reports its uid, gid and capability sets
 */
#include "functions/args.h"
#include "functions/builtins.h"

#include "core/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int optional_uint(const char *args_json, const char *key, uint64_t fallback, uint64_t *out)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    int rc = 0;
    if (json_object_get(args, key))
        rc = steep_args_uint(args, key, UINT64_MAX, out);
    else
        *out = fallback;
    json_decref(args);
    return rc;
}

static int required_uint(const char *args_json, const char *key, uint64_t *out)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    int rc = steep_args_uint(args, key, UINT64_MAX, out);
    json_decref(args);
    return rc;
}

STEEP_FN(steep_fn_test_crash)
{
    raise(SIGSEGV);
    return steep_buf_printf(summary, "crash: still alive after SIGSEGV");
}

STEEP_FN(steep_fn_test_loop)
{
    volatile uint64_t spins = 0;
    for (;;)
        spins++;
    return 0;
}

STEEP_FN(steep_fn_test_alloc)
{
    uint64_t max_mb;
    GUARD(optional_uint(args_json, "max_mb", UINT64_MAX, &max_mb));
    const size_t block = 16u << 20;
    uint64_t total_mb = 0;
    void **blocks = NULL;
    size_t count = 0, cap = 0;
    while (total_mb + 16 <= max_mb) {
        if (count == cap) {
            size_t fresh_cap = cap ? cap * 2 : 64;
            void **fresh = realloc(blocks, fresh_cap * sizeof(*fresh));
            if (!fresh)
                break;
            blocks = fresh;
            cap = fresh_cap;
        }
        void *p = malloc(block);
        if (!p)
            break;
        memset(p, 0xA5, block);
        blocks[count++] = p;
        total_mb += 16;
    }
    for (size_t i = 0; i < count; i++)
        free(blocks[i]);
    free(blocks);
    return steep_buf_printf(summary, "allocated %llu MiB", (unsigned long long)total_mb);
}

STEEP_FN(steep_fn_test_fork)
{
    uint64_t count;
    GUARD(optional_uint(args_json, "count", 64, &count));
    uint64_t forked = 0;
    int error = 0;
    for (uint64_t i = 0; i < count; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            error = errno;
            break;
        }
        if (pid == 0) {
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
            _exit(0);
        }
        forked++;
    }
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    if (error)
        return steep_buf_printf(summary, "forked %llu children, then fork failed: %s",
                                (unsigned long long)forked, strerror(error));
    return steep_buf_printf(summary, "forked %llu children", (unsigned long long)forked);
}

STEEP_FN(steep_fn_test_network)
{
    uint64_t port;
    GUARD(required_uint(args_json, "port", &port));
    ENSURE(port > 0 && port < 65536, "port out of range");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return steep_buf_printf(summary, "socket failed: %s", strerror(errno));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
    int error = errno;
    close(fd);
    if (rc < 0)
        return steep_buf_printf(summary, "connect failed: %s", strerror(error));
    return steep_buf_printf(summary, "connected to 127.0.0.1:%llu", (unsigned long long)port);
}

STEEP_FN(steep_fn_test_open_file)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    const char *path;
    int rc = steep_args_string(args, "path", &path);
    if (rc == 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = steep_buf_printf(summary, "open failed: %s", strerror(errno));
        } else {
            char buf[64];
            ssize_t n = read(fd, buf, sizeof(buf));
            close(fd);
            rc = steep_buf_printf(summary, "opened %s, read %zd bytes", path, n);
        }
    }
    json_decref(args);
    return rc;
}

STEEP_FN(steep_fn_test_sleep)
{
    uint64_t ms;
    GUARD(required_uint(args_json, "ms", &ms));
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return steep_buf_printf(summary, "slept %llu ms", (unsigned long long)ms);
}

STEEP_FN(steep_fn_test_write_big)
{
    uint64_t bytes;
    GUARD(required_uint(args_json, "bytes", &bytes));
    struct steep_writer *w = steep_fn_create_output(io, "output");
    if (!w)
        return -1;
    static const uint8_t chunk[65536];
    uint64_t done = 0;
    int rc = 0;
    while (rc == 0 && done < bytes) {
        size_t n = bytes - done < sizeof(chunk) ? (size_t)(bytes - done) : sizeof(chunk);
        rc = steep_writer_write_all(w, chunk, n);
        if (rc == 0)
            done += n;
    }
    if (rc < 0)
        rc = steep_error_wrap("test-write-big: wrote %llu of %llu bytes", (unsigned long long)done,
                              (unsigned long long)bytes);
    GUARD(steep_fn_close_output(w, rc));
    return steep_buf_printf(summary, "wrote %llu bytes", (unsigned long long)done);
}

#define CHANNEL_FD 3

static int optional_string(const char *args_json, const char *key, const char *fallback, char *out,
                           size_t size)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    const char *value = fallback;
    int rc = 0;
    if (json_object_get(args, key))
        rc = steep_args_string(args, key, &value);
    if (rc == 0)
        snprintf(out, size, "%s", value);
    json_decref(args);
    return rc;
}

/* Appends "name: result; " for a call's return value and errno. */
static int note(struct steep_buf *summary, const char *name, long rc, int error)
{
    if (rc < 0)
        return steep_buf_printf(summary, "%s: %s; ", name, strerror(error));
    return steep_buf_printf(summary, "%s: returned %ld; ", name, rc);
}

#define TRY(step, name, call)                                                                      \
    if (all || strcmp(step, name) == 0) {                                                          \
        errno = 0;                                                                                 \
        long rc_ = (long)(call);                                                                   \
        GUARD(note(summary, name, rc_, errno));                                                    \
    }

STEEP_FN(steep_fn_test_signal_escape)
{
    uint64_t pid;
    char step[32];
    GUARD(required_uint(args_json, "pid", &pid));
    GUARD(optional_string(args_json, "step", "all", step, sizeof step));
    ENSURE(pid > 0 && pid < (1u << 22), "pid out of range");
    bool all = strcmp(step, "all") == 0;
    struct f_owner_ex owner = {F_OWNER_PID, (pid_t)pid};
    int one = 1, target = (int)pid;
    TRY(step, "F_SETOWN", fcntl(CHANNEL_FD, F_SETOWN, (int)pid));
    TRY(step, "F_SETOWN_EX", fcntl(CHANNEL_FD, F_SETOWN_EX, &owner));
    TRY(step, "F_SETSIG", fcntl(CHANNEL_FD, F_SETSIG, SIGTERM));
    TRY(step, "O_ASYNC", fcntl(CHANNEL_FD, F_SETFL, fcntl(CHANNEL_FD, F_GETFL) | O_ASYNC));
    TRY(step, "FIOASYNC", ioctl(CHANNEL_FD, FIOASYNC, &one));
    TRY(step, "SIOCSPGRP", ioctl(CHANNEL_FD, SIOCSPGRP, &target));
    TRY(step, "F_SETLEASE", fcntl(CHANNEL_FD, F_SETLEASE, F_WRLCK));
    TRY(step, "F_NOTIFY", fcntl(CHANNEL_FD, F_NOTIFY, DN_MODIFY));
    TRY(step, "kill(pid)", kill((pid_t)pid, SIGTERM));
    TRY(step, "kill(1)", kill(1, SIGTERM));
    TRY(step, "kill(-1)", kill(-1, SIGTERM));
    return steep_buf_printf(summary, "done");
}

STEEP_FN(steep_fn_test_stat_path)
{
    char step[32];
    GUARD(optional_string(args_json, "step", "all", step, sizeof step));
    bool all = strcmp(step, "all") == 0;
    struct stat st;
    struct statx stx;
    TRY(step, "newfstatat", syscall(SYS_newfstatat, AT_FDCWD, "/", &st, 0));
    TRY(step, "newfstatat-empty-path", syscall(SYS_newfstatat, AT_FDCWD, "/", &st, AT_EMPTY_PATH));
    TRY(step, "stat", stat("/", &st));
    TRY(step, "statx", syscall(SYS_statx, AT_FDCWD, "/", 0, STATX_BASIC_STATS, &stx));
    TRY(step, "open", open("/etc/passwd", O_RDONLY | O_CLOEXEC));
    TRY(step, "fstat", fstat(CHANNEL_FD, &st));
    if (all || strcmp(step, "fstat") == 0)
        GUARD(steep_buf_printf(summary, "channel is a %s", S_ISSOCK(st.st_mode) ? "socket" : "?"));
    return 0;
}

STEEP_FN(steep_fn_test_identity)
{
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    ENSURE(syscall(SYS_capget, &header, data) == 0, "capget: %s", strerror(errno));
    uint64_t effective = data[0].effective | (uint64_t)data[1].effective << 32;
    uint64_t permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
    uint64_t inheritable = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
    return steep_buf_printf(summary,
                            "uid %u euid %u gid %u egid %u pid %d cap_effective %llx "
                            "cap_permitted %llx cap_inheritable %llx",
                            getuid(), geteuid(), getgid(), getegid(), (int)getpid(),
                            (unsigned long long)effective, (unsigned long long)permitted,
                            (unsigned long long)inheritable);
}
