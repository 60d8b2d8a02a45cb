/*
 * A local platform directory, as `steep up` lays it out:
 *
 *   DIR/steep.toml            the platform's config (written once; editable)
 *   DIR/as_root_ca_cert.pem   root of the simulated attestation authority
 *   DIR/enclave_info.toml     measurements of the service executables
 *   DIR/auditors/NAME.*       auditor keys and signatures over enclave_info
 *   DIR/keys/                 authority, platform signing and sealing keys
 *   DIR/policies/             access-control policy files (copied once)
 *   DIR/data/                 services' state
 *   DIR/logs/NAME.log         services' logs (supervisor.log: deaths, restarts)
 *   DIR/run/NAME.pid          pids of the running processes (and the supervisor)
 *   DIR/run/NAME.admin        the port of each service's admin port (metrics, health)
 *   DIR/run/supervisor.status per process: pid, start time, restarts, state
 *   DIR/platform.state        how it was launched (ports, executors, restarts)
 */
#ifndef STEEP_CLI_PLATFORM_H
#define STEEP_CLI_PLATFORM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PLATFORM_MAX_PROCESSES 64
/* `steep up --backend etcd` runs Debian's etcd (etcd_local.c). */
#define PLATFORM_ETCD_EXE "/usr/bin/etcd"

struct platform_ports {
    int authentication_api; /* 7776 */
    int frontend;           /* 7777 */
    int authentication_internal;
    int management;
    int storage;
    int access_control;
    int scheduler;
    int execution; /* advertised only; execution never listens */
    int files;     /* HTTP file server for --files */
};

/* Teaclave's defaults for base 7776; other bases keep the same offsets. */
void platform_ports_from_base(int base, struct platform_ports *ports);
/* Reads the ports back from DIR/steep.toml; -1 when it cannot. */
int platform_ports_load(const char *dir, struct platform_ports *ports);

/* Process bookkeeping under DIR/run. */
/* The number in DIR/run/NAME.SUFFIX; -1 when there is none. */
int platform_run_number(const char *dir, const char *name, const char *suffix);
int platform_pid_read(const char *dir, const char *name);
bool platform_pid_alive(int pid);
/* Alive and started by `steep up` for this platform (runs in DIR). */
bool platform_pid_ours(const char *dir, int pid);

/* ---- shared by the launcher's files (platform.c) ---- */

struct platform_service {
    const char *name;  /* process name, log and pid file */
    const char *exe;   /* executable in the bin directory */
    size_t port_field; /* offset in struct platform_ports of the port to wait for */
};
/* The services in dependency order: nothing is started before what it calls. */
extern const struct platform_service platform_services[];
extern const size_t platform_n_services;

/* DIR/platform.state: how the platform was launched, reused by the next
 * `up` on the same DIR unless the command line says otherwise. */
struct platform_launch_state {
    int port_base;
    int files_port;
    int executors;
    char files[PATH_MAX]; /* "" when no file server */
    int max_restarts;     /* restarts in a row of one process (default 5) */
    bool etcd;            /* --backend etcd: state in a local etcd cluster */
};
int platform_state_load(const char *dir, struct platform_launch_state *st);
int platform_state_save(const char *dir, const struct platform_launch_state *st);

/* snprintf for paths and names. The platform directory is checked to be
 * short (cli_up), so results always fit; a wrapper keeps -Wformat-truncation
 * quiet without hiding real overflows elsewhere. */
void platform_pathf(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
long long platform_now_ms(void);
int platform_path_join(char *out, size_t len, const char *a, const char *b);
bool platform_exists(const char *path);
int platform_make_dir(const char *path, int mode);
/* Runs BIN_DIR/exe with args (NULL-terminated); stdout to out_path when given. */
int platform_run_tool(const char *out_path, const char *exe, ...);
bool platform_port_listening(int port);
/* True when process pid itself holds a listening TCP socket on port. */
bool platform_pid_listens_on(int pid, int port);

/* ---- admin ports (metrics.c) ---- */
/* The admin port a process published in DIR/run/NAME.admin; -1 when none. */
int platform_admin_port(const char *dir, const char *name);
/* GET path from 127.0.0.1:port: 0 with the HTTP status and the body (free
 * it), -1 when there is no answer. */
int platform_admin_get(int port, const char *path, char **body, int *code);

/* ---- provisioning (provision.c) ---- */
int provision_keys(const char *dir);
int provision_measure_and_sign(const char *dir);
int provision_policies(const char *dir);
/* face_model: the SeetaFace model's absolute path, or NULL. */
int provision_config(const char *dir, const struct platform_ports *p, int executor_slots,
                     bool test_payloads, const char *face_model, bool etcd, int port_base);

/* ---- the local etcd cluster of --backend etcd (etcd_local.c) ---- */
#define PLATFORM_ETCD_MEMBERS 3
/* Member (0-based) client port; its peer port is the next one. */
int platform_etcd_client_port(int port_base, int member);
/* Certificates (once) and the members' configs (every start) under DIR/etcd. */
int provision_etcd(const char *dir, int port_base);
/* Writes the [storage] table that points the platform at the cluster. */
int provision_etcd_storage_config(FILE *f, int port_base);

/* ---- process supervision (supervise.c) ---- */
void platform_log_tail(const char *log_path);
/* Starts one process in its own session; records its pid. */
int platform_spawn(const char *dir, const char *name, const char *exe, char *const extra_argv[]);
int platform_wait_ready(const char *dir, const char *name, int pid, int port, int timeout_ms);
/* What the supervisor runs (see supervise.c). */
struct platform_plan {
    const struct platform_ports *ports;
    int executors;
    long slots;        /* for the messages only: the config holds them */
    const char *files; /* directory the file server serves, or "" */
    int max_restarts;  /* restarts in a row of one process; 0 = never */
    bool etcd;         /* start the local etcd cluster first */
    int port_base;     /* its ports follow the platform's */
};
/* Forks the supervisor, which starts the platform; returns once it is up
 * (0) or failed (-1, messages on stderr, nothing left running). */
int platform_supervise(const char *dir, const struct platform_plan *plan);
/* Stops every process recorded under DIR/run; returns how many ran. */
int platform_stop_all(const char *dir, bool quiet);

#endif
