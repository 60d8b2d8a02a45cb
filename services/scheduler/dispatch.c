/*
 * PullTask: a long poll. The call waits on the queue's condition variable
 * (woken the moment a task is queued), takes the oldest uuid, and claims
 * the task for the calling slot by compare-and-swap on its record (Staged
 * and no executor_id yet) before answering with the StagedTask JSON. A task
 * that is no longer Staged (canceled meanwhile) or already claimed is
 * skipped. The claim is durable, so a restarted scheduler neither hands the
 * task out again nor forgets it.
 *
 * The claim and the move to Running are ONE write (issue 15: one synced
 * write per step): the claim stores status Running with the slot's
 * executor_id. The slot's UpdateTaskStatus(Running) that follows writes
 * nothing; it is the slot's acknowledgement that it starts the task, held
 * in memory (slot->running), and it is refused once the task was given
 * back (recovery.c), so a slot that was thought dead never runs a task a
 * second slot took over.
 *
 * With durable starts ([scheduler] durable_start, on by default with the
 * etcd back-end: scheduler replicas) the acknowledgement also stores
 * "started" in the record by compare-and-swap before the slot is answered,
 * so a new leader or a restarted scheduler knows which claims a slot may
 * have started: those are never given back (recovery.c), and execution is
 * at most once across failover too, for one more synced write per task.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "internal.h"
#include "rpc/rpc.h"

#define STATUS(name) TEACLAVE_COMMON_PROTO__TASK_STATUS__##name

enum claim_result { CLAIMED, SKIPPED, FAILED };

static int claim(struct steep_task *task, void *executor_id)
{
    if (task->status != STATUS(Staged) || task->executor_id)
        return 2; /* not ours to take */
    GUARD(steep_task_set_string(&task->executor_id, executor_id));
    task->status = STATUS(Running);
    return 0;
}

/* The StagedTask record, read on a second thread while the claim runs. */
struct staged_read {
    const struct steep_kv *store;
    char key[64];
    struct steep_buf *value;
    int rc;
};

static void *staged_read_main(void *arg)
{
    struct staged_read *read = arg;
    read->rc = read->store->get(read->store->ctx, read->key, read->value);
    return NULL;
}

static enum claim_result claim_task(struct steep_scheduler *s, const char *uuid,
                                    const uint8_t *record, size_t record_len,
                                    const char *executor_id, struct steep_buf *staged)
{
    struct staged_read read = {.store = &s->store, .value = staged, .rc = STEEP_STORE_ERROR};
    snprintf(read.key, sizeof read.key, "staged-%s", uuid);
    pthread_t thread;
    bool threaded = pthread_create(&thread, NULL, staged_read_main, &read) == 0;
    char key[64];
    snprintf(key, sizeof key, "task-%s", uuid);
    int rc = steep_task_record_update_known(&s->store, key, record, record_len, claim,
                                            (void *)executor_id);
    if (threaded)
        pthread_join(thread, NULL);
    else
        staged_read_main(&read);
    if (rc == 2 || rc == STEEP_TASK_RECORD_MISSING)
        return SKIPPED;
    if (rc != 0)
        return FAILED;
    if (read.rc == STEEP_STORE_OK)
        return CLAIMED;
    /* Claimed, but its StagedTask cannot be read: never expected (the record
     * is written with the stage); end the task rather than leave it. */
    log_error("scheduler: task %s: no StagedTask record", uuid);
    if (steep_task_record_fail(&s->store, uuid, "Runtime Error: staged task missing") < 0)
        log_error("scheduler: failing task %s: %s", uuid, steep_error_get());
    return SKIPPED;
}

#define TASK_LOST "Runtime Error: the execution slot lost the task (no result reported)"

static void give_up_task(struct steep_scheduler *s, const char *uuid, const char *executor_id,
                         bool started)
{
    if (started) {
        log_warn("scheduler: slot %s asks for work without reporting task %s: it fails",
                 executor_id, uuid);
        if (steep_task_record_fail(&s->store, uuid, TASK_LOST) < 0)
            log_error("scheduler: failing task %s: %s (retried by the next scan)", uuid,
                      steep_error_get());
        else
            steep_scheduler_forget_task(s, uuid);
        return;
    }
    int rc = steep_scheduler_unclaim(s, uuid, executor_id);
    if (rc < 0) {
        log_error("scheduler: giving back task %s: %s", uuid, steep_error_get());
        return;
    }
    if (rc == 2) {
        /* Its acknowledgement was stored (durable start) though this core
         * did not see it: the slot may have run it, so it is never run
         * again; it fails as a started task would. */
        give_up_task(s, uuid, executor_id, true);
        return;
    }
    log_info("scheduler: slot %s never received task %s: queued again", executor_id, uuid);
    pthread_mutex_lock(&s->lock);
    if (rc == 0)
        steep_scheduler_enqueue_locked(s, uuid, true, NULL, 0);
    pthread_mutex_unlock(&s->lock);
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

int steep_scheduler_pull(struct steep_scheduler *s, const char *executor_id, int64_t timeout_ms,
                         steep_scheduler_cancelled_fn cancelled, void *arg,
                         struct steep_buf *staged)
{
    char check[STEEP_TASK_UUID_TEXT];
    if (!executor_id || strncmp(executor_id, "task-", 5) == 0 ||
        steep_task_record_uuid(executor_id, check) < 0) {
        steep_error_set("invalid executor id");
        return STEEP_GRPC_INTERNAL;
    }
    if (timeout_ms <= 0)
        timeout_ms = s->config.pull_timeout_ms;
    int64_t deadline = steep_scheduler_now_ms() + timeout_ms;
    pthread_mutex_lock(&s->lock);
    struct slot *slot = steep_scheduler_slot_locked(s, executor_id, true);
    if (slot)
        slot->last_seen_ms = steep_scheduler_now_ms();
    if (slot && slot->task[0]) {
        /* A slot runs one task at a time: asking for the next one, it no
         * longer runs the task it holds. An unacknowledged claim (its answer
         * never arrived) goes back to the queue; a started task whose result
         * never came ends Failed rather than stay Running for good. */
        char abandoned[STEEP_TASK_UUID_TEXT];
        bool started = slot->running;
        memcpy(abandoned, slot->task, sizeof abandoned);
        slot->task[0] = '\0';
        pthread_mutex_unlock(&s->lock);
        give_up_task(s, abandoned, executor_id, started);
        pthread_mutex_lock(&s->lock);
    }
    for (;;) {
        char uuid[STEEP_TASK_UUID_TEXT];
        uint8_t *record = NULL;
        size_t record_len = 0;
        while (!s->stopping && !s->head) {
            int64_t left = deadline - steep_scheduler_now_ms();
            if (left <= 0 || (cancelled && cancelled(arg)))
                break;
            struct timespec until;
            deadline_in(&until, left < 200 ? left : 200); /* re-check `cancelled` */
            pthread_cond_timedwait(&s->work, &s->lock, &until);
        }
        /* A caller that went away must not take a task with it. */
        if (s->stopping || (cancelled && cancelled(arg)) ||
            !steep_scheduler_dequeue_locked(s, uuid, &record, &record_len)) {
            pthread_mutex_unlock(&s->lock);
            steep_error_set("task queue is empty");
            return STEEP_GRPC_UNKNOWN;
        }
        pthread_mutex_unlock(&s->lock);
        enum claim_result result = claim_task(s, uuid, record, record_len, executor_id, staged);
        free(record);
        pthread_mutex_lock(&s->lock);
        if (result == CLAIMED && cancelled && cancelled(arg)) {
            /* The caller left while we claimed: give the task back. */
            char key[64];
            snprintf(key, sizeof key, "task-%s", uuid);
            pthread_mutex_unlock(&s->lock);
            int rc = steep_scheduler_unclaim(s, uuid, executor_id);
            pthread_mutex_lock(&s->lock);
            if (rc == 0)
                steep_scheduler_enqueue_locked(s, uuid, true, NULL, 0);
            else
                log_error("scheduler: task %s stays claimed by %s (fails if never started): %s",
                          uuid, executor_id, steep_error_get());
            pthread_mutex_unlock(&s->lock);
            steep_error_set("task queue is empty");
            return STEEP_GRPC_UNKNOWN;
        }
        if (result == CLAIMED) {
            slot = steep_scheduler_slot_locked(s, executor_id, true);
            if (slot) {
                memcpy(slot->task, uuid, sizeof slot->task);
                slot->assigned_ms = steep_scheduler_now_ms();
                slot->last_seen_ms = slot->assigned_ms;
                slot->running = false;
                slot->recovered = false;
                slot->stop = false;
            }
            pthread_mutex_unlock(&s->lock);
            log_debug("task %s -> slot %s", uuid, executor_id);
            return 0;
        }
        if (result == FAILED) {
            steep_scheduler_enqueue_locked(s, uuid, true, NULL, 0);
            pthread_mutex_unlock(&s->lock);
            log_error("scheduler: claiming task %s: %s", uuid, steep_error_get());
            steep_error_set("service internal error");
            return STEEP_GRPC_INTERNAL;
        }
        /* SKIPPED: canceled or taken meanwhile; wait for the next one. */
    }
}
