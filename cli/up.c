/*
 * `steep up`, `steep down`, `steep status`: a complete local platform.
 *
 * up creates (once) the simulated attestation authority, the platform
 * signing key, the master sealing key and three auditors' keys; measures the
 * service executables into enclave_info.toml and has every auditor sign it
 * (every start, so a rebuilt binary is re-measured); writes the config once;
 * then starts the services in dependency order, each in its own session
 * with its log under DIR/logs, and waits until each one listens. Running up
 * again on the same DIR stops what runs and starts the same platform with
 * all its data. The key material is made by `steep-tee` (tools/), the same
 * command an operator would use by hand.
 */
#include "cli.h"
#include "platform.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const auditors[] = {"godzilla", "optimus_prime", "albus_dumbledore"};
#define N_AUDITORS (sizeof(auditors) / sizeof(auditors[0]))

struct service {
    const char *name;  /* process name, log and pid file */
    const char *exe;   /* executable in the bin directory */
    size_t port_field; /* offset in struct platform_ports of the port to wait for */
};

#define PORT(f) offsetof(struct platform_ports, f)
/* Dependency order: nothing is started before what it calls. */
static const struct service services[] = {
    {"storage", "steep-storage", PORT(storage)},
    {"access-control", "steep-access-control", PORT(access_control)},
    {"authentication", "steep-authentication", PORT(authentication_internal)},
    {"management", "steep-management", PORT(management)},
    {"scheduler", "steep-scheduler", PORT(scheduler)},
    {"frontend", "steep-frontend", PORT(frontend)},
};
#define N_SERVICES (sizeof(services) / sizeof(services[0]))

/* snprintf for paths and names. The platform directory is checked to be
 * short (cli_up), so results always fit; a wrapper keeps -Wformat-truncation
 * quiet without hiding real overflows elsewhere. */
static void pathf(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int path_join(char *out, size_t len, const char *a, const char *b)
{
    if (strlen(a) + strlen(b) + 2 > len) {
        cli_error("path too long: %s/%s", a, b);
        return -1;
    }
    pathf(out, len, "%s/%s", a, b);
    return 0;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int make_dir(const char *path, int mode)
{
    if (mkdir(path, (mode_t)mode) < 0 && errno != EEXIST) {
        cli_error("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Runs BIN_DIR/exe with args; stdout to out_path when given. Returns exit status. */
static int run_tool(const char *out_path, const char *exe, ...)
{
    char path[PATH_MAX];
    if (path_join(path, sizeof(path), cli_bin_dir(), exe) < 0)
        return -1;
    const char *argv[32] = {exe};
    int argc = 1;
    va_list ap;
    va_start(ap, exe);
    for (const char *a; argc < 31 && (a = va_arg(ap, const char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0) {
        cli_error("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (out_path) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
                _exit(126);
        }
        execv(path, (char *const *)argv);
        fprintf(stderr, "steep: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_error("%s %s failed", exe, argc > 1 ? argv[1] : "");
        return -1;
    }
    return 0;
}

void platform_ports_from_base(int base, struct platform_ports *p)
{
    p->authentication_api = base;
    p->frontend = base + 1;
    p->authentication_internal = base + 10000;
    p->management = base + 10001;
    p->storage = base + 10002;
    p->access_control = base + 10003;
    p->scheduler = base + 10004;
    p->execution = base + 9994;
    p->files = 6789;
}

/* DIR/platform.state: how the platform was launched, reused by the next
 * `up` on the same DIR unless the command line says otherwise. */
struct launch_state {
    int port_base;
    int files_port;
    int executors;
    char files[PATH_MAX]; /* "" when no file server */
};

static int state_load(const char *dir, struct launch_state *st)
{
    char path[PATH_MAX];
    if (path_join(path, sizeof(path), dir, "platform.state") < 0)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[PATH_MAX + 32];
    int seen = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "port_base %d", &st->port_base) == 1 ||
            sscanf(line, "files_port %d", &st->files_port) == 1 ||
            sscanf(line, "executors %d", &st->executors) == 1)
            seen++;
        else if (!strncmp(line, "files ", 6))
            pathf(st->files, sizeof(st->files), "%s", line + 6);
    }
    fclose(f);
    if (seen != 3 || st->port_base < 1024 || st->port_base > 65535 - 10004)
        return -1;
    return 0;
}

static int state_save(const char *dir, const struct launch_state *st)
{
    char path[PATH_MAX];
    if (path_join(path, sizeof(path), dir, "platform.state") < 0)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f ||
        fprintf(f, "port_base %d\nfiles_port %d\nexecutors %d\nfiles %s\n", st->port_base,
                st->files_port, st->executors, st->files) < 0 ||
        fclose(f) != 0) {
        cli_error("up: cannot write %s", path);
        return -1;
    }
    return 0;
}

int platform_ports_load(const char *dir, struct platform_ports *ports)
{
    struct launch_state st = {0};
    if (state_load(dir, &st) < 0)
        return -1;
    platform_ports_from_base(st.port_base, ports);
    ports->files = st.files_port;
    return 0;
}

int platform_pid_read(const char *dir, const char *name)
{
    char path[PATH_MAX];
    pathf(path, sizeof(path), "%s/run/%s.pid", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int pid = -1;
    if (fscanf(f, "%d", &pid) != 1)
        pid = -1;
    fclose(f);
    return pid;
}

bool platform_pid_ours(const char *dir, int pid)
{
    if (!platform_pid_alive(pid))
        return false;
    /* Every process `up` starts runs in the platform directory. A pid file
     * left by a process that died (kill -9) may name a recycled pid that now
     * belongs to someone else: never signal or count that one. */
    char want[PATH_MAX], link[64], cwd[PATH_MAX];
    if (!realpath(dir, want))
        return false;
    pathf(link, sizeof(link), "/proc/%d/cwd", pid);
    ssize_t n = readlink(link, cwd, sizeof(cwd) - 1);
    if (n <= 0)
        return false;
    cwd[n] = '\0';
    return strcmp(cwd, want) == 0;
}

bool platform_pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static bool port_listening(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* True when process pid itself holds a listening TCP socket on port: its
 * socket inodes (/proc/PID/fd) matched against the LISTEN entries of
 * /proc/net/tcp and tcp6. A port merely answering could belong to another
 * program that took it first. */
static bool pid_listens_on(int pid, int port)
{
    char path[64];
    pathf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *fds = opendir(path);
    if (!fds)
        return false;
    unsigned long inodes[256];
    size_t n = 0;
    for (struct dirent *e; n < 256 && (e = readdir(fds)) != NULL;) {
        char link[128], target[64];
        pathf(link, sizeof(link), "%s/%s", path, e->d_name);
        ssize_t len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (sscanf(target, "socket:[%lu]", &inodes[n]) == 1)
            n++;
    }
    closedir(fds);
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (size_t t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        if (!f)
            continue;
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            char local[128];
            unsigned state;
            unsigned long inode;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, " %*d: %127s %*s %x %*s %*s %*s %*d %*d %lu", local, &state, &inode) !=
                    3 ||
                state != 0x0A)
                continue;
            const char *colon = strrchr(local, ':');
            if (!colon || (int)strtol(colon + 1, NULL, 16) != port)
                continue;
            for (size_t i = 0; i < n; i++) {
                if (inodes[i] == inode) {
                    fclose(f);
                    return true;
                }
            }
        }
        fclose(f);
    }
    return false;
}

static void print_log_tail(const char *log_path)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    char lines[12][512];
    int n = 0;
    while (fgets(lines[n % 12], sizeof(lines[0]), f))
        n++;
    fclose(f);
    fprintf(stderr, "--- last lines of %s ---\n", log_path);
    for (int i = n > 12 ? n - 12 : 0; i < n; i++)
        fputs(lines[i % 12], stderr);
}

/* Starts one process in its own session; records its pid. */
static int spawn(const char *dir, const char *name, const char *exe, char *const extra_argv[])
{
    char exe_path[PATH_MAX], log_path[PATH_MAX], pid_path[PATH_MAX], config[PATH_MAX];
    pathf(exe_path, sizeof(exe_path), "%s/%s", cli_bin_dir(), exe);
    pathf(log_path, sizeof(log_path), "%s/logs/%s.log", dir, name);
    pathf(pid_path, sizeof(pid_path), "%s/run/%s.pid", dir, name);
    pathf(config, sizeof(config), "%s/steep.toml", dir);
    if (access(exe_path, X_OK) < 0) {
        cli_error("%s is missing (build with `make`)", exe_path);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setsid();
        int null = open("/dev/null", O_RDONLY);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (null < 0 || log < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(log, STDOUT_FILENO) < 0 ||
            dup2(log, STDERR_FILENO) < 0)
            _exit(126);
        if (chdir(dir) < 0)
            _exit(126);
        const char *argv[16] = {exe};
        int argc = 1;
        if (extra_argv)
            for (; extra_argv[argc - 1] && argc < 15; argc++)
                argv[argc] = extra_argv[argc - 1];
        else {
            argv[argc++] = "--config";
            argv[argc++] = config;
        }
        argv[argc] = NULL;
        execv(exe_path, (char *const *)argv);
        _exit(127);
    }
    FILE *f = fopen(pid_path, "w");
    if (!f) {
        cli_error("cannot write %s: %s", pid_path, strerror(errno));
        kill(pid, SIGKILL);
        return -1;
    }
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
    return pid;
}

/* Waits until the process listens on port (or, with port 0, stays up for a moment). */
static int wait_ready(const char *dir, const char *name, int pid, int port, int timeout_ms)
{
    char log_path[PATH_MAX];
    pathf(log_path, sizeof(log_path), "%s/logs/%s.log", dir, name);
    long long deadline = now_ms() + timeout_ms;
    long long settled = now_ms() + 300;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid || !platform_pid_alive(pid)) {
            cli_error("%s exited during start-up", name);
            print_log_tail(log_path);
            return -1;
        }
        if (port ? pid_listens_on(pid, port) : now_ms() > settled)
            return 0;
        if (now_ms() > deadline) {
            cli_error("%s did not become ready within %d ms", name, timeout_ms);
            print_log_tail(log_path);
            return -1;
        }
        usleep(20 * 1000);
    }
}

/* Stops every process recorded under DIR/run: SIGTERM, then SIGKILL after 5 s. */
static int stop_all(const char *dir, bool quiet)
{
    char run[PATH_MAX];
    pathf(run, sizeof(run), "%s/run", dir);
    int pids[PLATFORM_MAX_PROCESSES];
    char names[PLATFORM_MAX_PROCESSES][64];
    int n = 0;
    FILE *ls;
    char cmd[PATH_MAX + 32];
    pathf(cmd, sizeof(cmd), "ls -1 '%s' 2>/dev/null", run);
    if (!(ls = popen(cmd, "r")))
        return -1;
    char line[256];
    while (n < PLATFORM_MAX_PROCESSES && fgets(line, sizeof(line), ls)) {
        line[strcspn(line, "\n")] = '\0';
        size_t len = strlen(line);
        if (len < 5 || strcmp(line + len - 4, ".pid"))
            continue;
        line[len - 4] = '\0';
        int pid = platform_pid_read(dir, line);
        char pid_path[PATH_MAX];
        pathf(pid_path, sizeof(pid_path), "%s/%s.pid", run, line);
        unlink(pid_path);
        if (!platform_pid_ours(dir, pid))
            continue;
        /* Services run in their own session: signal the whole group. */
        kill(-pid, SIGTERM);
        kill(pid, SIGTERM);
        pids[n] = pid;
        pathf(names[n], sizeof(names[n]), "%s", line);
        n++;
    }
    pclose(ls);
    long long deadline = now_ms() + 5000;
    for (int i = 0; i < n; i++) {
        while (platform_pid_ours(dir, pids[i]) && now_ms() < deadline) {
            waitpid(pids[i], NULL, WNOHANG);
            usleep(20 * 1000);
        }
        if (platform_pid_ours(dir, pids[i])) {
            kill(-pids[i], SIGKILL);
            kill(pids[i], SIGKILL);
            if (!quiet)
                fprintf(stderr, "steep: %s did not stop in time; killed\n", names[i]);
        }
        if (!quiet)
            printf("stopped %s\n", names[i]);
    }
    return n;
}

/* Creates the key material that must exist once per platform. */
static int ensure_keys(const char *dir)
{
    char keys[PATH_MAX], auditor_dir[PATH_MAX], path[PATH_MAX];
    pathf(keys, sizeof(keys), "%s/keys", dir);
    pathf(auditor_dir, sizeof(auditor_dir), "%s/auditors", dir);
    if (make_dir(keys, 0700) < 0 || make_dir(auditor_dir, 0755) < 0)
        return -1;

    pathf(path, sizeof(path), "%s/as_root_ca_cert.pem", dir);
    if (!exists(path)) {
        if (run_tool(NULL, "steep-tee", "authority", "init", "--dir", keys, NULL) < 0)
            return -1;
        char src[PATH_MAX];
        pathf(src, sizeof(src), "%s/as_root_ca_cert.pem", keys);
        if (link(src, path) < 0 && symlink(src, path) < 0) {
            cli_error("cannot publish %s: %s", path, strerror(errno));
            return -1;
        }
    }
    pathf(path, sizeof(path), "%s/platform_signing.pub.pem", keys);
    if (!exists(path) &&
        run_tool(NULL, "steep-tee", "platform-key", "init", "--dir", keys, NULL) < 0)
        return -1;
    pathf(path, sizeof(path), "%s/master.key", keys);
    if (!exists(path) && run_tool(NULL, "steep-tee", "master-key", "init", "--out", path, NULL) < 0)
        return -1;
    for (size_t i = 0; i < N_AUDITORS; i++) {
        pathf(path, sizeof(path), "%s/%s.public.pem", auditor_dir, auditors[i]);
        if (!exists(path) && run_tool(NULL, "steep-tee", "auditor", "keygen", auditors[i], "--dir",
                                      auditor_dir, NULL) < 0)
            return -1;
    }
    return 0;
}

/* Measures the executables and has every auditor sign the result. */
static int measure_and_sign(const char *dir)
{
    char info[PATH_MAX], signer[PATH_MAX], key[PATH_MAX], sig[PATH_MAX];
    pathf(info, sizeof(info), "%s/enclave_info.toml", dir);
    pathf(signer, sizeof(signer), "%s/keys/platform_signing.pub.pem", dir);
    if (run_tool(info, "steep-tee", "enclave-info", "--bin-dir", cli_bin_dir(), "--signer-pub",
                 signer, NULL) < 0)
        return -1;
    for (size_t i = 0; i < N_AUDITORS; i++) {
        pathf(key, sizeof(key), "%s/auditors/%s.private.pem", dir, auditors[i]);
        pathf(sig, sizeof(sig), "%s/auditors/%s.sign.sha256", dir, auditors[i]);
        if (run_tool(sig, "steep-tee", "auditor", "sign", "--key", key, info, NULL) < 0)
            return -1;
    }
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) {
        cli_error("cannot read %s: %s", from, strerror(errno));
        return -1;
    }
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        cli_error("cannot write %s: %s", to, strerror(errno));
        return -1;
    }
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    return fclose(out) == 0 ? 0 : -1;
}

/* Copies the shipped policy files once, so the operator can edit them. */
static int ensure_policies(const char *dir)
{
    char target[PATH_MAX], cmd[PATH_MAX * 2 + 64];
    pathf(target, sizeof(target), "%s/policies", dir);
    if (exists(target))
        return 0;
    if (make_dir(target, 0755) < 0)
        return -1;
    pathf(cmd, sizeof(cmd), "ls -1 '%s'", STEEP_POLICY_DIR);
    FILE *ls = popen(cmd, "r");
    if (!ls)
        return -1;
    char name[256];
    int rc = 0;
    while (rc == 0 && fgets(name, sizeof(name), ls)) {
        name[strcspn(name, "\n")] = '\0';
        size_t len = strlen(name);
        if (len < 8 || strcmp(name + len - 7, ".policy"))
            continue;
        char from[PATH_MAX], to[PATH_MAX];
        pathf(from, sizeof(from), "%s/%s", STEEP_POLICY_DIR, name);
        pathf(to, sizeof(to), "%s/%s", target, name);
        rc = copy_file(from, to);
    }
    pclose(ls);
    return rc;
}

static int write_config(const char *dir, const struct platform_ports *p, int executor_slots,
                        bool test_payloads, const char *face_model)
{
    char path[PATH_MAX];
    pathf(path, sizeof(path), "%s/steep.toml", dir);
    if (exists(path))
        return 0;
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(
        f,
        "# Steep platform configuration, written once by `steep up`; edit freely.\n"
        "# Teaclave's runtime-config keys where they exist, Steep's own below.\n\n"
        "[api_endpoints]\n"
        "authentication = { listen_address = \"127.0.0.1:%d\" }\n"
        "frontend = { listen_address = \"127.0.0.1:%d\" }\n\n"
        "[internal_endpoints]\n"
        "authentication = { listen_address = \"127.0.0.1:%d\", advertised_address = "
        "\"https://localhost:%d\" }\n"
        "management = { listen_address = \"127.0.0.1:%d\", advertised_address = "
        "\"https://localhost:%d\" }\n"
        "storage = { listen_address = \"127.0.0.1:%d\", advertised_address = "
        "\"https://localhost:%d\" }\n"
        "access_control = { listen_address = \"127.0.0.1:%d\", advertised_address = "
        "\"https://localhost:%d\" }\n"
        "execution = { listen_address = \"127.0.0.1:%d\", advertised_address = "
        "\"https://localhost:%d\" }\n"
        "scheduler = { listen_address = \"127.0.0.1:%d\", advertised_address = "
        "\"https://localhost:%d\" }\n\n"
        "[audit]\n"
        "enclave_info = { path = \"enclave_info.toml\" }\n"
        "auditor_signatures = [\n"
        "  { path = \"auditors/godzilla.sign.sha256\" },\n"
        "  { path = \"auditors/optimus_prime.sign.sha256\" },\n"
        "  { path = \"auditors/albus_dumbledore.sign.sha256\" },\n"
        "]\n\n"
        "[attestation]\n"
        "# The simulated attestation authority (TEE back-end \"sim\"): NOT hardware.\n"
        "algorithm = \"sim\"\n\n"
        "[mount]\n"
        "fusion_base_dir = \"data/fusion\"\n\n"
        "[steep]\n"
        "data_dir = \"data\"\n\n"
        "[tee]\n"
        "backend = \"sim\"\n"
        "# Simulated evidence is accepted only because this platform is a simulation.\n"
        "allow_simulation = true\n"
        "as_root_ca_cert = \"as_root_ca_cert.pem\"\n"
        "authority_key = \"keys/authority_signing.key.pem\"\n"
        "authority_cert = \"keys/authority_signing.cert.pem\"\n"
        "platform_public_key = \"keys/platform_signing.pub.pem\"\n"
        "master_key = \"keys/master.key\"\n"
        "auditor_public_keys = [\"auditors/godzilla.public.pem\", "
        "\"auditors/optimus_prime.public.pem\", \"auditors/albus_dumbledore.public.pem\"]\n\n"
        "[access_control]\n"
        "policy_dir = \"policies\"\n\n"
        "[execution]\n"
        "slots = %d\n"
        "%s%s%s%s",
        p->authentication_api, p->frontend, p->authentication_internal, p->authentication_internal,
        p->management, p->management, p->storage, p->storage, p->access_control, p->access_control,
        p->execution, p->execution, p->scheduler, p->scheduler, executor_slots,
        test_payloads ? "# A TEST platform: hostile test functions (test-*) may run and\n"
                        "# tasks may use file:// URLs on this host.\n"
                        "insecure_test_payloads = true\ninsecure_file_urls = true\n"
                      : "",
        face_model ? "# The SeetaFace model builtin-face-detection reads.\nface_model = \"" : "",
        face_model ? face_model : "", face_model ? "\"\n" : "");
    return fclose(f) == 0 ? 0 : -1;
}

static void up_usage(void)
{
    printf("usage: steep up --dir DIR [--files FILES_DIR] [--executors N] [--slots N]\n"
           "                [--port-base PORT] [--files-port PORT] [--face-model F]\n"
           "Starts a complete local platform with the sim TEE back-end (simulation, not\n"
           "hardware). Creates keys and config once under DIR; running it again on the\n"
           "same DIR restarts the same platform with all its data.\n"
           "  --files DIR      also serve DIR over HTTP (GET and PUT) on loopback\n"
           "  --executors N    execution nodes to start (default 2)\n"
           "  --slots N        concurrent tasks per execution node (default: CPU count)\n"
           "  --port-base P    authentication API port; the others follow Teaclave's\n"
           "                   layout (default 7776: frontend 7777, internal 17776-17780)\n"
           "  --files-port P   port of the file server (default 6789)\n"
           "  --face-model F   the SeetaFace model (seeta_fd_frontal_v1.0.bin) that\n"
           "                   builtin-face-detection reads (written into a new steep.toml)\n"
           "  --insecure-test-payloads  a TEST platform: hostile test functions may run\n"
           "                   and tasks may use file:// URLs (written into a new steep.toml)\n");
}

int cli_up(int argc, char **argv)
{
    const char *dir_arg = NULL, *files = NULL, *face_model_arg = NULL;
    char face_model[PATH_MAX];
    int executors = -1, base = 0, files_port = 0;
    bool test_payloads = false;
    long slots = sysconf(_SC_NPROCESSORS_ONLN);
    if (cli_wants_help(argc, argv)) {
        up_usage();
        return CLI_OK;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--dir") && v)
            dir_arg = argv[++i];
        else if (!strcmp(a, "--files") && v)
            files = argv[++i];
        else if (!strcmp(a, "--executors") && v)
            executors = atoi(argv[++i]);
        else if (!strcmp(a, "--slots") && v)
            slots = atoi(argv[++i]);
        else if (!strcmp(a, "--port-base") && v)
            base = atoi(argv[++i]);
        else if (!strcmp(a, "--files-port") && v)
            files_port = atoi(argv[++i]);
        else if (!strcmp(a, "--insecure-test-payloads"))
            test_payloads = true;
        else if (!strcmp(a, "--face-model") && v)
            face_model_arg = argv[++i];
        else {
            cli_error("up: unknown or incomplete argument '%s' (see steep up --help)", a);
            return CLI_USAGE;
        }
    }
    if (!dir_arg || executors < -1 || executors > 32 || slots < 1 || slots > 256 ||
        (base && (base < 1024 || base > 65535 - 10004)) || files_port < 0 || files_port > 65535) {
        cli_error("up: --dir is required; --executors 0-32, --slots 1-256, --port-base "
                  "1024-%d",
                  65535 - 10004);
        return CLI_USAGE;
    }
    if (face_model_arg &&
        (!realpath(face_model_arg, face_model) || strpbrk(face_model, "\"\\\n") != NULL)) {
        cli_error("up: --face-model %s: %s", face_model_arg,
                  errno ? strerror(errno) : "not usable in a TOML string");
        return CLI_USAGE;
    }
    if (make_dir(dir_arg, 0755) < 0)
        return CLI_FAILED;
    char dir[PATH_MAX];
    if (!realpath(dir_arg, dir)) {
        cli_error("up: %s: %s", dir_arg, strerror(errno));
        return CLI_FAILED;
    }
    if (strlen(dir) > 1024) {
        cli_error("up: the platform directory's path is too long (over 1024 bytes)");
        return CLI_USAGE;
    }
    static const char *const subdirs[] = {"logs", "data", "run", "data/fusion"};
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        char sub[PATH_MAX];
        pathf(sub, sizeof(sub), "%s/%s", dir, subdirs[i]);
        if (make_dir(sub, 0755) < 0)
            return CLI_FAILED;
    }

    /* A second `up` restarts: stop what runs, keep every byte of state, and
     * launch as before unless the command line says otherwise. */
    struct launch_state st = {.port_base = 7776, .files_port = 6789, .executors = 2};
    bool configured = state_load(dir, &st) == 0;
    if (configured && base && base != st.port_base) {
        cli_error("up: %s already uses port base %d (edit steep.toml to move services)", dir,
                  st.port_base);
        return CLI_USAGE;
    }
    if (base)
        st.port_base = base;
    if (files_port)
        st.files_port = files_port;
    if (executors >= 0)
        st.executors = executors;
    if (files && !realpath(files, st.files)) {
        cli_error("up: --files %s: %s", files, strerror(errno));
        return CLI_FAILED;
    }
    if (stop_all(dir, true) > 0)
        printf("restarting the platform in %s\n", dir);
    if (state_save(dir, &st) < 0)
        return CLI_FAILED;
    struct platform_ports ports;
    platform_ports_from_base(st.port_base, &ports);
    ports.files = st.files_port;
    if (ensure_keys(dir) < 0 || measure_and_sign(dir) < 0 || ensure_policies(dir) < 0 ||
        write_config(dir, &ports, (int)slots, test_payloads, face_model_arg ? face_model : NULL) <
            0)
        return CLI_FAILED;

    for (size_t i = 0; i < N_SERVICES; i++) {
        const struct service *s = &services[i];
        int port = *(const int *)((const char *)&ports + s->port_field);
        if (port_listening(port)) {
            cli_error("up: port %d (%s) is already in use by another program", port, s->name);
            stop_all(dir, true);
            return CLI_FAILED;
        }
        int pid = spawn(dir, s->name, s->exe, NULL);
        if (pid < 0 || wait_ready(dir, s->name, pid, port, 15000) < 0) {
            stop_all(dir, true);
            return CLI_FAILED;
        }
        printf("started %-16s pid %-7d port %d\n", s->name, pid, port);
    }
    for (int i = 0; i < st.executors; i++) {
        char name[32];
        pathf(name, sizeof(name), "execution-%d", i + 1);
        int pid = spawn(dir, name, "steep-execution", NULL);
        if (pid < 0 || wait_ready(dir, name, pid, 0, 15000) < 0) {
            stop_all(dir, true);
            return CLI_FAILED;
        }
        printf("started %-16s pid %d (%ld slots)\n", name, pid, slots);
    }
    if (st.files[0]) {
        char port_text[16];
        pathf(port_text, sizeof(port_text), "%d", ports.files);
        char *args[] = {"serve-files", "--root", st.files, "--port", port_text, NULL};
        int pid = spawn(dir, "files", "steep", args);
        if (pid < 0 || wait_ready(dir, "files", pid, ports.files, 5000) < 0) {
            stop_all(dir, true);
            return CLI_FAILED;
        }
        printf("started %-16s pid %-7d http://127.0.0.1:%d/ serves %s\n", "files", pid, ports.files,
               st.files);
    }
    printf("platform up in %s (TEE back-end: sim — SIMULATION, not hardware attestation)\n"
           "  authentication https://localhost:%d   frontend https://localhost:%d\n",
           dir, ports.authentication_api, ports.frontend);
    return CLI_OK;
}

int cli_down(int argc, char **argv)
{
    const char *dir = NULL;
    if (cli_wants_help(argc, argv)) {
        printf("usage: steep down --dir DIR\nStops every process of the platform in DIR; "
               "its data stays.\n");
        return CLI_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else {
            cli_error("down: unknown argument '%s' (see steep down --help)", argv[i]);
            return CLI_USAGE;
        }
    }
    if (!dir) {
        cli_error("down: --dir DIR is required");
        return CLI_USAGE;
    }
    int n = stop_all(dir, false);
    if (n < 0)
        return CLI_FAILED;
    if (n == 0)
        printf("nothing was running in %s\n", dir);
    return CLI_OK;
}

int cli_status(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    if (cli_wants_help(argc, argv)) {
        printf("usage: steep status --dir DIR [--json]\nShows each process of the platform: "
               "running or not, and its port.\nExit status 0 when everything runs.\n");
        return CLI_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            cli_error("status: unknown argument '%s' (see steep status --help)", argv[i]);
            return CLI_USAGE;
        }
    }
    struct platform_ports ports;
    if (!dir || platform_ports_load(dir, &ports) < 0) {
        cli_error("status: %s is not a platform directory (run steep up --dir DIR)",
                  dir ? dir : "(none)");
        return CLI_USAGE;
    }
    bool all_up = true;
    if (json)
        printf("{\"services\":[");
    for (size_t i = 0; i < N_SERVICES; i++) {
        int pid = platform_pid_read(dir, services[i].name);
        int port = *(const int *)((const char *)&ports + services[i].port_field);
        bool alive = platform_pid_ours(dir, pid), listening = alive && port_listening(port);
        all_up = all_up && listening;
        if (json)
            printf("%s{\"name\":\"%s\",\"pid\":%d,\"port\":%d,\"running\":%s}", i ? "," : "",
                   services[i].name, alive ? pid : 0, port, listening ? "true" : "false");
        else
            printf("%-16s %-8s pid %-7d port %d\n", services[i].name,
                   listening ? "running"
                   : alive   ? "starting"
                             : "stopped",
                   alive ? pid : 0, port);
    }
    for (int i = 1; i <= PLATFORM_MAX_PROCESSES; i++) {
        char name[32];
        pathf(name, sizeof(name), "execution-%d", i);
        int pid = platform_pid_read(dir, name);
        if (pid < 0)
            break;
        bool alive = platform_pid_ours(dir, pid);
        all_up = all_up && alive;
        if (json)
            printf(",{\"name\":\"%s\",\"pid\":%d,\"running\":%s}", name, alive ? pid : 0,
                   alive ? "true" : "false");
        else
            printf("%-16s %-8s pid %d\n", name, alive ? "running" : "stopped", alive ? pid : 0);
    }
    if (json)
        printf("],\"simulation\":true}\n");
    else
        printf("TEE back-end: sim (simulation, not hardware attestation)\n");
    return all_up ? CLI_OK : CLI_FAILED;
}
