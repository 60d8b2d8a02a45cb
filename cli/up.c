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
 *
 * The parts live apart: provisioning (keys, measurements, policies,
 * config) in provision.c, the processes (start, readiness, stop) in
 * supervise.c, `steep status` in status.c, and what they share in
 * platform.c; this file holds the up and down commands.
 *
 * Everything under DIR is the platform user's alone (issue 14, item 17):
 * up runs under umask 077, so its files, its services' logs and LevelDB
 * files are 0600 and its directories 0700, and it takes group and other
 * bits off whatever an older version left in DIR.
 */
#include "cli.h"
#include "platform.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

static int tighten_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if ((flag == FTW_F || flag == FTW_D || flag == FTW_DP) && (st->st_mode & 077) &&
        chmod(path, st->st_mode & 07700) < 0) {
        cli_error("up: cannot restrict the mode of %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Takes group and other permissions off DIR's tree (files of older versions). */
static int tighten_modes(const char *dir)
{
    return nftw(dir, tighten_entry, 32, FTW_PHYS) == 0 ? 0 : -1;
}

static void up_usage(void)
{
    printf("usage: steep up --dir DIR [--files FILES_DIR] [--executors N] [--slots N]\n"
           "                [--port-base PORT] [--files-port PORT] [--restarts N]\n"
           "                [--face-model F] [--backend leveldb|etcd]\n"
           "Starts a complete local platform with the sim TEE back-end (simulation, not\n"
           "hardware). Creates keys and config once under DIR; running it again on the\n"
           "same DIR restarts the same platform with all its data.\n"
           "  --files DIR      also serve DIR over HTTP (GET and PUT) on loopback\n"
           "  --executors N    execution nodes to start (default 2)\n"
           "  --slots N        concurrent tasks per execution node (default: CPU count)\n"
           "  --port-base P    authentication API port; the others follow Teaclave's\n"
           "                   layout (default 7776: frontend 7777, internal 17776-17780)\n"
           "  --files-port P   port of the file server (default 6789)\n"
           "  --restarts N     a process that dies is restarted (backoff 250 ms doubling\n"
           "                   to 8 s) at most N times in a row (default 5; 0 = never);\n"
           "                   each death is logged in DIR/logs/supervisor.log\n"
           "  --backend B      where storage keeps the state: leveldb (default, embedded)\n"
           "                   or etcd: a local three-member etcd cluster under DIR/etcd\n"
           "                   (ports base+10008..10013; fixed when DIR is first made)\n"
           "  --face-model F   the SeetaFace model (seeta_fd_frontal_v1.0.bin) that\n"
           "                   builtin-face-detection reads (written into a new steep.toml)\n"
           "  --insecure-test-payloads  a TEST platform: hostile test functions may run\n"
           "                   and tasks may use file:// URLs (written into a new steep.toml)\n");
}

int cli_up(int argc, char **argv)
{
    const char *dir_arg = NULL, *files = NULL, *face_model_arg = NULL;
    char face_model[PATH_MAX];
    int executors = -1, base = 0, files_port = 0, restarts = -1;
    bool test_payloads = false;
    const char *backend = NULL;
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
        else if (!strcmp(a, "--restarts") && v)
            restarts = atoi(argv[++i]);
        else if (!strcmp(a, "--insecure-test-payloads"))
            test_payloads = true;
        else if (!strcmp(a, "--backend") && v)
            backend = argv[++i];
        else if (!strcmp(a, "--face-model") && v)
            face_model_arg = argv[++i];
        else {
            cli_error("up: unknown or incomplete argument '%s' (see steep up --help)", a);
            return CLI_USAGE;
        }
    }
    if (!dir_arg || executors < -1 || executors > 32 || slots < 1 || slots > 256 || restarts < -1 ||
        restarts > 1000 || (base && (base < 1024 || base > 65535 - 10004)) || files_port < 0 ||
        files_port > 65535) {
        cli_error("up: --dir is required; --executors 0-32, --slots 1-256, --restarts 0-1000, "
                  "--port-base 1024-%d",
                  65535 - 10004);
        return CLI_USAGE;
    }
    if (backend && strcmp(backend, "leveldb") != 0 && strcmp(backend, "etcd") != 0) {
        cli_error("up: --backend must be leveldb or etcd, not '%s'", backend);
        return CLI_USAGE;
    }
    errno = 0;
    if (face_model_arg &&
        (!realpath(face_model_arg, face_model) || strpbrk(face_model, "\"\\\n") != NULL)) {
        cli_error("up: --face-model %s: %s", face_model_arg,
                  errno ? strerror(errno) : "not usable in a TOML string");
        return CLI_USAGE;
    }
    umask(077);
    if (platform_make_dir(dir_arg, 0700) < 0 || tighten_modes(dir_arg) < 0)
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
        platform_pathf(sub, sizeof(sub), "%s/%s", dir, subdirs[i]);
        if (platform_make_dir(sub, 0700) < 0)
            return CLI_FAILED;
    }

    /* A second `up` restarts: stop what runs, keep every byte of state, and
     * launch as before unless the command line says otherwise. */
    struct platform_launch_state st = {
        .port_base = 7776, .files_port = 6789, .executors = 2, .max_restarts = 5};
    bool configured = platform_state_load(dir, &st) == 0;
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
    if (restarts >= 0)
        st.max_restarts = restarts;
    if (configured && backend && st.etcd != !strcmp(backend, "etcd")) {
        cli_error("up: %s already keeps its state in %s (the backend is chosen when DIR is made)",
                  dir, st.etcd ? "etcd" : "leveldb");
        return CLI_USAGE;
    }
    if (!configured && backend)
        st.etcd = !strcmp(backend, "etcd");
    if (st.etcd && st.port_base + 10013 > 65535) {
        cli_error("up: with --backend etcd the port base must be at most %d", 65535 - 10013);
        return CLI_USAGE;
    }
    if (files && !realpath(files, st.files)) {
        cli_error("up: --files %s: %s", files, strerror(errno));
        return CLI_FAILED;
    }
    if (platform_stop_all(dir, true) > 0)
        printf("restarting the platform in %s\n", dir);
    if (platform_state_save(dir, &st) < 0)
        return CLI_FAILED;
    struct platform_ports ports;
    platform_ports_from_base(st.port_base, &ports);
    ports.files = st.files_port;
    if (provision_keys(dir) < 0 || provision_measure_and_sign(dir) < 0 ||
        provision_policies(dir) < 0 || (st.etcd && provision_etcd(dir, st.port_base) < 0) ||
        provision_config(dir, &ports, (int)slots, test_payloads, face_model_arg ? face_model : NULL,
                         st.etcd, st.port_base) < 0)
        return CLI_FAILED;

    struct platform_plan plan = {
        .ports = &ports,
        .executors = st.executors,
        .slots = slots,
        .files = st.files,
        .max_restarts = st.max_restarts,
        .etcd = st.etcd,
        .port_base = st.port_base,
    };
    if (platform_supervise(dir, &plan) < 0)
        return CLI_FAILED;
    printf("platform up in %s (TEE back-end: sim — SIMULATION, not hardware attestation)\n"
           "  authentication https://localhost:%d   frontend https://localhost:%d\n",
           dir, ports.authentication_api, ports.frontend);
    if (st.etcd)
        printf("  state in etcd: https://127.0.0.1:%d,%d,%d (DIR/etcd holds its CA and certs)\n",
               platform_etcd_client_port(st.port_base, 0),
               platform_etcd_client_port(st.port_base, 1),
               platform_etcd_client_port(st.port_base, 2));
    return CLI_OK;
}

int cli_down(int argc, char **argv)
{
    const char *dir = getenv("STEEP_DIR");
    if (cli_wants_help(argc, argv)) {
        printf("usage: steep down [--dir DIR]   (default: $STEEP_DIR)\nStops every process of the "
               "platform in DIR; "
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
    if (!dir || !*dir) {
        cli_error("down: --dir DIR (or $STEEP_DIR) is required");
        return CLI_USAGE;
    }
    int n = platform_stop_all(dir, false);
    if (n < 0)
        return CLI_FAILED;
    if (n == 0)
        printf("nothing was running in %s\n", dir);
    return CLI_OK;
}
