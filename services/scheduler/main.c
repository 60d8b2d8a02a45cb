/*
 * steep-scheduler: the queue of staged tasks and the execution slots.
 * Serves [internal_endpoints] scheduler.listen_address with mutual
 * attestation to execution and management, keeps its state in the storage
 * service (task records and the staged index), reconciles with it at start,
 * and stops on SIGTERM/SIGINT. Keys: [scheduler] executor_timeout_secs (30),
 * backstop_scan_ms (5000), workers (handler threads; long polls hold one
 * each, default 128).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "rpc/rpc.h"
#include "scheduler.h"
#include "service.h"
#include "service/service.h"
#include "store/store_client.h"
#include "tee/attested.h"

static const char *const inbound[] = {"teaclave_execution_service", "teaclave_management_service"};

static struct steep_store_client *storage_client(struct steep_config *config,
                                                 struct steep_attested *attested)
{
    char address[256];
    size_t max_message;
    if (steep_service_max_message(config, &max_message) < 0)
        return NULL;
    struct steep_store_client_config client_config = {
        .address = address, .max_message = steep_rpc_internal_max_message(max_message)};
    if (steep_config_connect_address(config->internal[STEEP_ENDPOINT_STORAGE].advertised_address,
                                     address, sizeof address) < 0 ||
        steep_attested_client_tls(attested, "teaclave_storage_service", &client_config.tls) < 0)
        return NULL;
    return steep_store_client_new(&client_config);
}

static int add_methods(struct steep_rpc_server *server, void *scheduler)
{
    return steep_scheduler_register(server, scheduler);
}

static int serve(struct steep_config *config, struct steep_attested *attested, const sigset_t *stop)
{
    struct steep_scheduler_config scheduler_config = {
        .executor_timeout_ms =
            (int)steep_config_get_int(config, "scheduler.executor_timeout_secs", 30) * 1000,
        .backstop_ms = (int)steep_config_get_int(config, "scheduler.backstop_scan_ms", 5000),
    };
    ENSURE(scheduler_config.executor_timeout_ms > 0, "scheduler.executor_timeout_secs must be > 0");
    struct steep_store_client *client = storage_client(config, attested);
    ENSURE(client != NULL, "storage client: %s", steep_error_get());
    struct steep_kv store = steep_kv_over_client(client);
    struct steep_scheduler *scheduler = steep_scheduler_new(&store, &scheduler_config);
    int rc = scheduler && steep_scheduler_start(scheduler) == 0 ? 0 : -1;
    if (rc == 0) {
        log_info("executor timeout %d s", scheduler_config.executor_timeout_ms / 1000);
        struct steep_service_endpoint endpoint = {
            .listen = config->internal[STEEP_ENDPOINT_SCHEDULER].listen_address,
            .name = "scheduler",
            .workers = (int)steep_config_get_int(config, "scheduler.workers", 128),
            .inbound = inbound,
            .n_inbound = 2,
            .add_methods = add_methods,
            .arg = scheduler,
        };
        /* A stop cancels the waiting PullTasks (steep_rpc_call_cancelled). */
        rc = steep_service_serve(attested, config, &endpoint, 1, stop, 2000);
    }
    steep_scheduler_free(scheduler);
    steep_store_client_free(client);
    return rc;
}

int main(int argc, char **argv)
{
    return steep_service_main(argc, argv, "scheduler", "teaclave_scheduler_service", serve);
}
