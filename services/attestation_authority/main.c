/*
 * steep-attestation-authority: verifies services' hardware evidence
 * (SGX DCAP, TDX, SEV-SNP) against Intel/AMD collateral and answers with
 * IAS-v4-format reports signed by the authority's key (authority_service.h).
 * Listens on [attestation_authority] listen_address over TLS with its
 * report-signing certificate. Stops on SIGTERM/SIGINT.
 */
#include "authority_service.h"

#include <signal.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "rpc/rpc.h"
#include "service/notify.h"
#include "service/service.h"

#define STEEP_AA_DEFAULT_LISTEN "0.0.0.0:17800"

int main(int argc, char **argv)
{
    sigset_t stop;
    struct steep_config *config = NULL;
    int rc = steep_service_begin(argc, argv, "attestation_authority", &stop, &config);
    if (rc)
        return rc;
    rc = 1;
    struct steep_aa *aa = steep_aa_open_from_config(config);
    struct steep_rpc_server *server = NULL;
    size_t max_message = 0;
    struct steep_rpc_server_config server_config = {
        .listen = steep_config_get_string(config, "attestation_authority.listen_address",
                                          STEEP_AA_DEFAULT_LISTEN),
        .name = "attestation_authority",
        .workers = (int)steep_config_get_int(config, "attestation_authority.workers", 0),
    };
    if (!aa)
        log_error("%s", steep_error_get());
    else if (steep_service_max_message(config, &max_message) < 0 ||
             steep_service_rpc_limits(config, max_message, &server_config) < 0)
        log_error("%s", steep_error_get());
    else {
        server_config.max_message = max_message;
        steep_aa_server_tls(aa, &server_config.tls);
        server = steep_rpc_server_new(&server_config);
        if (!server || steep_aa_register(server, aa) < 0 || steep_rpc_server_start(server) < 0)
            log_error("%s", steep_error_get());
        else {
            log_info("attestation authority listening on %s (port %d)", server_config.listen,
                     steep_rpc_server_port(server));
            steep_service_notify_ready("endorsing hardware evidence");
            steep_service_wait(&stop);
            steep_service_notify_stopping();
            steep_rpc_server_stop(server, 2000);
            rc = 0;
        }
    }
    steep_rpc_server_free(server);
    steep_aa_free(aa);
    steep_config_free(config);
    return rc;
}
