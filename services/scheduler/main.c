/*
 * steep-scheduler: the queue of staged tasks and the execution slots.
 * Serves [internal_endpoints] scheduler.listen_address with mutual
 * attestation to execution and management, keeps its state in the storage
 * service (task records and the staged index), reconciles with it at start,
 * and stops on SIGTERM/SIGINT. Keys: [scheduler] executor_timeout_secs (30),
 * backstop_scan_ms (5000), workers (handler threads; long polls hold one
 * each, default 128).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "rpc/rpc.h"
#include "scheduler.h"
#include "service.h"
#include "store/store_client.h"
#include "tee/attested.h"

static const char *const inbound[] = {"teaclave_execution_service", "teaclave_management_service"};

static int usage(void)
{
    fprintf(stderr, "usage: steep-scheduler --config FILE\n");
    return 2;
}

static struct steep_store_client *storage_client(struct steep_config *config,
                                                 struct steep_attested *attested)
{
    char address[256];
    struct steep_store_client_config client_config = {.address = address};
    if (steep_config_connect_address(config->internal[STEEP_ENDPOINT_STORAGE].advertised_address,
                                     address, sizeof address) < 0 ||
        steep_attested_client_tls(attested, "teaclave_storage_service", &client_config.tls) < 0)
        return NULL;
    return steep_store_client_new(&client_config);
}

static int serve(struct steep_config *config, struct steep_attested *attested, const sigset_t *stop)
{
    struct steep_scheduler_config scheduler_config = {
        .executor_timeout_ms =
            (int)steep_config_get_int(config, "scheduler.executor_timeout_secs", 30) * 1000,
        .backstop_ms = (int)steep_config_get_int(config, "scheduler.backstop_scan_ms", 5000),
    };
    struct steep_rpc_server_config server_config = {
        .listen = config->internal[STEEP_ENDPOINT_SCHEDULER].listen_address,
        .workers = (int)steep_config_get_int(config, "scheduler.workers", 128),
        .name = "scheduler",
    };
    GUARD(steep_config_check(config));
    ENSURE(scheduler_config.executor_timeout_ms > 0, "scheduler.executor_timeout_secs must be > 0");
    GUARD(steep_attested_server_tls(attested, inbound, 2, &server_config.tls));
    struct steep_store_client *client = storage_client(config, attested);
    ENSURE(client != NULL, "storage client: %s", steep_error_get());
    struct steep_scheduler_store store = steep_scheduler_store_over_client(client);
    struct steep_scheduler *scheduler = steep_scheduler_new(&store, &scheduler_config);
    struct steep_rpc_server *server = scheduler ? steep_rpc_server_new(&server_config) : NULL;
    int rc = -1;
    if (server && steep_scheduler_start(scheduler) == 0 &&
        steep_scheduler_register(server, scheduler) == 0 && steep_rpc_server_start(server) == 0) {
        log_info("serving on %s (port %d), executor timeout %d s", server_config.listen,
                 steep_rpc_server_port(server), scheduler_config.executor_timeout_ms / 1000);
        int signal_number = 0;
        sigwait(stop, &signal_number);
        log_info("stopping on signal %d", signal_number);
        rc = 0;
    }
    if (server)
        steep_rpc_server_stop(server, 2000);
    steep_scheduler_free(scheduler); /* wakes waiting PullTasks first */
    steep_rpc_server_free(server);
    steep_store_client_free(client);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--config") != 0)
        return usage();
    steep_log_init("scheduler");
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct steep_config *config = NULL;
    if (steep_config_load(argv[2], &config) < 0) {
        log_error("%s", steep_error_get());
        return 1;
    }
    int rc = 1;
    struct steep_attested *attested =
        steep_attested_open_from_config(config, "teaclave_scheduler_service");
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
