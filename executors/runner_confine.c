/*
 * How the task runner shuts itself in.
 *
 * Order matters: namespaces and chroot need privileges the seccomp filter
 * takes away, and the rlimit on address space is measured from the
 * runner's own size (a sanitizer build reserves terabytes of shadow).
 * Seccomp's default action is SIGSYS (SCMP_ACT_TRAP) rather than a silent
 * kill, so the handler can tell the node which syscall was refused before
 * the process exits; crash handlers check whether the address space ran
 * out, so a failed allocation reads as "memory limit" and not "crash".
 * Handlers are one-shot (SA_RESETHAND) and the filter refuses
 * rt_sigaction, so the function cannot replace them.
 */
#include "runner_confine.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/error.h"
#include "core/log.h"

static int report_channel = -1;
static size_t memory_probe = 1 << 20;
static uint8_t alternate_stack[64 * 1024];

int steep_runner_prime(void)
{
    uint8_t scratch[32];
    ENSURE(OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) == 1, "cannot start OpenSSL");
    ENSURE(RAND_bytes(scratch, sizeof scratch) == 1, "cannot seed the random generator");
    OPENSSL_cleanse(scratch, sizeof scratch);
    const char *ciphers[] = {"AES-128-GCM", "AES-256-GCM", "AES-128-CBC", "AES-128-ECB"};
    for (size_t i = 0; i < sizeof ciphers / sizeof ciphers[0]; i++) {
        EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, ciphers[i], NULL);
        EVP_CIPHER_free(cipher);
    }
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    EVP_MAC_free(mac);
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_free(md);
    tzset();
    /* jansson seeds its hash function from /dev/urandom on first use. */
    json_object_seed(0);
    return 0;
}

/* Raw frame write usable from a signal handler. */
static void report(uint8_t type, const void *data, uint32_t len)
{
    uint8_t frame[STEEP_RUNNER_FRAME_HEADER + 8];
    if (report_channel < 0 || len > 8)
        return;
    frame[0] = (uint8_t)len;
    frame[1] = frame[2] = frame[3] = 0;
    frame[4] = type;
    if (len > 0)
        memcpy(frame + STEEP_RUNNER_FRAME_HEADER, data, len);
    ssize_t n = send(report_channel, frame, STEEP_RUNNER_FRAME_HEADER + len, MSG_NOSIGNAL);
    (void)n;
}

void steep_runner_report_memory(void)
{
    void *p =
        mmap(NULL, memory_probe, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED || steep_runner_allocation_failed())
        report(STEEP_RUNNER_MEMORY, NULL, 0);
    else
        munmap(p, memory_probe);
}

static void on_violation(int sig, siginfo_t *info, void *context)
{
    uint8_t number[4];
    uint32_t nr = (uint32_t)info->si_syscall;
    number[0] = (uint8_t)nr;
    number[1] = (uint8_t)(nr >> 8);
    number[2] = (uint8_t)(nr >> 16);
    number[3] = (uint8_t)(nr >> 24);
    report(STEEP_RUNNER_VIOLATION, number, sizeof number);
    _exit(3);
}

static void on_crash(int sig, siginfo_t *info, void *context)
{
    steep_runner_report_memory();
    /* Default action now (SA_RESETHAND): delivered when the handler returns
     * (abort) or when the faulting instruction runs again (SEGV). */
    raise(sig);
}

static int install_handlers(void)
{
    stack_t stack = {.ss_sp = alternate_stack, .ss_size = sizeof alternate_stack};
    ENSURE(sigaltstack(&stack, NULL) == 0, "sigaltstack: %s", strerror(errno));
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    action.sa_sigaction = on_crash;
    int crashes[] = {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof crashes / sizeof crashes[0]; i++)
        ENSURE(sigaction(crashes[i], &action, NULL) == 0, "sigaction: %s", strerror(errno));
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    action.sa_sigaction = on_violation;
    ENSURE(sigaction(SIGSYS, &action, NULL) == 0, "sigaction: %s", strerror(errno));
    return 0;
}

static void isolate(const char *jail_dir)
{
    /* Root on a normal host; elsewhere these fail and seccomp still holds. */
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
        log_debug("task runner: no new namespaces: %s", strerror(errno));
    if (jail_dir[0] != 0) {
        if (chroot(jail_dir) < 0)
            log_debug("task runner: no chroot: %s", strerror(errno));
        else if (chdir("/") < 0)
            log_debug("task runner: chdir: %s", strerror(errno));
    }
}

static uint64_t address_space_now(void)
{
    char text[128] = {0};
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return 0;
    return strtoull(text, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int set_limit(int resource, rlim_t soft, rlim_t hard, const char *what)
{
    struct rlimit limit = {soft, hard};
    ENSURE(setrlimit(resource, &limit) == 0, "cannot limit %s: %s", what, strerror(errno));
    return 0;
}

static int set_limits(const struct steep_runner_request *request, uint64_t base, int highest_fd)
{
    if (request->memory_bytes > 0) {
        /* Heap allocations are counted against the limit (runner_memory.c);
         * the address-space limit, a quarter higher, backs it up for
         * everything else (stacks, mappings by libraries). */
        uint64_t space = base + request->memory_bytes + request->memory_bytes / 4;
        GUARD(set_limit(RLIMIT_AS, space, space, "memory"));
        steep_runner_limit_heap(request->memory_bytes);
        memory_probe = request->memory_bytes / 8;
        if (memory_probe < (1 << 20))
            memory_probe = 1 << 20;
    }
    if (request->cpu_seconds > 0)
        GUARD(set_limit(RLIMIT_CPU, request->cpu_seconds, request->cpu_seconds + 1, "CPU time"));
    if (request->file_size_bytes > 0)
        GUARD(set_limit(RLIMIT_FSIZE, request->file_size_bytes, request->file_size_bytes,
                        "file size"));
    if (request->open_files > 0) {
        rlim_t files = (rlim_t)highest_fd + 1 + request->open_files;
        GUARD(set_limit(RLIMIT_NOFILE, files, files, "open files"));
    }
    return 0;
}

#define ALLOW(name) seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(name), 0)

static int load_filter(void)
{
    scmp_filter_ctx filter = seccomp_init(SCMP_ACT_TRAP);
    ENSURE(filter, "cannot create the seccomp filter");
    int rc = 0;
    rc |= ALLOW(read) | ALLOW(write) | ALLOW(readv) | ALLOW(writev) | ALLOW(pread64);
    rc |= ALLOW(pwrite64) | ALLOW(close) | ALLOW(fstat) | ALLOW(lseek) | ALLOW(dup);
    rc |= ALLOW(fcntl) | ALLOW(ftruncate) | ALLOW(fsync) | ALLOW(fdatasync);
    rc |= ALLOW(mmap) | ALLOW(munmap) | ALLOW(mprotect) | ALLOW(mremap) | ALLOW(madvise);
    rc |= ALLOW(brk) | ALLOW(exit) | ALLOW(exit_group) | ALLOW(futex) | ALLOW(sched_yield);
    rc |= ALLOW(clock_gettime) | ALLOW(clock_getres) | ALLOW(gettimeofday) | ALLOW(time);
    rc |= ALLOW(nanosleep) | ALLOW(clock_nanosleep) | ALLOW(restart_syscall);
    rc |= ALLOW(rt_sigreturn) | ALLOW(rt_sigprocmask) | ALLOW(sigaltstack);
    rc |= ALLOW(getpid) | ALLOW(gettid) | ALLOW(getrandom) | ALLOW(getrusage);
    /* The node channel is already connected: sendto without an address. */
    rc |= seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1, SCMP_A4(SCMP_CMP_EQ, 0));
    /* fstat() through newfstatat(fd, "", AT_EMPTY_PATH) only, never a path. */
    rc |= seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
                           SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
    /* Reading limits is harmless; raising them is not. */
    rc |= seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0));
    /* abort()/raise() signal the runner itself only. */
    rc |= seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                           SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    if (rc != 0) {
        seccomp_release(filter);
        return steep_error_set("cannot build the seccomp filter");
    }
    rc = seccomp_load(filter);
    seccomp_release(filter);
    ENSURE(rc == 0, "cannot load the seccomp filter: %s", strerror(-rc));
    return 0;
}

int steep_runner_confine(const struct steep_runner_request *request, int channel, int highest_fd)
{
    uint64_t base = address_space_now();
    ENSURE(base > 0, "cannot measure the runner's address space");
    report_channel = channel;
    isolate(request->jail_dir);
    GUARD(install_handlers());
    GUARD(set_limits(request, base, highest_fd));
    ENSURE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    return load_filter();
}
