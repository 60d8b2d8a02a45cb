/*
 * steep-management: functions, files and tasks. Serves
 * [internal_endpoints] management.listen_address with mutual attestation to
 * the frontend; keeps every record in the storage service; asks the
 * access-control service (policies/tasks.policy) the multi-party questions;
 * tells the scheduler at once when a task is staged or canceled (best
 * effort: the scheduler also scans storage). Stops on SIGTERM/SIGINT.
 *
 * Steep key: [management] audit_retention_entries (default 0: keep every
 * audit entry): keep about that many of the newest audit entries and
 * remove older ones (audit.h, steep_audit_set_retention).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "google/protobuf/empty.pb-c.h"
#include "policy/acs_client.h"
#include "rpc/rpc.h"
#include "service.h"
#include "records.h"
#include "service/service.h"
#include "usage.h"
#include "steep_scheduler.pb-c.h"
#include "store/store_client.h"
#include "tee/attested.h"

#define SCHEDULER_TIMEOUT_MS 2000
#define AUDIT_FLUSH_MS       500

static const char *const inbound[] = {"teaclave_frontend_service"};

static struct steep_rpc_client *client_for(struct steep_config *config,
                                           struct steep_attested *attested,
                                           enum steep_endpoint endpoint, const char *service)
{
    char address[1024];
    size_t max_message;
    if (steep_service_max_message(config, &max_message) < 0)
        return NULL;
    struct steep_rpc_client_config client_config = {
        .address = address, .max_message = steep_rpc_internal_max_message(max_message)};
    if (steep_config_peer_address(config, endpoint, address, sizeof address) < 0 ||
        steep_attested_client_tls(attested, service, &client_config.tls) < 0)
        return NULL;
    return steep_rpc_client_new(&client_config);
}

static int authorize(void *client, const char *request, const struct steep_acs_field *fields,
                     size_t nfields, const struct steep_acs_fact *facts, size_t nfacts,
                     bool *accept, char *reason, size_t reason_len)
{
    return steep_acs_authorize(client, request, fields, nfields, facts, nfacts, accept, reason,
                               reason_len);
}

static void notify_scheduler(void *client, enum steep_management_event event, const char *task_id,
                             const struct steep_buf *record)
{
    SteepSchedulerProto__TaskStagedRequest staged =
        STEEP_SCHEDULER_PROTO__TASK_STAGED_REQUEST__INIT;
    SteepSchedulerProto__CancelTaskRequest cancel =
        STEEP_SCHEDULER_PROTO__CANCEL_TASK_REQUEST__INIT;
    staged.task_id = cancel.task_id = (char *)task_id;
    if (record)
        staged.task_record = (ProtobufCBinaryData){record->len, record->data};
    bool is_staged = event == STEEP_MANAGEMENT_TASK_STAGED;
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    if (steep_rpc_call(client,
                       is_staged ? "/steep_scheduler_proto.SteepScheduler/TaskStaged"
                                 : "/steep_scheduler_proto.SteepScheduler/CancelTask",
                       is_staged ? &staged.base : &cancel.base,
                       &google__protobuf__empty__descriptor, &response, NULL, 0,
                       SCHEDULER_TIMEOUT_MS, &status) < 0)
        log_warn("scheduler not told about %s (%s): %s; its storage scan will find it", task_id,
                 is_staged ? "staged" : "canceled", status.message);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
}

struct clients {
    struct steep_store_client *storage;
    struct steep_rpc_client *access_control, *scheduler;
    struct steep_audit *audit;
};

static int open_clients(struct steep_config *config, struct steep_attested *attested,
                        struct clients *c)
{
    char address[1024];
    size_t max_message;
    GUARD(steep_service_max_message(config, &max_message));
    steep_record_limits_set(max_message);
    struct steep_store_client_config storage_config = {
        .address = address, .max_message = steep_rpc_internal_max_message(max_message)};
    GUARD(steep_config_peer_address(config, STEEP_ENDPOINT_STORAGE, address, sizeof address));
    GUARD(steep_attested_client_tls(attested, "teaclave_storage_service", &storage_config.tls));
    c->storage = steep_store_client_new(&storage_config);
    ENSURE(c->storage != NULL, "storage client: %s", steep_error_get());
    c->access_control = client_for(config, attested, STEEP_ENDPOINT_ACCESS_CONTROL,
                                   "teaclave_access_control_service");
    ENSURE(c->access_control != NULL, "access-control client: %s", steep_error_get());
    c->scheduler =
        client_for(config, attested, STEEP_ENDPOINT_SCHEDULER, "teaclave_scheduler_service");
    ENSURE(c->scheduler != NULL, "scheduler client: %s", steep_error_get());
    uint8_t mac_key[STEEP_AUDIT_MAC_KEY_LEN];
    GUARD(steep_attested_seal_key(attested, "management-audit", mac_key));
    struct steep_audit_store audit_store = steep_audit_store_over_client(c->storage);
    c->audit = steep_audit_open(&audit_store, mac_key);
    OPENSSL_cleanse(mac_key, sizeof mac_key);
    ENSURE(c->audit != NULL, "audit log: %s", steep_error_get());
    /* Entries written with their requests' records (audit_attach.h) wait
     * for the next SaveLogs to be chained; at most this long. */
    ENSURE(steep_audit_set_flush_interval(c->audit, AUDIT_FLUSH_MS) == 0, "audit log: %s",
           steep_error_get());
    int64_t retention = steep_config_get_int(config, "management.audit_retention_entries", 0);
    ENSURE(retention >= 0, "[management] audit_retention_entries must not be negative");
    if (retention > 0) {
        steep_audit_set_retention(c->audit, (uint64_t)retention);
        log_info("audit: keeping the newest %lld entries", (long long)retention);
    }
    return 0;
}

static void close_clients(struct clients *c)
{
    steep_audit_free(c->audit);
    if (c->scheduler)
        steep_rpc_client_free(c->scheduler);
    if (c->access_control)
        steep_rpc_client_free(c->access_control);
    steep_store_client_free(c->storage);
}

/* The usage folder (usage.c): once a second (so that at a few tasks per
 * second it does not cost a write per task), until the service stops. */
struct folder {
    struct steep_management *management;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static void *folder_main(void *arg)
{
    struct folder *f = arg;
    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&f->wake, &f->lock, &until);
        pthread_mutex_unlock(&f->lock);
        if (steep_management_usage_fold(f->management) < 0)
            log_warn("usage: folding pending counts: %s (retried)", steep_error_get());
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

static int add_methods(struct steep_rpc_server *server, void *service)
{
    return steep_management_register(server, service);
}

static int serve(struct steep_config *config, struct steep_attested *attested, const sigset_t *stop)
{
    struct clients clients = {0};
    if (open_clients(config, attested, &clients) < 0) {
        close_clients(&clients);
        return -1;
    }
    struct steep_management management = {
        .kv = steep_kv_over_client(clients.storage),
        .authorize = authorize,
        .authorize_arg = clients.access_control,
        .notify = notify_scheduler,
        .notify_arg = clients.scheduler,
    };
    if (steep_attested_seal_key(attested, "management-user-index", management.user_secret) < 0 ||
        steep_management_migrate_user_keys(&management) < 0) {
        steep_error_wrap("user records");
        OPENSSL_cleanse(management.user_secret, sizeof management.user_secret);
        close_clients(&clients);
        return -1;
    }
    struct steep_management_service service = {&management, clients.audit};
    struct steep_service_endpoint endpoint = {
        .listen = config->internal[STEEP_ENDPOINT_MANAGEMENT].listen_address,
        .name = "management",
        .workers = (int)steep_config_get_int(config, "management.workers", 0),
        .inbound = inbound,
        .n_inbound = 1,
        .add_methods = add_methods,
        .arg = &service,
    };
    struct folder folder = {.management = &management,
                            .lock = PTHREAD_MUTEX_INITIALIZER,
                            .wake = PTHREAD_COND_INITIALIZER};
    pthread_t folder_thread;
    bool folding = pthread_create(&folder_thread, NULL, folder_main, &folder) == 0;
    if (!folding)
        log_warn("usage: no folder thread: uses of functions without a quota stay pending");
    int rc = steep_service_serve(attested, config, &endpoint, 1, stop, 2000);
    if (folding) {
        pthread_mutex_lock(&folder.lock);
        folder.stopping = true;
        pthread_cond_signal(&folder.wake);
        pthread_mutex_unlock(&folder.lock);
        pthread_join(folder_thread, NULL);
    }
    OPENSSL_cleanse(management.user_secret, sizeof management.user_secret);
    close_clients(&clients);
    return rc;
}

int main(int argc, char **argv)
{
    return steep_service_main(argc, argv, "management", "teaclave_management_service", serve);
}
