/*
 * steep-access-control: loads every *.policy file of the policy directory
 * ([access_control] policy_dir, default "policies" next to the config
 * file), refuses to start on any policy error (printing file:line:column),
 * and serves AuthorizeApi and Authorize on the internal endpoint
 * ([internal_endpoints] access_control.listen_address) to the attested
 * frontend and management only. Stops on SIGTERM/SIGINT.
 */
#include "access_control/handlers.h"

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "policy/policy.h"
#include "rpc/rpc.h"
#include "tee/attested.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char *const inbound[] = {"teaclave_frontend_service", "teaclave_management_service"};

static int usage(void)
{
    fprintf(stderr, "usage: steep-access-control --config FILE\n");
    return 2;
}

static void block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

static int serve(struct steep_config *config, const struct steep_policy *policy,
                 struct steep_attested *attested, const sigset_t *stop)
{
    struct steep_rpc_server_config server_config = {
        .listen = config->internal[STEEP_ENDPOINT_ACCESS_CONTROL].listen_address,
        .workers = (int)steep_config_get_int(config, "access_control.workers", 0),
        .name = "access_control",
    };
    GUARD(steep_attested_server_tls(attested, inbound, 2, &server_config.tls));
    GUARD(steep_config_check(config));
    struct steep_rpc_server *server = steep_rpc_server_new(&server_config);
    ENSURE(server != NULL, "%s", steep_error_get());
    if (steep_access_control_register(server, policy) < 0 || steep_rpc_server_start(server) < 0) {
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

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--config") != 0)
        return usage();
    steep_log_init("access_control");
    sigset_t stop;
    block_stop_signals(&stop);
    struct steep_config *config = NULL;
    if (steep_config_load(argv[2], &config) < 0) {
        log_error("%s", steep_error_get());
        return 1;
    }
    const char *dir = steep_config_get_path(config, "access_control.policy_dir", "policies");
    struct steep_policy *policy = dir ? steep_policy_load_dir(dir) : NULL;
    if (!policy) {
        log_error("policy not loaded: %s", steep_error_get());
        steep_config_free(config);
        return 1;
    }
    if (!steep_policy_has_request(policy, "user_access_api"))
        log_warn("no request 'user_access_api' in %s: AuthorizeApi will deny everything", dir);
    log_info("policy loaded from %s", dir);
    int rc = 1;
    struct steep_attested *attested =
        steep_attested_open_from_config(config, "teaclave_access_control_service");
    if (!attested)
        log_error("attestation: %s", steep_error_get());
    else if (serve(config, policy, attested, &stop) < 0)
        log_error("%s", steep_error_get());
    else
        rc = 0;
    steep_attested_free(attested);
    steep_policy_free(policy);
    steep_config_free(config);
    return rc;
}
