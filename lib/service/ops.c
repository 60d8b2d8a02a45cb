/*
 * Health prober and admin port of a service (see ops.h). The prober keeps
 * one flag per dependency; checks and /healthz read the flags, so neither
 * ever waits on the network.
 */
#include "service/ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "rpc/health.h"
#include "service/admin_http.h"

#define PROBE_INTERVAL_MS 1000
#define PROBE_TIMEOUT_MS  1000
#define MAX_DEPENDENCIES  3

struct dependency {
    enum steep_endpoint endpoint;
    const char *service_name; /* attested identity, e.g. "teaclave_storage_service" */
};

struct service_row {
    const char *name;
    const char *admin_key; /* the literal key, so the docs test finds it */
    struct dependency dependencies[MAX_DEPENDENCIES];
};

static const struct service_row services[] = {
    {"authentication", "admin.authentication", {{0, NULL}}},
    {"frontend",
     "admin.frontend",
     {{STEEP_ENDPOINT_AUTHENTICATION, "teaclave_authentication_service"},
      {STEEP_ENDPOINT_ACCESS_CONTROL, "teaclave_access_control_service"},
      {STEEP_ENDPOINT_MANAGEMENT, "teaclave_management_service"}}},
    {"management",
     "admin.management",
     {{STEEP_ENDPOINT_STORAGE, "teaclave_storage_service"},
      {STEEP_ENDPOINT_ACCESS_CONTROL, "teaclave_access_control_service"}}},
    {"storage", "admin.storage", {{0, NULL}}},
    {"access_control", "admin.access_control", {{0, NULL}}},
    {"scheduler", "admin.scheduler", {{STEEP_ENDPOINT_STORAGE, "teaclave_storage_service"}}},
    {"execution", "admin.execution", {{STEEP_ENDPOINT_SCHEDULER, "teaclave_scheduler_service"}}},
};

struct probe {
    const struct dependency *dependency;
    struct steep_rpc_client *client;
    atomic_bool up;
    bool ever_probed;
};

struct steep_service_ops {
    const struct service_row *row;
    struct probe probes[MAX_DEPENDENCIES];
    size_t n_probes;
    atomic_bool ready; /* every endpoint listens */
    atomic_bool stopping;
    pthread_t thread;
    bool thread_running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool quit;
    struct steep_admin_http *admin;
};

bool steep_service_ops_serving(void *arg)
{
    struct steep_service_ops *ops = arg;
    if (!atomic_load(&ops->ready) || atomic_load(&ops->stopping))
        return false;
    for (size_t i = 0; i < ops->n_probes; i++)
        if (!atomic_load(&ops->probes[i].up))
            return false;
    return true;
}

static void probe_once(struct probe *p)
{
    enum steep_rpc_health_status serving = STEEP_RPC_HEALTH_UNKNOWN;
    struct steep_rpc_status status;
    bool up = steep_rpc_health_check(p->client, "", PROBE_TIMEOUT_MS, &serving, &status) == 0;
    bool was = atomic_exchange(&p->up, up);
    if (up != was || !p->ever_probed) {
        if (up)
            log_info("health: %s answers (%s)", p->dependency->service_name,
                     serving == STEEP_RPC_HEALTH_SERVING ? "SERVING" : "NOT_SERVING");
        else
            log_warn("health: %s is unreachable (%s: %s): NOT_SERVING until it answers",
                     p->dependency->service_name, steep_grpc_code_name(status.code),
                     status.message);
    }
    p->ever_probed = true;
    char labels[96];
    snprintf(labels, sizeof labels, "dependency=\"%s\"", p->dependency->service_name);
    steep_metrics_gauge("steep_dependency_up", "1 while the dependency answers health checks",
                        labels, up);
    steep_metrics_gauge("steep_dependency_serving", "1 while the dependency reports SERVING",
                        labels, up && serving == STEEP_RPC_HEALTH_SERVING);
}

static void *probe_thread(void *arg)
{
    struct steep_service_ops *ops = arg;
    pthread_mutex_lock(&ops->lock);
    while (!ops->quit) {
        pthread_mutex_unlock(&ops->lock);
        for (size_t i = 0; i < ops->n_probes; i++)
            probe_once(&ops->probes[i]);
        pthread_mutex_lock(&ops->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)PROBE_INTERVAL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!ops->quit && pthread_cond_timedwait(&ops->wake, &ops->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&ops->lock);
    return NULL;
}

static int open_probes(struct steep_service_ops *ops, const struct steep_config *config,
                       struct steep_attested *attested)
{
    for (size_t i = 0; i < MAX_DEPENDENCIES && ops->row->dependencies[i].service_name; i++) {
        const struct dependency *d = &ops->row->dependencies[i];
        char address[1024];
        GUARD(steep_config_peer_address(config, d->endpoint, address, sizeof address));
        struct steep_rpc_client_config client_config = {.address = address,
                                                        .connect_timeout_ms = PROBE_TIMEOUT_MS};
        GUARD(steep_attested_client_tls(attested, d->service_name, &client_config.tls));
        struct probe *p = &ops->probes[ops->n_probes];
        p->dependency = d;
        p->client = steep_rpc_client_new(&client_config);
        ENSURE(p->client, "health probe of %s: %s", d->service_name, steep_error_get());
        ops->n_probes++;
    }
    return 0;
}

/* Writes the chosen port where `steep up` asked for it. */
static void publish_port(int port)
{
    const char *path = getenv("STEEP_ADMIN_PORT_FILE");
    if (!path || !*path)
        return;
    char text[16];
    int n = snprintf(text, sizeof text, "%d\n", port);
    if (steep_write_file_atomic(path, text, (size_t)n, 0644) < 0)
        log_warn("admin port: cannot write %s: %s", path, steep_error_get());
}

static int start_admin(struct steep_service_ops *ops, const struct steep_config *config)
{
    const char *listen = getenv("STEEP_ADMIN_LISTEN");
    if (!listen || !*listen)
        listen = steep_config_get_string(config, ops->row->admin_key, NULL);
    if (!listen)
        return 0;
    ops->admin = steep_admin_http_start(listen, steep_service_ops_serving, ops);
    if (!ops->admin)
        return steep_error_wrap("[admin] %s", ops->row->name);
    int port = steep_admin_http_port(ops->admin);
    log_info("admin port (metrics, health) on %s (port %d)", listen, port);
    publish_port(port);
    return 0;
}

struct steep_service_ops *steep_service_ops_start(const struct steep_config *config,
                                                  struct steep_attested *attested, const char *name)
{
    const struct service_row *row = NULL;
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (!strcmp(services[i].name, name))
            row = &services[i];
    if (!row) {
        steep_error_set("no health and admin settings for a service named '%s'", name);
        return NULL;
    }
    struct steep_service_ops *ops = calloc(1, sizeof(*ops));
    if (!ops) {
        steep_error_set("out of memory");
        return NULL;
    }
    ops->row = row;
    pthread_mutex_init(&ops->lock, NULL);
    pthread_cond_init(&ops->wake, NULL);
    if (open_probes(ops, config, attested) < 0 || start_admin(ops, config) < 0) {
        steep_service_ops_stop(ops);
        return NULL;
    }
    if (ops->n_probes) {
        if (pthread_create(&ops->thread, NULL, probe_thread, ops) != 0) {
            steep_error_set("cannot start the health prober thread");
            steep_service_ops_stop(ops);
            return NULL;
        }
        ops->thread_running = true;
    }
    return ops;
}

void steep_service_ops_ready(struct steep_service_ops *ops)
{
    if (ops)
        atomic_store(&ops->ready, true);
}

void steep_service_ops_stopping(struct steep_service_ops *ops)
{
    if (ops)
        atomic_store(&ops->stopping, true);
}

void steep_service_ops_stop(struct steep_service_ops *ops)
{
    if (!ops)
        return;
    atomic_store(&ops->stopping, true);
    if (ops->thread_running) {
        pthread_mutex_lock(&ops->lock);
        ops->quit = true;
        pthread_cond_signal(&ops->wake);
        pthread_mutex_unlock(&ops->lock);
        pthread_join(ops->thread, NULL);
    }
    steep_admin_http_stop(ops->admin);
    for (size_t i = 0; i < ops->n_probes; i++)
        steep_rpc_client_free(ops->probes[i].client);
    pthread_mutex_destroy(&ops->lock);
    pthread_cond_destroy(&ops->wake);
    free(ops);
}
