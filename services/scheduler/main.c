/*
 * steep-scheduler: the queue of staged tasks and the execution slots.
 * Serves [internal_endpoints] scheduler.listen_address with mutual
 * attestation to execution and management, keeps its state in the storage
 * service (task records and the staged index), reconciles with it at start,
 * and stops on SIGTERM/SIGINT. Keys: [scheduler] executor_timeout_secs (30),
 * backstop_scan_ms (5000), workers (handler threads; long polls hold one
 * each, default 128), leader_lease_secs (3), durable_start (default: on
 * with the etcd back-end; scheduler.h).
 *
 * Replicas (issue 17 item 3): on [storage] backend = "etcd" every
 * scheduler process campaigns for the key <storage.etcd_prefix>scheduler/
 * leader through an etcd lease of leader_lease_secs (store/etcd_election.h).
 * Only the leader has a core (its start-up reconcile scan, the sweeper, the
 * queue); a follower answers every call UNAVAILABLE, so that execution
 * nodes and management, which list every replica
 * ([internal_endpoints] scheduler.replica_addresses), move on to the
 * leader. A replica that becomes the leader builds a fresh core, whose
 * scan finds the tasks the previous leader left; one that loses the
 * leadership (etcd out of reach) retires its core (no more writes of its
 * own) before etcd can hand the key to another, and campaigns again.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "rpc/rpc.h"
#include "scheduler.h"
#include "service.h"
#include "service/service.h"
#include "store/etcd_election.h"
#include "store/store.h"
#include "store/store_client.h"
#include "tee/attested.h"

static const char *const inbound[] = {"teaclave_execution_service", "teaclave_management_service"};

static struct steep_store_client *storage_client(struct steep_config *config,
                                                 struct steep_attested *attested)
{
    char address[1024];
    size_t max_message;
    if (steep_service_max_message(config, &max_message) < 0)
        return NULL;
    struct steep_store_client_config client_config = {
        .address = address, .max_message = steep_rpc_internal_max_message(max_message)};
    if (steep_config_peer_address(config, STEEP_ENDPOINT_STORAGE, address, sizeof address) < 0 ||
        steep_attested_client_tls(attested, "teaclave_storage_service", &client_config.tls) < 0)
        return NULL;
    return steep_store_client_new(&client_config);
}

static int add_methods(struct steep_rpc_server *server, void *gate)
{
    return steep_scheduler_register(server, gate);
}

struct leadership {
    struct steep_etcd_election *election;
    struct steep_scheduler_gate *gate;
    struct steep_kv store;
    struct steep_scheduler_config config;
    struct steep_scheduler *core; /* the leader's; the leadership thread's */
    atomic_bool stopping;
    pthread_t thread;
};

static void step_down(struct leadership *l)
{
    steep_scheduler_gate_swap(l->gate, NULL);
    steep_scheduler_retire(l->core);
    steep_scheduler_gate_drain(l->gate);
    steep_scheduler_free(l->core);
    l->core = NULL;
}

#define LEADERSHIP_POLL_US 50000

static void *follow_leadership(void *arg)
{
    struct leadership *l = arg;
    while (!atomic_load(&l->stopping)) {
        bool leader = steep_etcd_election_is_leader(l->election);
        if (leader && !l->core) {
            int64_t term = steep_etcd_election_term(l->election);
            struct steep_scheduler *core = steep_scheduler_new(&l->store, &l->config);
            if (core && steep_scheduler_start(core) == 0 &&
                steep_etcd_election_term(l->election) == term && term != 0) {
                l->core = core;
                steep_scheduler_gate_swap(l->gate, core);
                log_info("scheduler: leading (term %lld): serving execution nodes",
                         (long long)term);
            } else {
                log_warn("scheduler: could not take over as the leader: %s",
                         core ? "leadership lost during the start-up scan" : steep_error_get());
                steep_scheduler_free(core);
            }
        } else if (!leader && l->core) {
            log_warn("scheduler: no longer the leader: retiring this core");
            step_down(l);
        }
        usleep(LEADERSHIP_POLL_US);
    }
    if (l->core)
        step_down(l);
    return NULL;
}

static int start_leadership(struct steep_config *config, struct leadership *l)
{
    struct steep_etcd_config etcd;
    GUARD(steep_store_configured_etcd_settings(config, &etcd));
    int64_t ttl = steep_config_get_int(config, "scheduler.leader_lease_secs", 3);
    ENSURE(ttl >= 2 && ttl <= 600, "[scheduler] leader_lease_secs must be 2..600");
    char key[512], id[512], host[128] = "";
    const char *base = steep_config_get_string(config, "storage.etcd_prefix", "steep/");
    ENSURE((size_t)snprintf(key, sizeof key, "%sscheduler/leader", base) < sizeof key,
           "[storage] etcd_prefix is too long");
    gethostname(host, sizeof host - 1);
    snprintf(id, sizeof id, "%s pid %d %s", host, (int)getpid(),
             config->internal[STEEP_ENDPOINT_SCHEDULER].listen_address);
    GUARD(steep_etcd_election_start(&etcd, key, id, (int)ttl, &l->election));
    log_info("scheduler: replica %s campaigns for %s (lease %lld s)", id, key, (long long)ttl);
    if (pthread_create(&l->thread, NULL, follow_leadership, l) != 0) {
        steep_etcd_election_stop(l->election);
        l->election = NULL;
        return steep_error_set("cannot start the leadership thread");
    }
    return 0;
}

static int serve(struct steep_config *config, struct steep_attested *attested, const sigset_t *stop)
{
    struct steep_scheduler_config scheduler_config = {
        .executor_timeout_ms =
            (int)steep_config_get_int(config, "scheduler.executor_timeout_secs", 30) * 1000,
        .backstop_ms = (int)steep_config_get_int(config, "scheduler.backstop_scan_ms", 5000),
        .durable_start = steep_config_get_bool(config, "scheduler.durable_start",
                                               steep_store_configured_etcd(config)),
    };
    ENSURE(scheduler_config.executor_timeout_ms > 0, "scheduler.executor_timeout_secs must be > 0");
    struct steep_store_client *client = storage_client(config, attested);
    ENSURE(client != NULL, "storage client: %s", steep_error_get());
    struct steep_kv store = steep_kv_over_client(client);
    struct leadership leadership = {.store = store, .config = scheduler_config};
    struct steep_scheduler *scheduler = NULL;
    struct steep_scheduler_gate *gate = NULL;
    int rc;
    if (steep_store_configured_etcd(config)) {
        /* Replicas: the core is the leader's (follow_leadership). */
        gate = leadership.gate = steep_scheduler_gate_new(NULL);
        rc = gate && start_leadership(config, &leadership) == 0 ? 0 : -1;
    } else {
        scheduler = steep_scheduler_new(&store, &scheduler_config);
        rc = scheduler && steep_scheduler_start(scheduler) == 0 ? 0 : -1;
        if (rc == 0 && !(gate = steep_scheduler_gate_new(scheduler)))
            rc = -1;
    }
    if (rc == 0) {
        log_info("executor timeout %d s, durable starts %s",
                 scheduler_config.executor_timeout_ms / 1000,
                 scheduler_config.durable_start ? "on" : "off");
        struct steep_service_endpoint endpoint = {
            .listen = config->internal[STEEP_ENDPOINT_SCHEDULER].listen_address,
            .name = "scheduler",
            .workers = (int)steep_config_get_int(config, "scheduler.workers", 128),
            .inbound = inbound,
            .n_inbound = 2,
            .add_methods = add_methods,
            .arg = gate,
        };
        /* A stop cancels the waiting PullTasks (steep_rpc_call_cancelled). */
        rc = steep_service_serve(attested, config, &endpoint, 1, stop, 2000);
    }
    if (leadership.election) {
        atomic_store(&leadership.stopping, true);
        pthread_join(leadership.thread, NULL);
        /* Resigns: the lease is revoked, a successor takes over at once. */
        steep_etcd_election_stop(leadership.election);
    }
    steep_scheduler_gate_free(gate);
    steep_scheduler_free(scheduler);
    steep_store_client_free(client);
    return rc;
}

int main(int argc, char **argv)
{
    return steep_service_main(argc, argv, "scheduler", "teaclave_scheduler_service", serve);
}
