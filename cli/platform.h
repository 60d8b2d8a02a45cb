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
 *   DIR/logs/NAME.log         services' logs
 *   DIR/run/NAME.pid          pids of the running processes
 */
#ifndef STEEP_CLI_PLATFORM_H
#define STEEP_CLI_PLATFORM_H

#include <stdbool.h>

#define PLATFORM_MAX_PROCESSES 64

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
int platform_pid_read(const char *dir, const char *name);
bool platform_pid_alive(int pid);
/* Alive and started by `steep up` for this platform (runs in DIR). */
bool platform_pid_ours(const char *dir, int pid);

#endif
