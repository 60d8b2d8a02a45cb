/*
 * How the task runner shuts itself in.
 *
 * The process chain. The node (a multi-threaded process) clones the runner
 * with CLONE_VFORK | CLONE_NEWPID (sandbox.c), so the runner starts as
 * root and as pid 1 of its own PID namespace. Pid 1 of a namespace ignores
 * every signal it has no handler for unless the kernel forces it: the
 * kernel's SIGXCPU and SIGXFSZ, and a self-sent SIGABRT or SIGSEGV, would
 * be lost. So the function never runs as pid 1: the runner
 *   1. reads its request and primes the libraries (steep_runner_prime),
 *   2. enters the sandbox (steep_runner_enter): new mount, network, IPC
 *      and UTS namespaces (owned by the host's user namespace, so nothing
 *      inside can ever administer them), pivot_root into the task's empty
 *      jail directory (bind-mounted read-only, nosuid, nodev, noexec) with
 *      the host's tree detached, supplementary groups cleared, setresgid
 *      and setresuid to the sandbox user (default 65534; [execution]
 *      sandbox_uid/sandbox_gid), then its own user namespace with the
 *      one-line maps "uid uid 1" and "gid gid 1" written by itself after
 *      "deny" to setgroups (dumpable only for those three writes),
 *   3. forks the worker (steep_runner_supervise) and stays as a supervisor:
 *      it closes the task's files, confines itself (no capabilities, no new
 *      privileges, a seccomp filter of wait4 and the channel), waits for
 *      the worker and sends the worker's raw wait status to the node as an
 *      EXIT frame before exiting. The node explains that status exactly as
 *      it explained the single runner's before (signal 11, SIGXCPU,
 *      SIGXFSZ, exit codes), and wait4 on the supervisor gives the node the
 *      rusage of both. A SIGKILL from the node (cancel, timeout) hits pid 1,
 *      and the kernel kills the whole namespace before the node can reap
 *      it: the task tree dies at once.
 *   4. The worker, pid 2 in the namespace, confines itself
 *      (steep_runner_confine) and runs the function.
 * Failing any step fails the task with its reason; the node tries the
 * whole chain once at start (steep_sandbox_check) and refuses to serve on a
 * host where it fails, e.g. without user namespaces. Only the loudly named
 * test option [execution] insecure_without_user_namespace skips the user
 * namespace (every other step stays).
 *
 * The worker's confinement, in this order because each step needs what the
 * next takes away: rlimits on address space (measured from the runner's
 * own size, since a sanitizer build reserves terabytes of shadow), CPU
 * time, file size and open files; the crash and violation handlers; no
 * capabilities (ambient cleared, bounding set dropped, securebits locked,
 * capset to empty: the worker holds a full set in its own user namespace
 * until then); PR_SET_NO_NEW_PRIVS; Landlock handling every file system
 * and network access right and every scope of the kernel's ABI with no
 * rule (no file system access at all, no TCP, no signals or abstract
 * sockets outside the task's own domain) as a second layer under seccomp;
 * and the seccomp allow-list.
 *
 * Seccomp's default action is SIGSYS (SCMP_ACT_TRAP) rather than a silent
 * kill, so the handler can tell the node which syscall was refused before
 * the process exits; crash handlers check whether the address space ran
 * out, so a failed allocation reads as "memory limit" and not "crash".
 * Handlers are one-shot (SA_RESETHAND) and the filter refuses
 * rt_sigaction, so the function cannot replace them. Arguments are
 * filtered where a call could reach outside the task: fcntl only with the
 * commands correct code needs (no F_SETOWN/F_SETSIG/O_ASYNC, the way the
 * channel could make the node signal a process; no leases, notifications
 * or locks), ioctl only FIOCLEX/FIONCLEX/FIONBIO (TCGETS fails with ENOTTY
 * so isatty works; FIOASYNC, FIOSETOWN, TIOCSTI and the rest are refused),
 * mmap/mprotect never executable, sendto only on the connected channel,
 * prlimit64 only reading the worker's own limits, tgkill only to itself.
 *
 * Stat. Seccomp cannot read a path, so a path-taking stat cannot be told
 * from fstat(fd) by its arguments: newfstatat fails with EACCES whatever
 * its flags (a hidden glibc call, e.g. stdio sizing a buffer, then falls
 * back harmlessly instead of ending the task), and the runner exports its
 * own fstat/fstat64 that issue the descriptor-only fstat syscall, so every
 * call through the PLT (our code, OpenSSL, jansson, an embedded
 * interpreter) keeps working. statx stays refused.
 *
 * sysinfo. glibc's qsort asks for the machine's memory size once, through
 * sysinfo, and ignores the call's failure (an error would leave the stack
 * garbage deciding between its merge sort and its quicksort, whose orders
 * of equal keys differ). The runner sorts once while priming, so glibc
 * caches the size and sysinfo stays refused.
 */
#include "runner_confine.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stddef.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/error.h"
#include "core/log.h"

/* Landlock's ABI as of ABI 7, declared here because the C library's
 * headers may be older than the kernel. */
#define LANDLOCK_VERSION_FLAG   1u
#define LANDLOCK_FS_RIGHTS_ABI1 ((1ull << 13) - 1)
#define LANDLOCK_FS_REFER       (1ull << 13) /* ABI 2 */
#define LANDLOCK_FS_TRUNCATE    (1ull << 14) /* ABI 3 */
#define LANDLOCK_FS_IOCTL_DEV   (1ull << 15) /* ABI 5 */
#define LANDLOCK_NET_TCP        3ull         /* bind, connect: ABI 4 */
#define LANDLOCK_SCOPE_ALL      3ull         /* abstract unix sockets, signals: ABI 6 */

struct landlock_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

static int report_channel = -1;
static size_t memory_probe = 1 << 20;
static uint64_t base_space;
static bool audit_mode;
static bool in_user_namespace;
static uint8_t audited[64]; /* syscall numbers already reported in audit mode */
static uint8_t alternate_stack[64 * 1024];

void steep_runner_options_default(struct steep_runner_options *options)
{
    options->uid = STEEP_SANDBOX_DEFAULT_UID;
    options->gid = STEEP_SANDBOX_DEFAULT_GID;
    options->user_namespace = true;
    options->audit = false;
}

static int parse_id(const char *text, uint32_t *id)
{
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    ENSURE(errno == 0 && end != text && *end == 0 && value > 0 && value < UINT32_MAX,
           "bad sandbox id %s (1..4294967294)", text);
    *id = (uint32_t)value;
    return 0;
}

int steep_runner_options_parse(int argc, char **argv, struct steep_runner_options *options)
{
    steep_runner_options_default(options);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--uid=", 6) == 0) {
            GUARD(parse_id(arg + 6, &options->uid));
        } else if (strncmp(arg, "--gid=", 6) == 0) {
            GUARD(parse_id(arg + 6, &options->gid));
        } else if (strcmp(arg, "--insecure-without-user-namespace") == 0) {
            options->user_namespace = false;
        } else if (strcmp(arg, "--audit-syscalls") == 0) {
#ifdef STEEP_TEST_PAYLOADS
            options->audit = true;
#else
            return steep_error_set("the syscall audit exists only in test builds");
#endif
        } else {
            return steep_error_set("unknown task runner option %s", arg);
        }
    }
    return 0;
}

static int compare_ints(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

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
    /* An array of at least 1 KiB takes glibc's qsort past its on-stack
     * buffer, where it reads and caches the memory size (sysinfo). */
    int sample[512];
    for (size_t i = 0; i < sizeof sample / sizeof sample[0]; i++)
        sample[i] = (int)((i * 7919) % 512);
    qsort(sample, sizeof sample / sizeof sample[0], sizeof sample[0], compare_ints);
    return 0;
}

/* ---- descriptor-only stat ----------------------------------------------- */

/* Exported from the executable (-Wl,--export-dynamic-symbol), so calls from
 * the shared libraries resolve here too. glibc's own fstat goes through
 * newfstatat(fd, "", AT_EMPTY_PATH), which the filter refuses. */
int fstat(int fd, struct stat *st)
{
    return (int)syscall(SYS_fstat, fd, st);
}

int fstat64(int fd, struct stat64 *st)
{
    return (int)syscall(SYS_fstat, fd, st);
}

/* ---- entering the sandbox (pid 1, root) --------------------------------- */

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

static int enter_empty_root(const char *jail_dir, int *proc)
{
    ENSURE(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
           "sandbox: cannot make the mounts private: %s", strerror(errno));
    ENSURE(mount(jail_dir, jail_dir, NULL, MS_BIND, NULL) == 0,
           "sandbox: cannot bind the empty root %s: %s", jail_dir, strerror(errno));
    ENSURE(mount(NULL, jail_dir, NULL,
                 MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0,
           "sandbox: cannot make the empty root read-only: %s", strerror(errno));
    /* The user namespace's maps are written through the host's /proc after
     * the host's tree is gone. */
    *proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    ENSURE(*proc >= 0, "sandbox: cannot open /proc: %s", strerror(errno));
    ENSURE(chdir(jail_dir) == 0, "sandbox: cannot enter %s: %s", jail_dir, strerror(errno));
    ENSURE(syscall(SYS_pivot_root, ".", ".") == 0, "sandbox: pivot_root: %s", strerror(errno));
    ENSURE(umount2(".", MNT_DETACH) == 0, "sandbox: cannot detach the host's root: %s",
           strerror(errno));
    ENSURE(chdir("/") == 0, "sandbox: chdir: %s", strerror(errno));
    return 0;
}

static int write_proc(int proc, const char *name, const char *text)
{
    int fd = openat(proc, name, O_WRONLY | O_CLOEXEC);
    ENSURE(fd >= 0, "sandbox: cannot open /proc/%s: %s", name, strerror(errno));
    ssize_t n = write(fd, text, strlen(text));
    int error = errno;
    close(fd);
    ENSURE(n == (ssize_t)strlen(text), "sandbox: cannot write /proc/%s: %s", name,
           n < 0 ? strerror(error) : "short write");
    return 0;
}

static int own_user_namespace(int proc, uint32_t uid, uint32_t gid)
{
    char map[64];
    /* After setresuid the process is not dumpable and its /proc files
     * belong to root; the maps are the sandbox user's own to write. */
    ENSURE(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0, "PR_SET_DUMPABLE: %s", strerror(errno));
    ENSURE(unshare(CLONE_NEWUSER) == 0,
           "sandbox: cannot create a user namespace: %s (user namespaces must be enabled: "
           "user.max_user_namespaces > 0, kernel.unprivileged_userns_clone = 1 where it exists)",
           strerror(errno));
    GUARD(write_proc(proc, "self/setgroups", "deny"));
    snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
    GUARD(write_proc(proc, "self/gid_map", map));
    snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
    GUARD(write_proc(proc, "self/uid_map", map));
    /* Not dumpable: no host process of the same uid may ptrace it or read
     * its memory through /proc. */
    ENSURE(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, "PR_SET_DUMPABLE: %s", strerror(errno));
    return 0;
}

int steep_runner_enter(const char *jail_dir, int channel,
                       const struct steep_runner_options *options)
{
    base_space = address_space_now();
    ENSURE(base_space > 0, "cannot measure the runner's address space");
    ENSURE(getpid() == 1, "sandbox: the task runner is not the first process of a new PID "
                          "namespace");
    ENSURE(jail_dir[0] == '/', "sandbox: no empty root directory for the task");
    ENSURE(geteuid() == 0,
           "sandbox: the task runner must start as root to become uid %u (run the execution "
           "node as root)",
           options->uid);
    ENSURE(options->uid != 0 && options->gid != 0, "sandbox: the sandbox user must not be root");
    ENSURE(unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) == 0,
           "sandbox: cannot create the task's namespaces: %s", strerror(errno));
    int proc = -1;
    int rc = enter_empty_root(jail_dir, &proc);
    if (rc == 0 && setgroups(0, NULL) < 0)
        rc = steep_error_set("sandbox: setgroups: %s", strerror(errno));
    if (rc == 0 && setresgid(options->gid, options->gid, options->gid) < 0)
        rc = steep_error_set("sandbox: cannot become gid %u: %s", options->gid, strerror(errno));
    if (rc == 0 && setresuid(options->uid, options->uid, options->uid) < 0)
        rc = steep_error_set("sandbox: cannot become uid %u: %s", options->uid, strerror(errno));
    if (rc == 0 && options->user_namespace)
        rc = own_user_namespace(proc, options->uid, options->gid);
    in_user_namespace = rc == 0 && options->user_namespace;
    if (proc >= 0)
        close(proc);
    GUARD(rc);
    /* A change of credentials cleared the parent-death signal the node set:
     * set it again, then make sure the node did not die in between (its
     * end of the channel would be closed). */
    ENSURE(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0, "PR_SET_PDEATHSIG: %s", strerror(errno));
    struct pollfd node = {channel, POLLRDHUP, 0};
    ENSURE(poll(&node, 1, 0) == 0, "sandbox: the execution node is gone");
    return 0;
}

/* ---- reporting from signal handlers ------------------------------------- */

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

static void put_u32le(uint8_t out[4], uint32_t value)
{
    out[0] = (uint8_t)value;
    out[1] = (uint8_t)(value >> 8);
    out[2] = (uint8_t)(value >> 16);
    out[3] = (uint8_t)(value >> 24);
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
    if (audit_mode) {
        /* Record each refused call once and let it fail with ENOSYS. */
        bool fresh = nr >= sizeof audited * 8 || !(audited[nr / 8] & (1u << (nr % 8)));
        if (nr < sizeof audited * 8)
            audited[nr / 8] |= (uint8_t)(1u << (nr % 8));
        if (fresh) {
            put_u32le(number, nr);
            report(STEEP_RUNNER_VIOLATION, number, sizeof number);
        }
        ((ucontext_t *)context)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
        return;
    }
    put_u32le(number, nr);
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

/* ---- capabilities, Landlock --------------------------------------------- */

static int drop_bounding_set(void)
{
    /* Up to the kernel's last capability, which answers EINVAL after it. */
    for (int cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
            continue;
        ENSURE(errno == EINVAL, "cannot drop capability %d from the bounding set: %s", cap,
               strerror(errno));
        break;
    }
    int bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
               SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
               SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    ENSURE(prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) == 0, "cannot lock the securebits: %s",
           strerror(errno));
    return 0;
}

/* Without a user namespace (the insecure test option) setresuid already
 * emptied every set but the bounding set, which then cannot be changed
 * (no CAP_SETPCAP) and cannot matter (execve is refused). */
static int drop_capabilities(void)
{
    ENSURE(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0,
           "cannot clear ambient capabilities: %s", strerror(errno));
    if (in_user_namespace)
        GUARD(drop_bounding_set());
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    ENSURE(syscall(SYS_capset, &header, data) == 0, "cannot drop capabilities: %s",
           strerror(errno));
    return 0;
}

/* The kernel's Landlock ABI, 0 when it has none (not built in or not
 * enabled at boot). */
static int landlock_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_VERSION_FLAG);
    return abi < 0 ? 0 : (int)abi;
}

/* No rules: every handled access is denied. */
static int restrict_with_landlock(void)
{
    int abi = landlock_abi();
    if (abi == 0)
        return 0; /* the node logged at start that this layer is missing */
    struct landlock_attr attr = {.handled_access_fs = LANDLOCK_FS_RIGHTS_ABI1};
    size_t size = sizeof attr.handled_access_fs;
    if (abi >= 2)
        attr.handled_access_fs |= LANDLOCK_FS_REFER;
    if (abi >= 3)
        attr.handled_access_fs |= LANDLOCK_FS_TRUNCATE;
    if (abi >= 4) {
        attr.handled_access_net = LANDLOCK_NET_TCP;
        size = offsetof(struct landlock_attr, scoped);
    }
    if (abi >= 5)
        attr.handled_access_fs |= LANDLOCK_FS_IOCTL_DEV;
    if (abi >= 6) {
        attr.scoped = LANDLOCK_SCOPE_ALL;
        size = sizeof attr;
    }
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    ENSURE(ruleset >= 0, "cannot create the Landlock ruleset: %s", strerror(errno));
    long rc = syscall(SYS_landlock_restrict_self, ruleset, 0);
    int error = errno;
    close(ruleset);
    ENSURE(rc == 0, "cannot enforce the Landlock ruleset: %s", strerror(error));
    return 0;
}

/* ---- limits ------------------------------------------------------------- */

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

/* ---- seccomp ------------------------------------------------------------ */

#define ALLOW(name)         seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(name), 0)
#define ALLOW_IF(name, ...) seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(name), __VA_ARGS__)

static int load(scmp_filter_ctx filter, int rc)
{
    if (rc != 0) {
        seccomp_release(filter);
        return steep_error_set("cannot build the seccomp filter");
    }
    rc = seccomp_load(filter);
    seccomp_release(filter);
    ENSURE(rc == 0, "cannot load the seccomp filter: %s", strerror(-rc));
    return 0;
}

/* pool_channel >= 0: a pre-started runner, which may still receive its
 * task on that channel, lower two limits and stack one more filter until
 * restrict_pooled() takes exactly these three back (see "pre-started
 * runners" below). */
static int load_filter(int pool_channel)
{
    scmp_filter_ctx filter = seccomp_init(SCMP_ACT_TRAP);
    ENSURE(filter, "cannot create the seccomp filter");
    scmp_datum_t self = (scmp_datum_t)getpid();
    int rc = 0;
    rc |= ALLOW(read) | ALLOW(write) | ALLOW(readv) | ALLOW(writev) | ALLOW(pread64);
    rc |= ALLOW(pwrite64) | ALLOW(close) | ALLOW(fstat) | ALLOW(lseek) | ALLOW(dup);
    rc |= ALLOW(ftruncate) | ALLOW(fsync) | ALLOW(fdatasync);
    rc |= ALLOW(munmap) | ALLOW(mremap) | ALLOW(madvise) | ALLOW(brk);
    rc |= ALLOW(exit) | ALLOW(exit_group) | ALLOW(futex) | ALLOW(sched_yield);
    rc |= ALLOW(clock_gettime) | ALLOW(clock_getres) | ALLOW(gettimeofday) | ALLOW(time);
    rc |= ALLOW(nanosleep) | ALLOW(clock_nanosleep) | ALLOW(restart_syscall);
    rc |= ALLOW(rt_sigreturn) | ALLOW(rt_sigprocmask) | ALLOW(sigaltstack);
    rc |= ALLOW(getpid) | ALLOW(gettid) | ALLOW(getrandom) | ALLOW(getrusage);
    /* Who am I: harmless, and lets a test see the sandbox user. */
    rc |= ALLOW(getuid) | ALLOW(geteuid) | ALLOW(getgid) | ALLOW(getegid) | ALLOW(capget);
    /* Memory, never executable: no code is loaded after confinement. */
    rc |= ALLOW_IF(mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= ALLOW_IF(mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* fcntl by command. F_SETFL without O_ASYNC: with F_SETOWN and
     * F_SETSIG, O_ASYNC is how a descriptor makes the kernel signal
     * another process. */
    const int fcntl_commands[] = {F_GETFD, F_SETFD, F_GETFL, F_DUPFD, F_DUPFD_CLOEXEC};
    for (size_t i = 0; i < sizeof fcntl_commands / sizeof fcntl_commands[0]; i++)
        rc |= ALLOW_IF(fcntl, 1, SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_commands[i]));
    rc |=
        ALLOW_IF(fcntl, 2, SCMP_A1(SCMP_CMP_EQ, F_SETFL), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0));
    /* ioctl: close-on-exec and non-blocking flags (CPython sets them this
     * way); isatty's TCGETS answers "not a terminal". */
    const unsigned long ioctl_requests[] = {FIOCLEX, FIONCLEX, FIONBIO};
    for (size_t i = 0; i < sizeof ioctl_requests / sizeof ioctl_requests[0]; i++)
        rc |= ALLOW_IF(ioctl, 1, SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctl_requests[i]));
    rc |= seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 1,
                           SCMP_A1(SCMP_CMP_EQ, TCGETS));
    /* Path lookups never: see the comment atop (descriptor stat is fstat). */
    rc |= seccomp_rule_add(filter, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(newfstatat), 0);
    /* The node channel is already connected: sendto without an address. */
    rc |= ALLOW_IF(sendto, 1, SCMP_A4(SCMP_CMP_EQ, 0));
    /* Reading its own limits is harmless; raising them is not. */
    rc |= ALLOW_IF(prlimit64, 2, SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0));
    /* abort()/raise() signal the worker itself only. */
    rc |= ALLOW_IF(tgkill, 2, SCMP_A0(SCMP_CMP_EQ, self), SCMP_A1(SCMP_CMP_EQ, self));
    if (pool_channel >= 0) {
        rc |= ALLOW_IF(recvmsg, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pool_channel));
        rc |= ALLOW_IF(prlimit64, 2, SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A1(SCMP_CMP_EQ, RLIMIT_NOFILE));
        rc |= ALLOW_IF(prlimit64, 2, SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A1(SCMP_CMP_EQ, RLIMIT_AS));
        rc |= ALLOW_IF(seccomp, 1, SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER));
    }
    return load(filter, rc);
}

/* The supervisor waits and reports; nothing else. */
static int load_supervisor_filter(void)
{
    scmp_filter_ctx filter = seccomp_init(SCMP_ACT_KILL_PROCESS);
    ENSURE(filter, "cannot create the seccomp filter");
    int rc = ALLOW(wait4) | ALLOW(write) | ALLOW(exit_group) | ALLOW(exit) | ALLOW(rt_sigreturn);
    /* What the C library and a sanitizer runtime do on the way out. */
    rc |=
        ALLOW(sigaltstack) | ALLOW(munmap) | ALLOW(rt_sigprocmask) | ALLOW(getpid) | ALLOW(gettid);
    rc |= ALLOW_IF(sendto, 1, SCMP_A4(SCMP_CMP_EQ, 0));
    return load(filter, rc);
}

/* ---- the supervisor ----------------------------------------------------- */

int steep_runner_supervise(int channel)
{
    pid_t worker = fork();
    ENSURE(worker >= 0, "cannot start the task's worker process: %s", strerror(errno));
    if (worker == 0)
        return 0;
    /* The task's files are the worker's alone. */
    close_range((unsigned)channel + 1, ~0u, 0);
    int status = 2 << 8; /* exit status 2 if wait4 itself failed */
    if (drop_capabilities() < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        load_supervisor_filter() < 0) {
        /* Without its own confinement the supervisor ends the task. */
        kill(worker, SIGKILL);
    }
    for (;;) {
        int got;
        pid_t pid = wait4(worker, &got, 0, NULL);
        if (pid == worker) {
            status = got;
            break;
        }
        if (pid < 0 && errno != EINTR)
            break;
    }
    uint8_t frame[4];
    put_u32le(frame, (uint32_t)status);
    steep_runner_frame_write(channel, STEEP_RUNNER_EXIT, frame, sizeof frame);
    _exit(0);
}

/* ---- the worker --------------------------------------------------------- */

int steep_runner_confine(const struct steep_runner_request *request, int channel, int highest_fd,
                         const struct steep_runner_options *options)
{
    ENSURE(base_space > 0, "the task runner did not enter its sandbox");
    report_channel = channel;
    audit_mode = options->audit;
    GUARD(install_handlers());
    GUARD(set_limits(request, base_space, highest_fd));
    GUARD(drop_capabilities());
    ENSURE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    GUARD(restrict_with_landlock());
    return load_filter(-1);
}

/* ---- pre-started runners ------------------------------------------------ */

/*
 * A pre-started runner (runner_pool.h) runs the same chain, every step
 * before it waits: PREPARE names the executor, the empty root (one shared
 * by the node's pre-started runners: empty and read-only, nothing in it
 * belongs to a task), the node-wide limits and, for wamr, the compiled
 * module, which is loaded before the runner enters the sandbox exactly as
 * for a one-shot runner. The worker then confines itself with the same
 * rlimits, handlers, capabilities, no_new_privs, Landlock and filter as a
 * one-shot worker, except that the filter also allows three calls the
 * runner itself needs once more: recvmsg on the channel (the task and its
 * descriptors; receiving a descriptor needs no privilege), prlimit64 of its
 * own RLIMIT_NOFILE and RLIMIT_AS (lowered to the task's figures once its
 * descriptors and request are in: lowering needs no privilege, and raising
 * a hard limit needs CAP_SYS_RESOURCE it does not have) and seccomp()
 * adding a filter. It answers READY and blocks in recvmsg. With the task in
 * hand, before any of the task's code runs, it stacks a second filter that
 * refuses exactly those three again (recvmsg, prlimit64 with a new limit,
 * seccomp), so the function runs under precisely the one-shot runner's
 * filter (the kernel applies the stricter of stacked filters). Nothing of
 * a task ever reaches a runner that served another: one task per runner,
 * then it exits.
 *
 * Limits while waiting: RLIMIT_NOFILE leaves room for the largest set of
 * descriptors one message carries, RLIMIT_AS for the largest request; both
 * come down to the one-shot formulas (highest descriptor + 1 + open_files;
 * own size + request + memory * 5/4) before the function runs, and the heap
 * count (runner_memory.c) starts at the task, as in a one-shot runner.
 */

static int pool_channel = -1;
static uint64_t pool_frame_room;

static int confine_pooled(const struct steep_runner_request *prepared, int channel,
                          const struct steep_runner_options *options)
{
    ENSURE(base_space > 0, "the task runner did not enter its sandbox");
    report_channel = channel;
    audit_mode = options->audit;
    pool_channel = channel;
    pool_frame_room = 2 * (uint64_t)steep_runner_max_frame(prepared->message_bytes);
    struct steep_runner_request room = *prepared;
    if (room.memory_bytes > 0)
        base_space += pool_frame_room;
    GUARD(install_handlers());
    GUARD(set_limits(&room, base_space, channel + STEEP_RUNNER_POOL_MAX_FILES));
    GUARD(drop_capabilities());
    ENSURE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    GUARD(restrict_with_landlock());
    GUARD(load_filter(channel));
    if (room.memory_bytes > 0)
        base_space -= pool_frame_room;
    return 0;
}

/* Stacked on the pooled filter: refuses what only the wait needed. */
static int restrict_pooled(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_recvmsg, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prlimit64, 0, 5),
        /* prlimit64(pid, resource, new_limit, old_limit): only new == NULL */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2]) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    /* Jump offsets count from the next instruction: recvmsg and seccomp
     * go to the TRAP at index 8, other calls from index 3 to the ALLOW at
     * 9, prlimit64 to TRAP unless both halves of new_limit are 0. */
    struct sock_fprog program = {sizeof code / sizeof code[0], code};
    ENSURE(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) == 0,
           "cannot stack the task's seccomp filter: %s", strerror(errno));
    pool_channel = -1;
    return 0;
}

/* The header of the task's frame and the descriptors attached to it. */
static int receive_header(int channel, uint8_t header[STEEP_RUNNER_FRAME_HEADER], int *fds,
                          size_t *n_fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * STEEP_RUNNER_POOL_MAX_FILES)];
        struct cmsghdr align;
    } control;
    size_t got = 0;
    *n_fds = 0;
    while (got < STEEP_RUNNER_FRAME_HEADER) {
        struct iovec iov = {header + got, STEEP_RUNNER_FRAME_HEADER - got};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (got == 0) {
            msg.msg_control = control.buf;
            msg.msg_controllen = sizeof control.buf;
        }
        ssize_t r = recvmsg(channel, &msg, MSG_CMSG_CLOEXEC);
        if (r < 0 && errno == EINTR)
            continue;
        ENSURE(r > 0, "the execution node closed the channel before the task");
        if (got == 0) {
            ENSURE(!(msg.msg_flags & MSG_CTRUNC), "the task's descriptors did not fit");
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                    continue;
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k && *n_fds < STEEP_RUNNER_POOL_MAX_FILES; i++)
                    memcpy(&fds[(*n_fds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            }
        }
        got += (size_t)r;
    }
    return 0;
}

static int read_all(int fd, uint8_t *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = read(fd, data + done, len - done);
        if (r < 0 && errno == EINTR)
            continue;
        ENSURE(r > 0, "the execution node closed the channel mid-task");
        done += (size_t)r;
    }
    return 0;
}

/* The request numbers its files 4, 5, ... in the order they were attached. */
static int place_files(struct steep_runner_file *files, size_t n, const int *fds, size_t n_fds)
{
    for (size_t i = 0; i < n; i++) {
        int index = files[i].fd - STEEP_RUNNER_FIRST_FILE_FD;
        ENSURE(index >= 0 && (size_t)index < n_fds, "the task names a descriptor it did not send");
        files[i].fd = fds[index];
    }
    return 0;
}

static int await_task(int channel, const struct steep_runner_request *prepared,
                      struct steep_runner_request *task)
{
    uint8_t header[STEEP_RUNNER_FRAME_HEADER];
    int fds[STEEP_RUNNER_POOL_MAX_FILES];
    size_t n_fds = 0;
    GUARD(steep_runner_frame_write(channel, STEEP_RUNNER_READY, NULL, 0));
    GUARD(receive_header(channel, header, fds, &n_fds));
    uint32_t len = (uint32_t)header[0] | (uint32_t)header[1] << 8 | (uint32_t)header[2] << 16 |
                   (uint32_t)header[3] << 24;
    ENSURE(header[4] == STEEP_RUNNER_REQUEST, "the node sent frame %u instead of a task",
           header[4]);
    ENSURE(len <= steep_runner_max_frame(prepared->message_bytes),
           "task request of %u bytes exceeds its limit", len);
    struct steep_buf frame = STEEP_BUF_INIT;
    steep_buf_wipe(&frame);
    int rc = steep_buf_reserve(&frame, (size_t)len + 1);
    if (rc == 0)
        rc = read_all(channel, frame.data, len);
    if (rc == 0)
        rc = steep_runner_request_decode(frame.data, len, task);
    steep_buf_free(&frame);
    GUARD(rc);
    ENSURE(strcmp(task->executor, prepared->executor) == 0,
           "a runner prepared for %s got a %s task", prepared->executor, task->executor);
    GUARD(place_files(task->inputs, task->n_inputs, fds, n_fds));
    GUARD(place_files(task->outputs, task->n_outputs, fds, n_fds));
    GUARD(place_files(task->resources, task->n_resources, fds, n_fds));
    /* The limits are the ones the runner confined itself with. */
    task->cpu_seconds = prepared->cpu_seconds;
    task->open_files = prepared->open_files;
    task->memory_bytes = prepared->memory_bytes;
    task->file_size_bytes = prepared->file_size_bytes;
    task->message_bytes = prepared->message_bytes;
    if (task->open_files > 0) {
        rlim_t files =
            (rlim_t)steep_runner_request_highest_fd(task, channel) + 1 + task->open_files;
        GUARD(set_limit(RLIMIT_NOFILE, files, files, "open files"));
    }
    if (task->memory_bytes > 0) {
        uint64_t space = base_space + len + task->memory_bytes + task->memory_bytes / 4;
        GUARD(set_limit(RLIMIT_AS, space, space, "memory"));
        steep_runner_limit_heap(task->memory_bytes);
    }
    return restrict_pooled();
}

int steep_runner_start(int channel, const struct steep_runner_options *options,
                       int (*prepare)(struct steep_runner_request *request),
                       struct steep_runner_request *request)
{
    struct steep_buf frame = STEEP_BUF_INIT;
    uint8_t type = 0;
    steep_buf_wipe(&frame);
    memset(request, 0, sizeof *request);
    /* The node is trusted; its request is bounded by the largest limit. */
    if (steep_runner_frame_read(channel, steep_runner_max_frame(STEEP_RUNNER_MAX_MESSAGE), &type,
                                &frame) != 1 ||
        (type != STEEP_RUNNER_REQUEST && type != STEEP_RUNNER_PREPARE)) {
        steep_buf_free(&frame);
        log_error("task runner: no request from the node");
        return -2;
    }
    int rc = steep_runner_request_decode(frame.data, frame.len, request);
    steep_buf_free(&frame);
    if (rc < 0) {
        log_error("task runner: %s", steep_error_get());
        return -2;
    }
    GUARD(prepare(request));
    GUARD(steep_runner_enter(request->jail_dir, channel, options));
    GUARD(steep_runner_supervise(channel));
    if (type == STEEP_RUNNER_REQUEST)
        return steep_runner_confine(request, channel,
                                    steep_runner_request_highest_fd(request, channel), options);
    GUARD(confine_pooled(request, channel, options));
    struct steep_runner_request task;
    memset(&task, 0, sizeof task);
    rc = await_task(channel, request, &task);
    steep_runner_request_free(request);
    *request = task;
    return rc;
}
