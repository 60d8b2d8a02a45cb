/* The common life of a service process; see service.h. */
#include "service/service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "service/notify.h"
#include "steep_version.h"

#define MAX_ENDPOINTS 4
#define MIN_MESSAGE   (64 * 1024)
#define MAX_MESSAGE   (64 * 1024 * 1024)

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
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    if (steep_config_load(argv[2], config) < 0) {
        log_error("%s", steep_error_get());
        return 1;
    }
    return 0;
}

struct steep_rpc_client *steep_service_connect(const struct steep_config *config,
                                               struct steep_attested *attested,
                                               enum steep_endpoint endpoint,
                                               const char *service_name)
{
    char address[256];
    const char *advertised = config->internal[endpoint].advertised_address;
    GUARD_PTR(steep_config_connect_address(advertised, address, sizeof address));
    size_t max_message;
    GUARD_PTR(steep_service_max_message(config, &max_message));
    struct steep_rpc_client_config client_config = {
        .address = address, .max_message = steep_rpc_internal_max_message(max_message)};
    GUARD_PTR(steep_attested_client_tls(attested, service_name, &client_config.tls));
    struct steep_rpc_client *client = steep_rpc_client_new(&client_config);
    if (!client) {
        steep_error_wrap("client for %s", service_name);
        return NULL;
    }
    log_info("%s at %s", service_name, advertised);
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
    GUARD(steep_config_check(config));
    size_t max_message;
    GUARD(steep_service_max_message(config, &max_message));
    struct steep_rpc_server *servers[MAX_ENDPOINTS];
    size_t started = 0;
    for (; started < n; started++) {
        const struct steep_service_endpoint *e = &endpoints[started];
        /* Internal endpoints (attested peers) carry clients' messages inside
         * theirs; responses carry them back (GetTask: arguments and result). */
        struct steep_rpc_server_config server_config = {
            .listen = e->listen,
            .workers = e->workers,
            .name = e->name,
            .max_message = e->n_inbound ? steep_rpc_internal_max_message(max_message) : max_message,
            .max_response = steep_rpc_internal_max_message(max_message)};
        struct steep_rpc_server *server = NULL;
        int rc = steep_attested_server_tls(attested, e->inbound, e->n_inbound, &server_config.tls);
        if (rc == 0 && !(server = steep_rpc_server_new(&server_config)))
            rc = -1;
        if (rc == 0 && (e->add_methods(server, e->arg) < 0 || steep_rpc_server_start(server) < 0))
            rc = -1;
        if (rc < 0) {
            steep_error_wrap("%s endpoint", e->name);
            if (server)
                steep_rpc_server_free(server);
            stop_all(servers, started, 0);
            return -1;
        }
        servers[started] = server;
        log_info("serving %s on %s (port %d)", e->name, e->listen, steep_rpc_server_port(server));
    }
    steep_service_notify_ready(endpoints[0].name);
    steep_service_wait(stop);
    steep_service_notify_stopping();
    stop_all(servers, started, grace_ms);
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
