/* Fake scheduler for the node tests; see fake_scheduler.h. */
#include "fake_scheduler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "google/protobuf/empty.pb-c.h"
#include "rpc/rpc.h"
#include "teaclave_common.pb-c.h"
#include "teaclave_scheduler_service.pb-c.h"

#define PATH "/teaclave_scheduler_service_proto.TeaclaveScheduler/"

struct identity {
    X509 *cert;
    EVP_PKEY *key;
};

static int credentials(void *arg, X509 **cert, EVP_PKEY **key)
{
    struct identity *identity = arg;
    X509_up_ref(identity->cert);
    EVP_PKEY_up_ref(identity->key);
    *cert = identity->cert;
    *key = identity->key;
    return 0;
}

static struct identity *make_identity(void)
{
    struct identity *identity = calloc(1, sizeof *identity);
    identity->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    identity->cert = X509_new();
    X509_set_version(identity->cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(identity->cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(identity->cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(identity->cert), 86400);
    X509_NAME *name = X509_get_subject_name(identity->cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fake scheduler",
                               -1, -1, 0);
    X509_set_issuer_name(identity->cert, name);
    X509_set_pubkey(identity->cert, identity->key);
    X509_sign(identity->cert, identity->key, EVP_sha256());
    return identity;
}

static void reply_empty(struct steep_rpc_call *call)
{
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    steep_rpc_reply(call, &empty.base);
}

static struct fake_task *find_task(struct fake_scheduler *s, const char *task_id)
{
    for (size_t i = 0; i < s->n_tasks; i++)
        if (strcmp(s->tasks[i].task_id, task_id) == 0)
            return &s->tasks[i];
    return NULL;
}

static void pull_task(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct fake_scheduler *s = arg;
    const TeaclaveSchedulerServiceProto__PullTaskRequest *request = (const void *)message;
    int64_t wait_ms = steep_rpc_call_remaining_ms(call);
    if (wait_ms < 0 || wait_ms > 1000)
        wait_ms = 1000;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->lock);
    while (s->next_to_pull >= s->n_tasks)
        if (pthread_cond_timedwait(&s->changed, &s->lock, &until) == ETIMEDOUT)
            break;
    if (s->next_to_pull >= s->n_tasks) {
        pthread_mutex_unlock(&s->lock);
        steep_rpc_fail(call, STEEP_GRPC_UNKNOWN, "task queue is empty");
        return;
    }
    struct fake_task *task = &s->tasks[s->next_to_pull++];
    task->pulled = true;
    snprintf(task->executor_id, sizeof task->executor_id, "%s", request->executor_id);
    TeaclaveSchedulerServiceProto__PullTaskResponse response =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__PULL_TASK_RESPONSE__INIT;
    response.staged_task.data = (uint8_t *)task->staged_json;
    response.staged_task.len = strlen(task->staged_json);
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    steep_rpc_reply(call, &response.base);
}

static void update_status(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct fake_scheduler *s = arg;
    const TeaclaveSchedulerServiceProto__UpdateTaskStatusRequest *request = (const void *)message;
    pthread_mutex_lock(&s->lock);
    struct fake_task *task = find_task(s, request->task_id);
    if (task && task->pulled && !task->running)
        task->running = true;
    else
        task = NULL;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    if (task)
        reply_empty(call);
    else
        steep_rpc_fail(call, STEEP_GRPC_INTERNAL, "task is not staged");
}

static void record_result(struct fake_task *task,
                          const TeaclaveSchedulerServiceProto__UpdateTaskResultRequest *request)
{
    const TeaclaveCommonProto__TaskResult *result = request->result;
    task->finished = true;
    if (result && result->result_case == TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK) {
        const TeaclaveCommonProto__TaskOutputs *ok = result->ok;
        task->ok = true;
        task->return_value = strndup((const char *)ok->return_value.data, ok->return_value.len);
        for (size_t i = 0; i < ok->n_tags_map && i < 8; i++) {
            snprintf(task->tag_names[i], sizeof task->tag_names[i], "%s", ok->tags_map[i]->key);
            if (ok->tags_map[i]->value.len == 16)
                memcpy(task->tags[i], ok->tags_map[i]->value.data, 16);
            task->n_tags++;
        }
        for (size_t i = 0; i < ok->n_log && i < 8; i++) {
            snprintf(task->log[i], sizeof task->log[i], "%s", ok->log[i]);
            task->n_log++;
        }
    } else if (result && result->result_case == TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_ERR) {
        snprintf(task->reason, sizeof task->reason, "%s", result->err->reason);
    } else {
        snprintf(task->reason, sizeof task->reason, "(no result)");
    }
}

static void update_result(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct fake_scheduler *s = arg;
    const TeaclaveSchedulerServiceProto__UpdateTaskResultRequest *request = (const void *)message;
    pthread_mutex_lock(&s->lock);
    if (s->refuse_results > 0) {
        s->refuse_results--;
        s->results_refused++;
        pthread_mutex_unlock(&s->lock);
        steep_rpc_fail(call, STEEP_GRPC_UNAVAILABLE, "scheduler busy");
        return;
    }
    struct fake_task *task = find_task(s, request->task_id);
    bool accepted = task && task->running && !task->finished;
    if (accepted) {
        record_result(task, request);
        s->results_received++;
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    if (accepted)
        reply_empty(call);
    else
        steep_rpc_fail(call, STEEP_GRPC_INTERNAL, "task is not running");
}

static void heartbeat(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct fake_scheduler *s = arg;
    const TeaclaveSchedulerServiceProto__HeartbeatRequest *request = (const void *)message;
    TeaclaveSchedulerServiceProto__HeartbeatResponse response =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__HEARTBEAT_RESPONSE__INIT;
    bool executing = request->status == TEACLAVE_COMMON_PROTO__EXECUTOR_STATUS__Executing;
    pthread_mutex_lock(&s->lock);
    struct fake_executor *executor = NULL;
    for (size_t i = 0; i < s->n_executors; i++)
        if (strcmp(s->executors[i].id, request->executor_id) == 0)
            executor = &s->executors[i];
    if (!executor && s->n_executors < FAKE_MAX_EXECUTORS) {
        executor = &s->executors[s->n_executors++];
        snprintf(executor->id, sizeof executor->id, "%s", request->executor_id);
    }
    if (executor) {
        executor->heartbeats++;
        executor->executing_seen |= executing;
    }
    for (size_t i = 0; executing && i < s->n_tasks; i++) {
        struct fake_task *task = &s->tasks[i];
        if (task->cancel && task->running && !task->finished &&
            strcmp(task->executor_id, request->executor_id) == 0)
            response.command = TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__Stop;
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    steep_rpc_reply(call, &response.base);
}

int fake_scheduler_start(struct fake_scheduler *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->identity = make_identity();
    struct steep_rpc_server_config config = {
        .listen = "127.0.0.1:0",
        .tls = {.credentials = credentials, .credentials_arg = s->identity},
        .workers = 16,
        .name = "fake-scheduler",
    };
    s->server = steep_rpc_server_new(&config);
    if (!s->server)
        return -1;
    steep_rpc_server_add(s->server, PATH "PullTask",
                         &teaclave_scheduler_service_proto__pull_task_request__descriptor,
                         pull_task, s);
    steep_rpc_server_add(s->server, PATH "UpdateTaskStatus",
                         &teaclave_scheduler_service_proto__update_task_status_request__descriptor,
                         update_status, s);
    steep_rpc_server_add(s->server, PATH "UpdateTaskResult",
                         &teaclave_scheduler_service_proto__update_task_result_request__descriptor,
                         update_result, s);
    steep_rpc_server_add(s->server, PATH "Heartbeat",
                         &teaclave_scheduler_service_proto__heartbeat_request__descriptor,
                         heartbeat, s);
    if (steep_rpc_server_start(s->server) < 0)
        return -1;
    snprintf(s->address, sizeof s->address, "127.0.0.1:%d", steep_rpc_server_port(s->server));
    return 0;
}

void fake_scheduler_stop(struct fake_scheduler *s)
{
    steep_rpc_server_stop(s->server, 1000);
    steep_rpc_server_free(s->server);
    struct identity *identity = s->identity;
    X509_free(identity->cert);
    EVP_PKEY_free(identity->key);
    free(identity);
    for (size_t i = 0; i < s->n_tasks; i++) {
        free(s->tasks[i].staged_json);
        free(s->tasks[i].return_value);
    }
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
}

size_t fake_scheduler_queue(struct fake_scheduler *s, const char *task_id, const char *json)
{
    pthread_mutex_lock(&s->lock);
    size_t index = s->n_tasks++;
    struct fake_task *task = &s->tasks[index];
    snprintf(task->task_id, sizeof task->task_id, "%s", task_id);
    task->staged_json = strdup(json);
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    return index;
}

bool fake_scheduler_wait(struct fake_scheduler *s, size_t index,
                         bool (*pred)(const struct fake_task *), int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->lock);
    while (!pred(&s->tasks[index]))
        if (pthread_cond_timedwait(&s->changed, &s->lock, &until) == ETIMEDOUT)
            break;
    bool result = pred(&s->tasks[index]);
    pthread_mutex_unlock(&s->lock);
    return result;
}

void fake_scheduler_cancel(struct fake_scheduler *s, size_t index)
{
    pthread_mutex_lock(&s->lock);
    s->tasks[index].cancel = true;
    pthread_mutex_unlock(&s->lock);
}

bool fake_task_running(const struct fake_task *task)
{
    return task->running;
}

bool fake_task_finished(const struct fake_task *task)
{
    return task->finished;
}
