/*
 * steep-frontend: serves TeaclaveFrontend on the public API endpoint
 * ([api_endpoints] frontend.listen_address, one-way attested TLS) and runs
 * every request through the pipeline of frontend.h against the
 * authentication (internal), access-control and management services, each
 * reached over one multiplexed client pinned to that service's attested
 * identity ([internal_endpoints] <name>.advertised_address).
 *
 * Steep keys: [frontend] workers (handler threads, default 64),
 * backend_timeout_ms (5000), management_timeout_ms (30000),
 * audit_timeout_ms (5000). Stops on SIGTERM/SIGINT.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "frontend.h"
#include "rpc/rpc.h"
#include "tee/attested.h"

struct backend {
    enum steep_endpoint endpoint;
    const char *service_name;
    struct steep_rpc_client *client;
};

static int usage(void)
{
    fprintf(stderr, "usage: steep-frontend --config FILE\n");
    return 2;
}

static void block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

static int connect_backend(const struct steep_config *config, struct steep_attested *attested,
                           struct backend *b)
{
    char address[256];
    const char *advertised = config->internal[b->endpoint].advertised_address;
    GUARD(steep_config_connect_address(advertised, address, sizeof address));
    struct steep_rpc_client_config client_config = {.address = address};
    GUARD(steep_attested_client_tls(attested, b->service_name, &client_config.tls));
    b->client = steep_rpc_client_new(&client_config);
    ENSURE(b->client, "client for %s: %s", b->service_name, steep_error_get());
    log_info("%s at %s", b->service_name, advertised);
    return 0;
}

static int serve(const struct steep_config *config, struct steep_frontend *frontend,
                 struct steep_attested *attested, const sigset_t *stop)
{
    struct steep_rpc_server_config server_config = {
        .listen = config->api_frontend_listen,
        .workers = (int)steep_config_get_int(config, "frontend.workers", 64),
        .name = "frontend",
    };
    GUARD(steep_attested_server_tls(attested, NULL, 0, &server_config.tls));
    GUARD(steep_config_check(config));
    struct steep_rpc_server *server = steep_rpc_server_new(&server_config);
    ENSURE(server, "%s", steep_error_get());
    if (steep_frontend_register(server, frontend) < 0 || steep_rpc_server_start(server) < 0) {
        steep_rpc_server_free(server);
        return -1;
    }
    log_info("serving on %s (port %d)", server_config.listen, steep_rpc_server_port(server));
    int signal_number = 0;
    sigwait(stop, &signal_number);
    log_info("stopping on signal %d", signal_number);
    steep_rpc_server_stop(server, 2000);
    steep_rpc_server_free(server);
    return 0;
}

static int run(const struct steep_config *config, struct steep_attested *attested,
               const sigset_t *stop)
{
    struct backend backends[3] = {
        {STEEP_ENDPOINT_AUTHENTICATION, "teaclave_authentication_service", NULL},
        {STEEP_ENDPOINT_ACCESS_CONTROL, "teaclave_access_control_service", NULL},
        {STEEP_ENDPOINT_MANAGEMENT, "teaclave_management_service", NULL},
    };
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = connect_backend(config, attested, &backends[i]);
    struct steep_frontend *frontend = NULL;
    if (rc == 0) {
        struct steep_frontend_backends clients = {backends[0].client, backends[1].client,
                                                  backends[2].client};
        struct steep_frontend_options options = {
            .backend_timeout_ms =
                (int)steep_config_get_int(config, "frontend.backend_timeout_ms", 5000),
            .management_timeout_ms =
                (int)steep_config_get_int(config, "frontend.management_timeout_ms", 30000),
            .audit_timeout_ms =
                (int)steep_config_get_int(config, "frontend.audit_timeout_ms", 5000),
        };
        frontend = steep_frontend_new(&clients, &options);
        if (!frontend)
            rc = steep_error_set("cannot start the frontend (out of memory or threads)");
    }
    if (rc == 0)
        rc = serve(config, frontend, attested, stop);
    steep_frontend_free(frontend);
    for (int i = 0; i < 3; i++)
        steep_rpc_client_free(backends[i].client);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--config") != 0)
        return usage();
    steep_log_init("frontend");
    sigset_t stop;
    block_stop_signals(&stop);
    struct steep_config *config = NULL;
    if (steep_config_load(argv[2], &config) < 0) {
        log_error("%s", steep_error_get());
        return 1;
    }
    int rc = 1;
    struct steep_attested *attested =
        steep_attested_open_from_config(config, "teaclave_frontend_service");
    if (!attested)
        log_error("attestation: %s", steep_error_get());
    else if (run(config, attested, &stop) < 0)
        log_error("%s", steep_error_get());
    else
        rc = 0;
    steep_attested_free(attested);
    steep_config_free(config);
    return rc;
}
