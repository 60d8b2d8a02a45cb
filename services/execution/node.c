/* Execution node: slot threads and the heartbeat thread; see node.h. */
#include "node.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "executors/staged_task.h"
#include "scheduler_client.h"
#include "task/ids.h"

#define CALL_TIMEOUT_MS  10000
#define PULL_TRANSFER_MS 5000
#define MAX_BACKOFF_MS   5000
/* UpdateTaskStatus(Running) is retried this long while the scheduler is
 * out of reach (a new leader takes a few seconds): heartbeats say
 * Executing meanwhile, which a new leader takes as the claim started. */
#define STATUS_RETRY_MS   20000
#define STATUS_BACKOFF_MS 1000

struct slot {
    struct steep_execution_node *node;
    int index;
    char executor_id[37];
    pthread_t thread;
    bool started;
    struct steep_sandbox_control control;
    pthread_mutex_t lock; /* guards executing, acknowledging and generation */
    bool executing;
    /* Between the PullTask answer and the end of UpdateTaskStatus(Running):
     * heartbeats then say Executing, so a heartbeat that says Idle was
     * taken before any acknowledgement went out (a new scheduler leader
     * gives back a recovered claim whose slot says Idle, scheduler.h). */
    bool acknowledging;
    uint64_t generation; /* bumped per task, so a late Stop cannot hit the next one */
};

struct steep_execution_node {
    struct steep_execution_options options;
    struct steep_rpc_client *client;
    struct slot *slots;
    int n_slots;
    atomic_bool stopping;
    pthread_t heartbeat_thread;
    bool heartbeat_started;
    pthread_mutex_t wait_lock;
    pthread_cond_t wake;
};

static void uuid_v4(char out[37])
{
    if (steep_uuid_new(out) < 0)
        abort(); /* no randomness: nothing safe to do */
}

/* Sleeps up to ms, waking early when the node stops. */
static void pause_ms(struct steep_execution_node *node, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&node->wait_lock);
    while (!atomic_load(&node->stopping))
        if (pthread_cond_timedwait(&node->wake, &node->wait_lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&node->wait_lock);
}

static int next_backoff(int backoff)
{
    return backoff * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : backoff * 2;
}

/* UpdateTaskStatus(Running), retried while the scheduler is unreachable. */
static int mark_running(struct slot *slot, const char *task_id)
{
    struct steep_rpc_status status;
    int backoff = 100;
    struct timespec started, now;
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (;;) {
        if (steep_scheduler_set_running(slot->node->client, slot->executor_id, task_id,
                                        CALL_TIMEOUT_MS, &status) == 0)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t spent = (int64_t)(now.tv_sec - started.tv_sec) * 1000 +
                        (now.tv_nsec - started.tv_nsec) / 1000000;
        if (!steep_scheduler_retryable(&status) || atomic_load(&slot->node->stopping) ||
            spent >= STATUS_RETRY_MS)
            break;
        pause_ms(slot->node, backoff);
        backoff = backoff * 2 > STATUS_BACKOFF_MS ? STATUS_BACKOFF_MS : backoff * 2;
    }
    return steep_error_set("UpdateTaskStatus(%s): %s: %s", task_id,
                           steep_grpc_code_name(status.code), status.message);
}

/* UpdateTaskResult, retried with backoff until the scheduler answers (a
 * stopping node gives up after a few tries). */
static void report(struct slot *slot, const char *task_id, const struct steep_task_outcome *outcome)
{
    struct steep_rpc_status status;
    int backoff = 100;
    for (int attempt = 1;; attempt++) {
        if (steep_scheduler_report(slot->node->client, task_id, outcome, CALL_TIMEOUT_MS,
                                   &status) == 0)
            return;
        if (!steep_scheduler_retryable(&status)) {
            log_warn("slot %d: scheduler refused the result of task %s: %s: %s", slot->index,
                     task_id, steep_grpc_code_name(status.code), status.message);
            return;
        }
        if (atomic_load(&slot->node->stopping) && attempt >= 3) {
            log_warn("slot %d: result of task %s not delivered: %s", slot->index, task_id,
                     status.message);
            return;
        }
        log_warn("slot %d: UpdateTaskResult(%s) failed (%s), retrying in %d ms", slot->index,
                 task_id, status.message, backoff);
        pause_ms(slot->node, backoff);
        backoff = next_backoff(backoff);
    }
}

static void set_executing(struct slot *slot, bool executing)
{
    pthread_mutex_lock(&slot->lock);
    slot->executing = executing;
    slot->acknowledging = false;
    if (executing)
        slot->generation++;
    pthread_mutex_unlock(&slot->lock);
}

static void fail_outcome(struct steep_task_outcome *outcome, const char *reason)
{
    memset(outcome, 0, sizeof *outcome);
    snprintf(outcome->reason, sizeof outcome->reason, "%s", reason);
}

/* Metrics by executor (issue 18, item 4): the runner's name, a bounded set. */
static void task_labels(const struct steep_staged_task *task, char *out, size_t len)
{
    const char *executor = "unknown";
    if (steep_staged_task_executor(task, &executor) < 0)
        executor = "unavailable";
    snprintf(out, len, "executor=\"%s\"", executor);
}

static void task_finished_count(const char *executor_labels, bool ok)
{
    char labels[96];
    snprintf(labels, sizeof labels, "state=\"%s\",%s", ok ? "finished" : "failed", executor_labels);
    steep_metrics_count("steep_tasks_total", "Tasks this node ran to an end, by state and executor",
                        labels, 1);
}

static void run_task(struct slot *slot, const struct steep_buf *json)
{
    struct steep_staged_task task;
    struct steep_task_outcome outcome;
    if (steep_staged_task_parse(json->data, json->len, &task) < 0) {
        log_error("slot %d: unusable staged task: %s", slot->index, steep_error_get());
        return;
    }
    pthread_mutex_lock(&slot->lock);
    slot->acknowledging = true;
    pthread_mutex_unlock(&slot->lock);
    int acknowledged = mark_running(slot, task.task_id);
    if (acknowledged < 0) {
        pthread_mutex_lock(&slot->lock);
        slot->acknowledging = false;
        pthread_mutex_unlock(&slot->lock);
        log_error("slot %d: %s; task not run", slot->index, steep_error_get());
        steep_staged_task_free(&task);
        return;
    }
    log_info("slot %d: running task %s (%s)", slot->index, task.task_id, task.function_name);
    steep_log_set_task_id(task.task_id);
    char labels[64];
    task_labels(&task, labels, sizeof labels);
    steep_metrics_gauge_add("steep_tasks_running", "Tasks running on this node, by executor",
                            labels, 1);
    pthread_mutex_lock(&slot->control.lock);
    slot->control.cancel = atomic_load(&slot->node->stopping);
    pthread_mutex_unlock(&slot->control.lock);
    set_executing(slot, true);
    steep_task_run(&slot->node->options.environment, &task, &slot->control, &outcome);
    if (outcome.canceled && atomic_load(&slot->node->stopping)) {
        steep_task_outcome_free(&outcome);
        fail_outcome(&outcome, "execution node stopped");
    }
    log_info("slot %d: task %s %s%s%s", slot->index, task.task_id,
             outcome.ok ? "finished" : "failed", outcome.ok ? "" : ": ",
             outcome.ok ? "" : outcome.reason);
    report(slot, task.task_id, &outcome);
    steep_metrics_gauge_add("steep_tasks_running", "Tasks running on this node, by executor",
                            labels, -1);
    task_finished_count(labels, outcome.ok);
    steep_log_set_task_id(NULL);
    set_executing(slot, false);
    steep_task_outcome_free(&outcome);
    steep_staged_task_free(&task);
}

static void *slot_main(void *arg)
{
    struct slot *slot = arg;
    struct steep_execution_node *node = slot->node;
    struct steep_buf json = STEEP_BUF_INIT;
    struct steep_rpc_status status;
    int backoff = 100;
    steep_buf_wipe(&json); /* holds the users' file keys */
    while (!atomic_load(&node->stopping)) {
        /* The scheduler waits pull_timeout_ms and keeps the rest for the
         * answer, which may carry megabytes of arguments. */
        if (steep_scheduler_pull_task(node->client, slot->executor_id,
                                      node->options.pull_timeout_ms + PULL_TRANSFER_MS, &json,
                                      &status) == 0) {
            backoff = 100;
            run_task(slot, &json);
            steep_buf_reset(&json);
            continue;
        }
        if (status.code == STEEP_GRPC_UNKNOWN || status.code == STEEP_GRPC_DEADLINE_EXCEEDED) {
            backoff = 100; /* empty queue or a canceled task: poll again */
            continue;
        }
        log_debug("slot %d: PullTask: %s: %s", slot->index, steep_grpc_code_name(status.code),
                  status.message);
        pause_ms(node, backoff);
        backoff = next_backoff(backoff);
    }
    steep_buf_free(&json);
    return NULL;
}

static void heartbeat(struct slot *slot)
{
    struct steep_execution_node *node = slot->node;
    struct steep_rpc_status status;
    bool stop = false;
    pthread_mutex_lock(&slot->lock);
    bool executing = slot->executing;
    bool busy = executing || slot->acknowledging;
    uint64_t generation = slot->generation;
    pthread_mutex_unlock(&slot->lock);
    if (steep_scheduler_heartbeat(node->client, slot->executor_id, busy, node->options.heartbeat_ms,
                                  &stop, &status) < 0) {
        log_debug("slot %d: Heartbeat: %s", slot->index, status.message);
        return;
    }
    if (!stop || !executing)
        return;
    pthread_mutex_lock(&slot->lock);
    bool same_task = slot->executing && slot->generation == generation;
    pthread_mutex_unlock(&slot->lock);
    if (same_task) {
        log_info("slot %d: scheduler says Stop: killing the task process", slot->index);
        steep_sandbox_cancel(&slot->control);
    }
}

static void *heartbeat_main(void *arg)
{
    struct steep_execution_node *node = arg;
    while (!atomic_load(&node->stopping)) {
        for (int i = 0; i < node->n_slots && !atomic_load(&node->stopping); i++)
            heartbeat(&node->slots[i]);
        pause_ms(node, node->options.heartbeat_ms);
    }
    return NULL;
}

static void apply_defaults(struct steep_execution_options *options)
{
    if (options->slots <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        options->slots = cpus > 0 ? (int)cpus : 1;
    }
    if (options->heartbeat_ms <= 0)
        options->heartbeat_ms = 1000;
    if (options->pull_timeout_ms <= 0)
        options->pull_timeout_ms = 2000;
}

struct steep_execution_node *
steep_execution_node_start(const struct steep_execution_options *options)
{
    struct steep_execution_node *node = calloc(1, sizeof *node);
    if (!node) {
        steep_error_set("out of memory");
        return NULL;
    }
    node->options = *options;
    apply_defaults(&node->options);
    pthread_mutex_init(&node->wait_lock, NULL);
    pthread_cond_init(&node->wake, NULL);
    struct steep_rpc_client_config client_config = {
        .address = options->scheduler_address,
        .server_name = options->scheduler_name,
        .tls = options->tls,
        .max_message = steep_rpc_internal_max_message(
            options->environment.limits.message_bytes ? options->environment.limits.message_bytes
                                                      : STEEP_RPC_DEFAULT_MAX_MESSAGE),
    };
    node->client = steep_rpc_client_new(&client_config);
    node->slots = calloc((size_t)node->options.slots, sizeof *node->slots);
    if (!node->client || !node->slots) {
        steep_execution_node_stop(node);
        return NULL;
    }
    node->n_slots = node->options.slots;
    for (int i = 0; i < node->n_slots; i++) {
        struct slot *slot = &node->slots[i];
        slot->node = node;
        slot->index = i;
        uuid_v4(slot->executor_id);
        steep_sandbox_control_init(&slot->control);
        pthread_mutex_init(&slot->lock, NULL);
        log_info("slot %d: executor_id %s", i, slot->executor_id);
    }
    for (int i = 0; i < node->n_slots; i++) {
        struct slot *slot = &node->slots[i];
        slot->started = pthread_create(&slot->thread, NULL, slot_main, slot) == 0;
        if (!slot->started) {
            steep_error_set("cannot start slot threads");
            steep_execution_node_stop(node);
            return NULL;
        }
    }
    node->heartbeat_started =
        pthread_create(&node->heartbeat_thread, NULL, heartbeat_main, node) == 0;
    if (!node->heartbeat_started) {
        steep_error_set("cannot start the heartbeat thread");
        steep_execution_node_stop(node);
        return NULL;
    }
    return node;
}

void steep_execution_node_stop(struct steep_execution_node *node)
{
    if (!node)
        return;
    pthread_mutex_lock(&node->wait_lock);
    atomic_store(&node->stopping, true);
    pthread_cond_broadcast(&node->wake);
    pthread_mutex_unlock(&node->wait_lock);
    for (int i = 0; i < node->n_slots; i++)
        steep_sandbox_cancel(&node->slots[i].control);
    if (node->heartbeat_started)
        pthread_join(node->heartbeat_thread, NULL);
    for (int i = 0; i < node->n_slots; i++) {
        struct slot *slot = &node->slots[i];
        if (slot->started)
            pthread_join(slot->thread, NULL);
        steep_sandbox_control_destroy(&slot->control);
        pthread_mutex_destroy(&slot->lock);
    }
    if (node->client)
        steep_rpc_client_free(node->client);
    free(node->slots);
    pthread_cond_destroy(&node->wake);
    pthread_mutex_destroy(&node->wait_lock);
    free(node);
}
