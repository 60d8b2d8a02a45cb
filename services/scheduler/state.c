/*
 * The scheduler's memory: the FIFO of staged task uuids, the slot table,
 * lifecycle, the wake-ups from management and heartbeats.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/rpc.h"

int64_t steep_scheduler_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct steep_scheduler *steep_scheduler_new(const struct steep_kv *store,
                                            const struct steep_scheduler_config *config)
{
    struct steep_scheduler *s = calloc(1, sizeof *s);
    if (!s) {
        steep_error_set("out of memory");
        return NULL;
    }
    s->store = *store;
    s->config = *config;
    if (s->config.executor_timeout_ms <= 0)
        s->config.executor_timeout_ms = 30000;
    if (s->config.sweep_interval_ms <= 0)
        s->config.sweep_interval_ms = 250;
    if (s->config.backstop_ms <= 0)
        s->config.backstop_ms = 5000;
    if (s->config.pull_timeout_ms <= 0)
        s->config.pull_timeout_ms = 30000;
    if (s->config.claim_timeout_ms <= 0)
        s->config.claim_timeout_ms = 5000;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->work, &attr);
    pthread_cond_init(&s->sweeper_wake, &attr);
    pthread_condattr_destroy(&attr);
    return s;
}

/* Storage may still be starting (or restarting) when the scheduler does:
 * the first scan is retried with backoff for up to this long. */
#define START_SCAN_PATIENCE_MS 30000

int steep_scheduler_start(struct steep_scheduler *s)
{
    int64_t give_up = steep_scheduler_now_ms() + START_SCAN_PATIENCE_MS;
    for (int delay_ms = 100; steep_scheduler_reconcile(s, true) < 0; delay_ms *= 2) {
        if (steep_scheduler_now_ms() >= give_up)
            return -1;
        log_warn("scheduler: %s; retrying in %d ms", steep_error_get(), delay_ms);
        usleep((useconds_t)(delay_ms > 2000 ? 2000 : delay_ms) * 1000);
    }
    s->next_backstop_ms = steep_scheduler_now_ms() + s->config.backstop_ms;
    ENSURE(pthread_create(&s->sweeper, NULL, steep_scheduler_sweeper_main, s) == 0,
           "cannot start the sweeper thread");
    s->sweeper_started = true;
    return 0;
}

void steep_scheduler_retire(struct steep_scheduler *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->sweeper_wake);
    pthread_mutex_unlock(&s->lock);
    if (s->sweeper_started)
        pthread_join(s->sweeper, NULL);
    s->sweeper_started = false;
    steep_scheduler_flush_forgotten(s);
}

void steep_scheduler_free(struct steep_scheduler *s)
{
    if (!s)
        return;
    steep_scheduler_retire(s);
    while (s->head) {
        struct queued_task *next = s->head->next;
        free(s->head->record);
        free(s->head);
        s->head = next;
    }
    free(s->slots);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->sweeper_wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool steep_scheduler_is_queued(struct steep_scheduler *s, const char *uuid)
{
    for (struct queued_task *q = s->head; q; q = q->next)
        if (strcmp(q->uuid, uuid) == 0)
            return true;
    return false;
}

void steep_scheduler_enqueue_locked(struct steep_scheduler *s, const char *uuid, bool front,
                                    const uint8_t *record, size_t record_len)
{
    if (steep_scheduler_is_queued(s, uuid) || steep_scheduler_slot_of_task_locked(s, uuid))
        return;
    struct queued_task *q = calloc(1, sizeof *q);
    if (!q) {
        log_error("scheduler: out of memory queuing task %s (the backstop scan retries)", uuid);
        return;
    }
    memcpy(q->uuid, uuid, STEEP_TASK_UUID_TEXT);
    if (record && record_len && (q->record = malloc(record_len))) {
        memcpy(q->record, record, record_len);
        q->record_len = record_len;
    }
    if (front) {
        q->next = s->head;
        s->head = q;
        if (!s->tail)
            s->tail = q;
    } else {
        if (s->tail)
            s->tail->next = q;
        else
            s->head = q;
        s->tail = q;
    }
    s->queued++;
    pthread_cond_signal(&s->work);
}

bool steep_scheduler_dequeue_locked(struct steep_scheduler *s, char uuid[STEEP_TASK_UUID_TEXT],
                                    uint8_t **record, size_t *record_len)
{
    struct queued_task *q = s->head;
    if (!q)
        return false;
    s->head = q->next;
    if (!s->head)
        s->tail = NULL;
    s->queued--;
    memcpy(uuid, q->uuid, STEEP_TASK_UUID_TEXT);
    *record = q->record;
    *record_len = q->record_len;
    free(q);
    return true;
}

void steep_scheduler_remove_queued_locked(struct steep_scheduler *s, const char *uuid)
{
    struct queued_task **link = &s->head, *previous = NULL;
    while (*link) {
        struct queued_task *q = *link;
        if (strcmp(q->uuid, uuid) == 0) {
            *link = q->next;
            if (s->tail == q)
                s->tail = previous;
            s->queued--;
            free(q->record);
            free(q);
            return;
        }
        previous = q;
        link = &q->next;
    }
}

struct slot *steep_scheduler_slot_locked(struct steep_scheduler *s, const char *executor_id,
                                         bool create)
{
    for (int i = 0; i < s->n_slots; i++)
        if (strcmp(s->slots[i].executor_id, executor_id) == 0)
            return &s->slots[i];
    if (!create)
        return NULL;
    if (s->n_slots == s->cap_slots) {
        int cap = s->cap_slots ? s->cap_slots * 2 : 16;
        struct slot *grown = realloc(s->slots, (size_t)cap * sizeof *grown);
        if (!grown)
            return NULL;
        s->slots = grown;
        s->cap_slots = cap;
    }
    struct slot *slot = &s->slots[s->n_slots++];
    memset(slot, 0, sizeof *slot);
    snprintf(slot->executor_id, sizeof slot->executor_id, "%s", executor_id);
    slot->last_seen_ms = steep_scheduler_now_ms();
    return slot;
}

struct slot *steep_scheduler_slot_of_task_locked(struct steep_scheduler *s, const char *uuid)
{
    for (int i = 0; i < s->n_slots; i++)
        if (strcmp(s->slots[i].task, uuid) == 0)
            return &s->slots[i];
    return NULL;
}

static void drop_now(struct steep_scheduler *s, const char *uuid)
{
    char key[64];
    snprintf(key, sizeof key, "staged-%s", uuid);
    if (s->store.remove(s->store.ctx, key) != STEEP_STORE_OK)
        log_warn("scheduler: could not drop %s (dropped at the next scan): %s", key,
                 steep_error_get());
}

/* The index record is no longer needed once the task record is terminal
 * (every reader checks the task record first), so dropping it need not be
 * durable before any answer: the drops of one sweep interval share one
 * write instead of costing each result a synced write of its own. */
void steep_scheduler_forget_task(struct steep_scheduler *s, const char *uuid)
{
    if (!s->store.batch) {
        drop_now(s, uuid);
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (s->n_forget == s->cap_forget) {
        size_t cap = s->cap_forget ? s->cap_forget * 2 : 64;
        void *grown = realloc(s->forget, cap * sizeof *s->forget);
        if (grown) {
            s->forget = grown;
            s->cap_forget = cap;
        }
    }
    bool queued = s->n_forget < s->cap_forget;
    if (queued)
        memcpy(s->forget[s->n_forget++], uuid, STEEP_TASK_UUID_TEXT);
    pthread_mutex_unlock(&s->lock);
    if (!queued)
        drop_now(s, uuid);
}

void steep_scheduler_flush_forgotten(struct steep_scheduler *s)
{
    pthread_mutex_lock(&s->lock);
    char(*uuids)[STEEP_TASK_UUID_TEXT] = s->forget;
    size_t n = s->n_forget;
    s->forget = NULL;
    s->n_forget = s->cap_forget = 0;
    pthread_mutex_unlock(&s->lock);
    if (!n) {
        free(uuids);
        return;
    }
    char(*keys)[64] = calloc(n, sizeof *keys);
    struct steep_store_op *ops = calloc(n, sizeof *ops);
    for (size_t i = 0; keys && ops && i < n; i++) {
        int len = snprintf(keys[i], sizeof keys[i], "staged-%s", uuids[i]);
        ops[i] = (struct steep_store_op){true, keys[i], (size_t)len, NULL, 0};
    }
    if (!keys || !ops || s->store.batch(s->store.ctx, ops, n) != STEEP_STORE_OK)
        log_warn("scheduler: could not drop %zu staged index record(s) (dropped at the next "
                 "scan): %s",
                 n, keys && ops ? steep_error_get() : "out of memory");
    free(keys);
    free(ops);
    free(uuids);
}

static int unclaim(struct steep_task *task, void *executor_id)
{
    if ((task->status != TEACLAVE_COMMON_PROTO__TASK_STATUS__Running &&
         task->status != TEACLAVE_COMMON_PROTO__TASK_STATUS__Staged) ||
        !task->executor_id || strcmp(task->executor_id, executor_id) != 0)
        return 2;
    if (task->started)
        return 3; /* acknowledged durably: the slot may be running it */
    steep_task_set_string(&task->executor_id, NULL); /* removing cannot fail */
    task->status = TEACLAVE_COMMON_PROTO__TASK_STATUS__Staged;
    return 0;
}

int steep_scheduler_unclaim(struct steep_scheduler *s, const char *uuid, const char *executor_id)
{
    char key[64];
    snprintf(key, sizeof key, "task-%s", uuid);
    int rc = steep_task_update(&s->store, key, unclaim, (void *)executor_id, NULL);
    if (rc == 3)
        return 2;
    return rc == 0 ? 0 : rc == 2 || rc == STEEP_TASK_RECORD_MISSING ? 1 : -1;
}

void steep_scheduler_counts(struct steep_scheduler *s, int *queued, int *slots)
{
    pthread_mutex_lock(&s->lock);
    *queued = s->queued;
    *slots = s->n_slots;
    pthread_mutex_unlock(&s->lock);
}

/* ---- wake-ups from management ---- */

int steep_scheduler_task_staged(struct steep_scheduler *s, const char *task_id,
                                const uint8_t *record, size_t record_len)
{
    char uuid[STEEP_TASK_UUID_TEXT];
    if (steep_task_record_uuid(task_id, uuid) < 0)
        return STEEP_GRPC_INVALID_ARGUMENT;
    pthread_mutex_lock(&s->lock);
    steep_scheduler_enqueue_locked(s, uuid, false, record, record_len);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int steep_scheduler_task_canceled(struct steep_scheduler *s, const char *task_id)
{
    char uuid[STEEP_TASK_UUID_TEXT];
    if (steep_task_record_uuid(task_id, uuid) < 0)
        return STEEP_GRPC_INVALID_ARGUMENT;
    pthread_mutex_lock(&s->lock);
    steep_scheduler_remove_queued_locked(s, uuid);
    struct slot *slot = steep_scheduler_slot_of_task_locked(s, uuid);
    if (slot)
        slot->stop = true;
    pthread_mutex_unlock(&s->lock);
    if (!slot)
        steep_scheduler_forget_task(s, uuid);
    return 0;
}

/* ---- heartbeats ---- */

static bool valid_executor_id(const char *id)
{
    char uuid[STEEP_TASK_UUID_TEXT];
    return id && strncmp(id, "task-", 5) != 0 && steep_task_record_uuid(id, uuid) == 0;
}

int steep_scheduler_heartbeat(struct steep_scheduler *s, const char *executor_id, int status,
                              TeaclaveCommonProto__ExecutorCommand *command)
{
    if (!valid_executor_id(executor_id)) {
        steep_error_set("invalid executor id");
        return STEEP_GRPC_INTERNAL;
    }
    if (status != TEACLAVE_COMMON_PROTO__EXECUTOR_STATUS__Idle &&
        status != TEACLAVE_COMMON_PROTO__EXECUTOR_STATUS__Executing) {
        steep_error_set("invalid executor status %d", status);
        return STEEP_GRPC_INTERNAL;
    }
    char stopped[STEEP_TASK_UUID_TEXT] = "";
    pthread_mutex_lock(&s->lock);
    struct slot *slot = steep_scheduler_slot_locked(s, executor_id, true);
    if (!slot) {
        pthread_mutex_unlock(&s->lock);
        steep_error_set("out of memory");
        return STEEP_GRPC_INTERNAL;
    }
    slot->last_seen_ms = steep_scheduler_now_ms();
    slot->status = status;
    /* A slot busy with the task a restart found claimed by it started it
     * (a slot runs one task, and only after its acknowledgement). */
    if (slot->task[0] && slot->recovered &&
        status == TEACLAVE_COMMON_PROTO__EXECUTOR_STATUS__Executing) {
        slot->running = true;
        slot->recovered = false;
    }
    /* ... and one saying Idle did not (or not yet: its acknowledgement, if
     * it pulled the task, is refused once the sweeper gave the task back). */
    if (slot->task[0] && slot->recovered && status == TEACLAVE_COMMON_PROTO__EXECUTOR_STATUS__Idle)
        slot->said_idle = true;
    *command = TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__NoAction;
    if (slot->task[0] && slot->stop) {
        *command = TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__Stop;
        memcpy(stopped, slot->task, sizeof stopped);
        slot->task[0] = '\0';
        slot->stop = false;
    } else if (!slot->task[0] && s->head) {
        *command = TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__NewTask;
    }
    pthread_mutex_unlock(&s->lock);
    if (stopped[0])
        steep_scheduler_forget_task(s, stopped);
    return 0;
}
