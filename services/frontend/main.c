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
 * audit_timeout_ms (5000), audit_auth_failures_per_window (20) and
 * audit_auth_failure_window_secs (60): failed authentications audited one
 * by one per window, the rest counted into one summary entry
 * (auth_audit.h), max_holds_per_user (64) and max_holds (256): GetTask
 * calls held at once (steep-wait-ms). Stops on SIGTERM/SIGINT.
 */
#include <signal.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "frontend.h"
#include "rpc/rpc.h"
#include "service/service.h"
#include "tee/attested.h"

struct backend {
    enum steep_endpoint endpoint;
    const char *service_name;
    struct steep_rpc_client *client;
};

static int add_methods(struct steep_rpc_server *server, void *frontend)
{
    return steep_frontend_register(server, frontend);
}

static int serve(const struct steep_config *config, struct steep_frontend *frontend,
                 struct steep_attested *attested, const sigset_t *stop)
{
    struct steep_service_endpoint endpoint = {
        .listen = config->api_frontend_listen,
        .name = "frontend",
        .workers = (int)steep_config_get_int(config, "frontend.workers", 64),
        .add_methods = add_methods,
        .arg = frontend,
    };
    return steep_service_serve(attested, config, &endpoint, 1, stop, 2000);
}

static int run(struct steep_config *config, struct steep_attested *attested, const sigset_t *stop)
{
    struct backend backends[3] = {
        {STEEP_ENDPOINT_AUTHENTICATION, "teaclave_authentication_service", NULL},
        {STEEP_ENDPOINT_ACCESS_CONTROL, "teaclave_access_control_service", NULL},
        {STEEP_ENDPOINT_MANAGEMENT, "teaclave_management_service", NULL},
    };
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        backends[i].client =
            steep_service_connect(config, attested, backends[i].endpoint, backends[i].service_name);
        rc = backends[i].client ? 0 : -1;
    }
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
            .audit_auth_failures_per_window =
                (int)steep_config_get_int(config, "frontend.audit_auth_failures_per_window", 20),
            .audit_auth_failure_window_ms =
                (int)steep_config_get_int(config, "frontend.audit_auth_failure_window_secs", 60) *
                1000,
            .max_holds_per_user = (int)steep_config_get_int(
                config, "frontend.max_holds_per_user", STEEP_FRONTEND_MAX_HOLDS_PER_USER_DEFAULT),
            .max_holds = (int)steep_config_get_int(config, "frontend.max_holds",
                                                   STEEP_FRONTEND_MAX_HOLDS_DEFAULT),
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
    return steep_service_main(argc, argv, "frontend", "teaclave_frontend_service", run);
}
