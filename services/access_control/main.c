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
#include "service/service.h"
#include "tee/attested.h"

#include <signal.h>

static const char *const inbound[] = {"teaclave_frontend_service", "teaclave_management_service"};

static int add_methods(struct steep_rpc_server *server, void *policy)
{
    return steep_access_control_register(server, policy);
}

int main(int argc, char **argv)
{
    sigset_t stop;
    struct steep_config *config = NULL;
    int rc = steep_service_begin(argc, argv, "access_control", &stop, &config);
    if (rc)
        return rc;
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
    rc = 1;
    struct steep_attested *attested =
        steep_attested_open_from_config(config, "teaclave_access_control_service");
    struct steep_service_endpoint endpoint = {
        .listen = config->internal[STEEP_ENDPOINT_ACCESS_CONTROL].listen_address,
        .name = "access_control",
        .workers = (int)steep_config_get_int(config, "access_control.workers", 0),
        .inbound = inbound,
        .n_inbound = 2,
        .add_methods = add_methods,
        .arg = policy,
    };
    if (!attested)
        log_error("attestation: %s", steep_error_get());
    else if (steep_service_serve(attested, config, &endpoint, 1, &stop, 2000) < 0)
        log_error("%s", steep_error_get());
    else
        rc = 0;
    steep_attested_free(attested);
    steep_policy_free(policy);
    steep_config_free(config);
    return rc;
}
