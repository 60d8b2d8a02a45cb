/* The common life of a service process; see service.h. */
#include "service/service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/health.h"
#include "service/notify.h"
#include "service/ops.h"
#include "steep_version.h"

#define MAX_ENDPOINTS 4
#define MIN_MESSAGE   (64 * 1024)
#define MAX_MESSAGE   (64 * 1024 * 1024)

/* The name steep_service_begin was given ("storage"), for health and the
 * admin port. */
static char service_name[48] = "";

int steep_service_max_message(const struct steep_config *config, size_t *max_message)
{
    int64_t limit =
        steep_config_get_int(config, "rpc.max_message_bytes", STEEP_RPC_DEFAULT_MAX_MESSAGE);
    ENSURE(limit >= MIN_MESSAGE && limit <= MAX_MESSAGE,
           "[rpc] max_message_bytes must be %d..%d, not %lld", MIN_MESSAGE, MAX_MESSAGE,
           (long long)limit);
    *max_message = (size_t)limit;
    return 0;
}

/* One [rpc] bound: 0 (the key absent) keeps the RPC layer's default. */
static int rpc_bound(const struct steep_config *config, const char *key, int64_t max,
                     int64_t *value)
{
    *value = steep_config_get_int(config, key, 0);
    ENSURE(*value >= 0 && *value <= max, "[rpc] %s must be 0..%lld, not %lld", key + 4,
           (long long)max, (long long)*value);
    return 0;
}

/* A byte bound no smaller than twice the endpoint's message limit, so a
 * whole message always fits. */
static size_t byte_bound(int64_t value, size_t max_message)
{
    return value == 0 ? 0 : (size_t)value > 2 * max_message ? (size_t)value : 2 * max_message;
}

int steep_service_rpc_limits(const struct steep_config *config, size_t max_message,
                             struct steep_rpc_server_config *server)
{
    const int64_t big = INT64_C(1) << 40, count = 1000000, ms = 24 * 3600 * 1000;
    int64_t v;
    GUARD(rpc_bound(config, "rpc.max_workers", 100000, &v));
    server->max_workers = (int)v;
    GUARD(rpc_bound(config, "rpc.max_queued_calls", count, &v));
    server->max_queued = (int)v;
    GUARD(rpc_bound(config, "rpc.max_buffered_bytes", big, &v));
    server->max_buffered = byte_bound(v, max_message);
    GUARD(rpc_bound(config, "rpc.max_connection_buffered_bytes", big, &v));
    server->max_connection_buffered = byte_bound(v, max_message);
    GUARD(rpc_bound(config, "rpc.receive_timeout_ms", ms, &v));
    server->receive_timeout_ms = (int)v;
    GUARD(rpc_bound(config, "rpc.idle_timeout_ms", ms, &v));
    server->idle_timeout_ms = (int)v;
    GUARD(rpc_bound(config, "rpc.handshake_timeout_ms", ms, &v));
    server->handshake_timeout_ms = (int)v;
    GUARD(rpc_bound(config, "rpc.max_connections", count, &v));
    server->max_connections = (int)v;
    GUARD(rpc_bound(config, "rpc.max_connections_per_source", count, &v));
    server->max_connections_per_source = (int)v;
    GUARD(rpc_bound(config, "rpc.max_unsent_bytes", big, &v));
    server->max_unsent = byte_bound(v, max_message);
    GUARD(rpc_bound(config, "rpc.max_connection_unsent_bytes", big, &v));
    server->max_connection_unsent = byte_bound(v, max_message);
    GUARD(rpc_bound(config, "rpc.send_timeout_ms", ms, &v));
    server->send_timeout_ms = (int)v;
    return 0;
}

int steep_service_harden(void)
{
    /* Every service holds sealing keys in memory, and authentication holds
     * passwords and tokens: a core dump would write them to disk for anyone
     * who can read it. Not dumpable also keeps other processes of the same
     * user from ptrace-attaching or reading /proc/PID/mem. */
    struct rlimit none = {0, 0};
    ENSURE(setrlimit(RLIMIT_CORE, &none) == 0, "cannot disable core dumps: %m");
    ENSURE(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, "cannot make the process undumpable: %m");
    /* Logs, LevelDB files and sealed keys are the platform's own. */
    umask(077);
    return 0;
}

int steep_service_begin(int argc, char **argv, const char *name, sigset_t *stop,
                        struct steep_config **config)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        /* Answered before the config, logs or signals are touched, and the
         * process ends here: callers treat a non-zero return as an error. */
        printf("steep-");
        for (const char *c = name; *c; c++)
            putchar(*c == '_' ? '-' : *c); /* the executable's name */
        printf(" %s\n", STEEP_VERSION);
        exit(0);
    }
    if (argc != 3 || strcmp(argv[1], "--config") != 0) {
        fprintf(stderr, "usage: steep-%s --config FILE | --version\n", name);
        return 2;
    }
    steep_log_init(name);
    snprintf(service_name, sizeof service_name, "%s", name);
    if (steep_service_harden() < 0) {
        log_error("%s", steep_error_get());
        return 1;
    }
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    if (steep_config_load(argv[2], config) < 0 || steep_service_log_format(*config) < 0) {
        log_error("%s", steep_error_get());
        return 1;
    }
    return 0;
}

int steep_service_log_format(const struct steep_config *config)
{
    const char *format = steep_config_get_string(config, "log.format", "text");
    if (!strcmp(format, "json"))
        steep_log_set_format(STEEP_LOG_JSON);
    else
        ENSURE(!strcmp(format, "text"), "[log] format must be \"text\" or \"json\", not \"%.40s\"",
               format);
    return 0;
}

struct steep_rpc_client *steep_service_connect(const struct steep_config *config,
                                               struct steep_attested *attested,
                                               enum steep_endpoint endpoint,
                                               const char *service_name)
{
    char address[1024];
    GUARD_PTR(steep_config_peer_address(config, endpoint, address, sizeof address));
    size_t max_message;
    GUARD_PTR(steep_service_max_message(config, &max_message));
    int64_t max_pending;
    GUARD_PTR(rpc_bound(config, "rpc.client_max_pending_calls", 1000000, &max_pending));
    struct steep_rpc_client_config client_config = {.address = address,
                                                    .max_message =
                                                        steep_rpc_internal_max_message(max_message),
                                                    .max_pending = (int)max_pending};
    GUARD_PTR(steep_attested_client_tls(attested, service_name, &client_config.tls));
    struct steep_rpc_client *client = steep_rpc_client_new(&client_config);
    if (!client) {
        steep_error_wrap("client for %s", service_name);
        return NULL;
    }
    log_info("%s at %s", service_name, address);
    return client;
}

int steep_service_wait(const sigset_t *stop)
{
    int signal_number = 0;
    sigwait(stop, &signal_number);
    log_info("stopping on signal %d", signal_number);
    return signal_number;
}

static void stop_all(struct steep_rpc_server **servers, size_t n, int grace_ms)
{
    for (size_t i = 0; i < n; i++)
        steep_rpc_server_stop(servers[i], grace_ms);
    for (size_t i = 0; i < n; i++)
        steep_rpc_server_free(servers[i]);
}

int steep_service_serve(struct steep_attested *attested, const struct steep_config *config,
                        const struct steep_service_endpoint *endpoints, size_t n,
                        const sigset_t *stop, int grace_ms)
{
    ENSURE(n > 0 && n <= MAX_ENDPOINTS, "a service has 1 to %d endpoints", MAX_ENDPOINTS);
    size_t max_message;
    GUARD(steep_service_max_message(config, &max_message));
    struct steep_rpc_server_config limits = {0};
    GUARD(steep_service_rpc_limits(config, steep_rpc_internal_max_message(max_message), &limits));
    GUARD(steep_config_check(config));
    struct steep_rpc_server *servers[MAX_ENDPOINTS];
    /* Health on every endpoint, as the service's own name knows it. */
    char own_name[96];
    snprintf(own_name, sizeof own_name, "teaclave_%s_service", service_name);
    struct steep_service_ops *ops = steep_service_ops_start(config, attested, service_name);
    if (!ops)
        return -1;
    struct steep_rpc_health health[MAX_ENDPOINTS];
    size_t started = 0;
    for (; started < n; started++) {
        const struct steep_service_endpoint *e = &endpoints[started];
        /* Internal endpoints (attested peers) carry clients' messages inside
         * theirs; responses carry them back (GetTask: arguments and result). */
        struct steep_rpc_server_config server_config = limits; /* [rpc] bounds */
        server_config.listen = e->listen;
        server_config.workers = e->workers;
        server_config.name = e->name;
        server_config.max_message =
            e->n_inbound ? steep_rpc_internal_max_message(max_message) : max_message;
        server_config.max_response = steep_rpc_internal_max_message(max_message);
        struct steep_rpc_server *server = NULL;
        int rc = steep_attested_server_tls(attested, e->inbound, e->n_inbound, &server_config.tls);
        if (rc == 0 && !(server = steep_rpc_server_new(&server_config)))
            rc = -1;
        health[started] = (struct steep_rpc_health){own_name, steep_service_ops_serving, ops, NULL};
        if (rc == 0 && (e->add_methods(server, e->arg) < 0 ||
                        steep_rpc_health_add(server, &health[started]) < 0 ||
                        steep_rpc_server_start(server) < 0))
            rc = -1;
        if (rc < 0) {
            steep_error_wrap("%s endpoint", e->name);
            if (server)
                steep_rpc_server_free(server);
            stop_all(servers, started, 0);
            steep_service_ops_stop(ops);
            return -1;
        }
        servers[started] = server;
        log_info("serving %s on %s (port %d)", e->name, e->listen, steep_rpc_server_port(server));
    }
    steep_service_ops_ready(ops);
    steep_service_notify_ready(endpoints[0].name);
    steep_service_wait(stop);
    steep_service_notify_stopping();
    steep_service_ops_stopping(ops);
    stop_all(servers, started, grace_ms);
    steep_service_ops_stop(ops);
    return 0;
}

int steep_service_main(int argc, char **argv, const char *name, const char *enclave_name,
                       steep_service_serve_fn serve)
{
    sigset_t stop;
    struct steep_config *config = NULL;
    int rc = steep_service_begin(argc, argv, name, &stop, &config);
    if (rc)
        return rc;
    rc = 1;
    struct steep_attested *attested = steep_attested_open_from_config(config, enclave_name);
    if (!attested)
        log_error("attestation: %s", steep_error_get());
    else if (serve(config, attested, &stop) < 0)
        log_error("%s", steep_error_get());
    else
        rc = 0;
    steep_attested_free(attested);
    steep_config_free(config);
    return rc;
}
