/* The confined compile job; see compile.h. */
#include "compile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "work_dir.h"

#define NOBODY       65534
#define MAX_SO_BYTES (512u << 20)
#define JOB_AS_BYTES (4ull << 30)
#define JOB_FSIZE    (1ull << 30)
#define MAX_ARGS     48

/* Flags of the generated code; see wamr.h (engine settings). */
#define STR2(x) #x
#define STR(x)  STR2(x)
static const char *const cc_flags[] = {
    "-std=gnu17",
    "-O2",
    /* wasm NaN semantics: no folding of x - 0.0 or x * 1.0 to x (a
     * signalling NaN must come out quiet). */
    "-fsignaling-nans",
    "-fPIC",
    "-shared",
    "-w",
    "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0",
    "-DWASM_RT_USE_STACK_DEPTH_COUNT=1",
    /* One element, deliberately two literals (clang's -Wstring-concatenation). */
    ("-DWASM_RT_MAX_CALL_STACK_DEPTH=" STR(STEEP_WAMR_MAX_CALL_DEPTH)),
    "-Wl,--wrap=wasm_rt_allocate_memory",
    "-Wl,--wrap=wasm_rt_grow_memory",
    "-Wl,--wrap=wasm_rt_free_memory",
    "-Wl,-z,now",
    "-Wl,-z,noexecstack",
    "-o",
    "payload.so",
    "payload.c",
    "glue.c",
    "-lm",
};

struct step {
    const char *dir;
    const char *log_name;
    const char *argv[MAX_ARGS];
    uint32_t timeout_secs;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void resolve(const char *tool, char *out, size_t size)
{
    if (strchr(tool, '/'))
        snprintf(out, size, "%s", tool);
    else
        snprintf(out, size, "/usr/bin/%s", tool);
}

/* In the forked child of a multithreaded node: system calls only. */
static void __attribute__((noreturn))
exec_step(const struct step *step, const char *path, bool drop, uint32_t cpu_seconds)
{
    static char *const envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", "TMPDIR=.", NULL};
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* No network; a user namespace where the node is not root. */
    if (drop)
        unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
    else
        unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
    if (chdir(step->dir) < 0)
        _exit(125);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int log_fd = open(step->log_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (null_fd < 0 || log_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 ||
        dup2(log_fd, 2) < 0)
        _exit(125);
    close_range(3, ~0u, 0);
    struct rlimit as = {JOB_AS_BYTES, JOB_AS_BYTES}, cpu = {cpu_seconds, cpu_seconds + 1};
    struct rlimit fsize = {JOB_FSIZE, JOB_FSIZE}, files = {256, 256}, core = {0, 0};
    if (setrlimit(RLIMIT_AS, &as) < 0 || setrlimit(RLIMIT_CPU, &cpu) < 0 ||
        setrlimit(RLIMIT_FSIZE, &fsize) < 0 || setrlimit(RLIMIT_NOFILE, &files) < 0 ||
        setrlimit(RLIMIT_CORE, &core) < 0)
        _exit(125);
    if (drop) {
        /* Raw system calls: glibc's set*id would try to signal threads
         * that do not exist in this child. */
        if (syscall(SYS_setgroups, 0, NULL) < 0 ||
            syscall(SYS_setresgid, NOBODY, NOBODY, NOBODY) < 0 ||
            syscall(SYS_setresuid, NOBODY, NOBODY, NOBODY) < 0)
            _exit(125);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        _exit(125);
    execve(path, (char *const *)step->argv, envp);
    _exit(127);
}

/* The first line of the step's log that says "error", else its first line. */
static void first_error(const char *dir, const char *log_name, char *out, size_t size)
{
    char path[4200];
    struct steep_buf log = STEEP_BUF_INIT;
    snprintf(path, sizeof path, "%s/%s", dir, log_name);
    snprintf(out, size, "no diagnostic");
    if (steep_read_file(path, 1 << 20, &log) == 0 && steep_buf_terminate(&log) == 0) {
        char *text = (char *)log.data, *chosen = NULL;
        for (char *line = text; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            size_t len = strcspn(line, "\n");
            if (!chosen && len > 0)
                chosen = line;
            char saved = line[len];
            line[len] = 0;
            bool is_error = strstr(line, "error") != NULL;
            line[len] = saved;
            if (is_error) {
                chosen = line;
                break;
            }
        }
        if (chosen) {
            size_t len = strcspn(chosen, "\n");
            if (len >= size)
                len = size - 1;
            memcpy(out, chosen, len);
            out[len] = 0;
        }
    }
    steep_buf_free(&log);
}

/* 0 when the step exited 0; 1 when it ran and failed; -1 when it could not
 * run or ran out of time (error set). */
static int run_step(const struct step *step)
{
    char path[4096];
    resolve(step->argv[0], path, sizeof path);
    bool drop = geteuid() == 0;
    pid_t pid = fork();
    if (pid == 0)
        exec_step(step, path, drop, step->timeout_secs);
    ENSURE(pid > 0, "cannot start the compile job: %s", strerror(errno));
    int exit_fd = (int)pidfd_open(pid, 0);
    int64_t deadline = now_ms() + (int64_t)step->timeout_secs * 1000;
    int status = 0;
    bool timed_out = false;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        int64_t left = deadline - now_ms();
        if (left <= 0 && !timed_out) {
            timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
        if (exit_fd >= 0) {
            struct pollfd pfd = {exit_fd, POLLIN, 0};
            poll(&pfd, 1, left <= 0 ? 100 : left > 1000 ? 1000 : (int)left);
        } else {
            usleep(2000);
        }
    }
    /* Helpers the compiler started (cc1, as, ld) die with their group. */
    kill(-pid, SIGKILL);
    if (exit_fd >= 0)
        close(exit_fd);
    if (timed_out)
        return steep_error_set("compiling the module took longer than %u s", step->timeout_secs);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 125)
        return steep_error_set("cannot confine the compile job");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return steep_error_set("cannot run %s", path);
    if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL))
        return steep_error_set("compiling the module exceeded its CPU time limit");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int write_job_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ENSURE(fd >= 0, "cannot write %s: %s", path, strerror(errno));
    /* Readable by the job (nobody) despite the node's umask 077: the job's
     * own 0700 directory keeps everyone else out. */
    if (fchmod(fd, 0644) < 0) {
        close(fd);
        return steep_error_set("cannot write %s: %s", path, strerror(errno));
    }
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return steep_error_set("cannot write %s: %s", path, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    ENSURE(close(fd) == 0, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Fixed glue between the runner and the generated names (wasm2c 1.0.32
 * names everything after the module, here "payload"). */
static int write_glue(const char *dir, const struct steep_wamr_config *config,
                      const struct steep_wamr_module_info *info)
{
    struct steep_buf glue = STEEP_BUF_INIT;
    int rc = steep_buf_printf(
        &glue,
        "#include <stddef.h>\n#include <stdint.h>\n#include \"payload.h\"\n"
        "const uint32_t steep_wasm_max_pages = %u;\n"
        "size_t steep_wasm_instance_size(void) { return sizeof(Z_payload_instance_t); }\n"
        "void steep_wasm_init(void) { Z_payload_init_module(); }\n"
        "void steep_wasm_instantiate(void *i) { Z_payload_instantiate(i%s%s); }\n"
        "void steep_wasm_free(void *i) { Z_payload_free(i); }\n",
        config->memory_mb * 16, info->imports_env ? ", NULL" : "",
        info->imports_wasi ? ", NULL" : "");
    if (rc == 0 && info->has_entrypoint)
        rc = steep_buf_printf(&glue,
                              "uint32_t steep_wasm_entrypoint(void *i, uint32_t c, uint32_t v)"
                              " { return Z_payloadZ_entrypoint(i, c, v); }\n");
    if (rc == 0 && info->has_start)
        rc = steep_buf_printf(&glue, "void steep_wasm_start(void *i) { Z_payloadZ__start(i); }\n");
    if (rc == 0)
        rc = write_job_file(dir, "glue.c", glue.data, glue.len);
    steep_buf_free(&glue);
    return rc;
}

static int make_job_dir(const struct steep_wamr_config *config, char *dir, size_t size)
{
    ENSURE((size_t)snprintf(dir, size, "%s/job-XXXXXX", config->cache_dir) < size,
           "cache directory path too long");
    ENSURE(mkdtemp(dir), "cannot create a compile directory in %s: %s", config->cache_dir,
           strerror(errno));
    /* The job runs as nobody when the node is root: it owns its directory
     * and nothing else. */
    if (geteuid() == 0)
        ENSURE(chown(dir, NOBODY, NOBODY) == 0, "cannot hand %s to the compile job: %s", dir,
               strerror(errno));
    return 0;
}

static int translate_and_compile(const struct steep_wamr_config *config, const char *dir,
                                 struct steep_buf *so)
{
    char detail[400];
    struct step wasm2c = {dir,
                          "wasm2c.log",
                          {config->wasm2c, "--no-debug-names", "-n", "payload", "module.wasm", "-o",
                           "payload.c", NULL},
                          config->compile_timeout_secs};
    int rc = run_step(&wasm2c);
    GUARD(rc);
    if (rc > 0) {
        first_error(dir, wasm2c.log_name, detail, sizeof detail);
        const char *text = strncmp(detail, "module.wasm:", 12) == 0 ? detail + 12 : detail;
        return steep_error_set("invalid WebAssembly module: %s", text);
    }
    struct step cc = {dir, "cc.log", {config->cc}, config->compile_timeout_secs};
    size_t n = 1;
    for (size_t i = 0; i < sizeof cc_flags / sizeof cc_flags[0] && n + 1 < MAX_ARGS; i++)
        cc.argv[n++] = cc_flags[i];
    cc.argv[n] = NULL;
    rc = run_step(&cc);
    GUARD(rc);
    if (rc > 0) {
        first_error(dir, cc.log_name, detail, sizeof detail);
        return steep_error_set("cannot compile the module: %s", detail);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/payload.so", dir);
    if (steep_read_file(path, MAX_SO_BYTES, so) < 0)
        return steep_error_wrap("compiled module");
    return 0;
}

int steep_wamr_compile(const struct steep_wamr_config *config,
                       const struct steep_wamr_module_info *info, const uint8_t *wasm, size_t len,
                       struct steep_buf *so)
{
    char dir[4096];
    GUARD(make_job_dir(config, dir, sizeof dir));
    int rc = write_job_file(dir, "module.wasm", wasm, len);
    if (rc == 0)
        rc = write_glue(dir, config, info);
    if (rc == 0)
        rc = translate_and_compile(config, dir, so);
    steep_work_dir_remove_tree(dir);
    return rc;
}

/* ---- toolchain identity ------------------------------------------------- */

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static struct steep_buf cached_id = STEEP_BUF_INIT;

static int version_of(const struct steep_wamr_config *config, const char *dir, const char *tool,
                      struct steep_buf *id)
{
    struct step step = {dir, "version.log", {tool, "--version", NULL}, 30};
    int rc = run_step(&step);
    GUARD(rc);
    ENSURE(rc == 0, "%s --version failed", tool);
    char path[4200];
    struct steep_buf text = STEEP_BUF_INIT;
    snprintf(path, sizeof path, "%s/version.log", dir);
    rc = steep_read_file(path, 1 << 16, &text);
    if (rc == 0)
        rc = steep_buf_append(id, text.data, text.len);
    steep_buf_free(&text);
    return rc;
}

static int compute_id(const struct steep_wamr_config *config, struct steep_buf *id)
{
    char dir[4096];
    GUARD(make_job_dir(config, dir, sizeof dir));
    int rc = version_of(config, dir, config->wasm2c, id);
    if (rc == 0)
        rc = version_of(config, dir, config->cc, id);
    for (size_t i = 0; rc == 0 && i < sizeof cc_flags / sizeof cc_flags[0]; i++)
        rc = steep_buf_printf(id, " %s", cc_flags[i]);
    if (rc == 0)
        rc = steep_buf_printf(id, " abi=1 max_pages=%u", config->memory_mb * 16);
    steep_work_dir_remove_tree(dir);
    return rc;
}

int steep_wamr_toolchain_id(const struct steep_wamr_config *config, struct steep_buf *id)
{
    pthread_mutex_lock(&id_lock);
    int rc = 0;
    if (cached_id.len == 0)
        rc = compute_id(config, &cached_id);
    if (rc < 0)
        steep_buf_reset(&cached_id);
    else
        rc = steep_buf_append(id, cached_id.data, cached_id.len);
    pthread_mutex_unlock(&id_lock);
    return rc;
}
