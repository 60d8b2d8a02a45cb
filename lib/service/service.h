/*
 * The life of a Steep service process, written once: `--config FILE`,
 * logging, the stop signals, the attested endpoints, a graceful stop.
 *
 *   sigset_t stop;
 *   struct steep_config *config;
 *   int rc = steep_service_begin(argc, argv, "storage", &stop, &config);
 *   if (rc) return rc;                      // usage (2) or config error (1), logged
 *   ... open the service's own state ...
 *   struct steep_service_endpoint endpoint = {listen, "storage", workers,
 *                                             inbound, 2, add_methods, &service};
 *   rc = steep_service_serve(attested, &endpoint, 1, &stop, 5000);
 *
 * SIGTERM and SIGINT are blocked in every thread and taken by sigwait(), so
 * a stop is an orderly return from steep_service_serve(), never a handler
 * racing the service's threads.
 */
#ifndef STEEP_SERVICE_SERVICE_H
#define STEEP_SERVICE_SERVICE_H

#include <signal.h>
#include <stddef.h>

#include "core/config.h"
#include "rpc/rpc.h"
#include "tee/attested.h"

/* Secrets stay in memory (issue 14, item 17): no core dumps (RLIMIT_CORE 0,
 * PR_SET_DUMPABLE 0, which also refuses ptrace and /proc/PID/mem to other
 * processes of the user) and umask 077, so every file the service creates
 * is its own. steep_service_begin() calls it; -1 with a reason. */
int steep_service_harden(void);

/* Parses `--config FILE`, hardens the process (steep_service_harden), names the log after the
 * service, blocks the stop signals into *stop and loads the config. Returns 0, or the exit status
 * to return (2: usage, 1: the config could not be loaded; both logged). */
int steep_service_begin(int argc, char **argv, const char *name, sigset_t *stop,
                        struct steep_config **config);

/* [log] format = "text" (default) or "json" (see core/log.h); -1 with a
 * message for anything else. steep_service_begin calls it. */
int steep_service_log_format(const struct steep_config *config);

/* A client for another service: its [internal_endpoints] advertised
 * address, TLS pinned to its attested identity (e.g.
 * "teaclave_storage_service"). NULL with steep_error_get() on failure. */
struct steep_rpc_client *steep_service_connect(const struct steep_config *config,
                                               struct steep_attested *attested,
                                               enum steep_endpoint endpoint,
                                               const char *service_name);

/* The platform's message limit for clients' calls, [rpc] max_message_bytes
 * (Teaclave's max_decoding_message_size; default 4194304, 65536..67108864).
 * Public endpoints take it, internal ones steep_rpc_internal_max_message()
 * of it. -1 with the setting named when it is out of range. */
int steep_service_max_message(const struct steep_config *config, size_t *max_message);

/* The [rpc] bounds of steep.toml(5) (workers, queued calls, buffered and
 * unsent bytes, timeouts, connections) into server; a key absent (0) keeps
 * the RPC layer's default, byte bounds are raised to twice max_message.
 * -1 with the key named when one is out of range. steep_service_serve
 * applies them to every endpoint. */
int steep_service_rpc_limits(const struct steep_config *config, size_t max_message,
                             struct steep_rpc_server_config *server);

/* Waits for SIGTERM or SIGINT; returns the signal number. */
int steep_service_wait(const sigset_t *stop);

struct steep_service_endpoint {
    const char *listen; /* "host:port" */
    const char *name;   /* for logs */
    int workers;        /* 0: the RPC layer's default */
    /* Peers that must attest as one of these services; none: one-way
     * attestation (a public endpoint). */
    const char *const *inbound;
    size_t n_inbound;
    int (*add_methods)(struct steep_rpc_server *server, void *arg);
    void *arg;
};

/*
 * Starts every endpoint, serves until a stop signal, then stops them,
 * letting in-flight calls finish for up to grace_ms. Returns 0, or -1 with
 * steep_error_get() when an endpoint could not start. Calls
 * steep_config_check() first, so a wrongly typed key fails the start.
 */
int steep_service_serve(struct steep_attested *attested, const struct steep_config *config,
                        const struct steep_service_endpoint *endpoints, size_t n,
                        const sigset_t *stop, int grace_ms);

/*
 * The whole main() of a service whose state lives elsewhere: begin, open the
 * attested identity (enclave_info name, e.g. "teaclave_frontend_service"),
 * run serve() until it returns, log its error, free everything. Returns the
 * process exit status.
 */
typedef int (*steep_service_serve_fn)(struct steep_config *config, struct steep_attested *attested,
                                      const sigset_t *stop);
int steep_service_main(int argc, char **argv, const char *name, const char *enclave_name,
                       steep_service_serve_fn serve);

#endif
