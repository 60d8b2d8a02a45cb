/*
 * Nothing stays Staged or Running forever: the reconcile scan of the staged
 * index (at start and every backstop interval) and the sweeper's timeouts.
 *
 * Durable starts ([scheduler] durable_start, on with etcd): a record that
 * says "started" (the slot's acknowledgement was stored) is watched as a
 * started task: it fails with "Runtime Error: Executor Timeout" if its slot
 * stays silent for the executor timeout, and is never given back, so a
 * task runs at most once across restarts and leader failover. Without
 * them (the default on one machine) the claim is ambiguous, as follows.
 *
 * Scan: for every "staged-<uuid>" record, the task record decides. Staged
 * and unclaimed -> queued. Claimed (executor_id) or Running -> watched
 * under that slot as if it had just sent a heartbeat, not yet known to be
 * started (the claim stores Running; its acknowledgement writes nothing):
 * the slot's acknowledgement or a heartbeat saying Executing marks it
 * started, and a slot that stays silent for claim_timeout_ms (its node
 * died with the scheduler, or was replaced meanwhile) has the task given
 * back and run elsewhere instead of failing it 30 s later for a slot that
 * will never come back; a slot that speaks but says Idle is not running
 * it (the answer of its PullTask died with the previous scheduler, e.g. a
 * leader killed mid-answer) and has it given back at the next sweep. Terminal or missing ->
 * the index record is dropped (and a slot still running a canceled task is
 * told Stop).
 *
 * Sweep: a slot silent for longer than the executor timeout is forgotten
 * and its task fails with "Runtime Error: Executor Timeout"; so does a task
 * a live slot pulled but never reported Running within that time. A claim
 * the slot never acknowledged (no UpdateTaskStatus) whose slot has been
 * silent for claim_timeout_ms is given back instead: the slot is dropped
 * from the task under the lock (so a late acknowledgement is refused,
 * results.c), the record goes back to Staged unclaimed by compare-and-swap,
 * and the task is queued again. Typical cause: the PullTask answer went to
 * an execution node that had just died. Exactly once still holds: a slot
 * runs a task only after its acknowledgement was accepted, and the
 * acknowledgement and the give-back exclude each other under the lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "internal.h"

#define STATUS(name)     TEACLAVE_COMMON_PROTO__TASK_STATUS__##name
#define EXECUTOR_TIMEOUT "Runtime Error: Executor Timeout"
#define FORGET_FLUSH_MS  1000

struct uuid_list {
    char (*uuids)[STEEP_TASK_UUID_TEXT];
    size_t n, cap;
};

static int append_uuid(struct uuid_list *list, const char *uuid)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        void *grown = realloc(list->uuids, cap * sizeof *list->uuids);
        if (!grown)
            return steep_error_set("out of memory");
        list->uuids = grown;
        list->cap = cap;
    }
    memcpy(list->uuids[list->n], uuid, 36);
    list->uuids[list->n][36] = '\0';
    list->n++;
    return 0;
}

static int collect_staged(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                          size_t value_len)
{
    if (key_len != 7 + 36 || memcmp(key, "staged-", 7) != 0)
        return 0;
    return append_uuid(arg, (const char *)key + 7);
}

static void reconcile_task(struct steep_scheduler *s, const char *uuid, bool at_start)
{
    char key[64];
    struct steep_task task;
    snprintf(key, sizeof key, "task-%s", uuid);
    int rc = steep_task_record_load(&s->store, key, &task, NULL);
    if (rc == STEEP_STORE_ERROR) {
        log_warn("scheduler: scan %s: %s", key, steep_error_get());
        return;
    }
    int status = task.status; /* -1 when missing */
    const char *executor = task.executor_id;
    bool started = task.started && status == STATUS(Running);
    bool drop = false;
    pthread_mutex_lock(&s->lock);
    struct slot *holder = steep_scheduler_slot_of_task_locked(s, uuid);
    if (status == STATUS(Staged) && !executor) {
        steep_scheduler_enqueue_locked(s, uuid, false, NULL, 0);
    } else if (status == STATUS(Staged) || status == STATUS(Running)) {
        if (!holder) {
            struct slot *slot = steep_scheduler_slot_locked(s, executor ? executor : uuid, true);
            if (slot && !slot->task[0]) {
                memcpy(slot->task, uuid, sizeof slot->task);
                slot->assigned_ms = steep_scheduler_now_ms();
                /* Acknowledged durably: as a started task of a live
                 * scheduler, it fails if its slot stays silent. */
                slot->running = started;
                slot->recovered = !started;
                slot->said_idle = false;
                if (at_start)
                    slot->last_seen_ms = slot->assigned_ms;
                log_info("scheduler: watching %s task %s on slot %s",
                         started ? "started" : "claimed", uuid, slot->executor_id);
            }
        }
    } else if (status < 0 || steep_task_record_terminal(status)) {
        if (holder && status == STATUS(Canceled))
            holder->stop = true;
        steep_scheduler_remove_queued_locked(s, uuid);
        drop = !holder;
    }
    /* Created/DataAssigned/Approved: management is staging it right now (the
     * index record is written first), or an invoke died half-way; leave it. */
    pthread_mutex_unlock(&s->lock);
    steep_task_clear(&task);
    if (drop)
        steep_scheduler_forget_task(s, uuid);
}

int steep_scheduler_reconcile(struct steep_scheduler *s, bool at_start)
{
    struct uuid_list list = {0};
    int rc = s->store.keys(s->store.ctx, "staged", collect_staged, &list);
    if (rc != STEEP_STORE_OK) {
        free(list.uuids);
        return steep_error_wrap("scanning the staged tasks");
    }
    for (size_t i = 0; i < list.n; i++)
        reconcile_task(s, list.uuids[i], at_start);
    if (at_start)
        log_info("scheduler: %zu staged or running task(s) found in storage", list.n);
    free(list.uuids);
    return 0;
}

/* One sweep: collects the tasks to fail under the lock, fails them after. */
static void sweep(struct steep_scheduler *s)
{
    int64_t now = steep_scheduler_now_ms(), timeout = s->config.executor_timeout_ms;
    struct uuid_list expired = {0}, given_back = {0};
    struct given_back_slot {
        char executor_id[STEEP_TASK_UUID_TEXT];
    } *holders = NULL;
    size_t n_holders = 0;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n_slots;) {
        struct slot *slot = &s->slots[i];
        bool silent = now - slot->last_seen_ms > timeout;
        bool never_started = slot->task[0] && !slot->running && now - slot->assigned_ms > timeout;
        bool lost_claim = slot->task[0] && !slot->running && !never_started &&
                          (now - slot->last_seen_ms > s->config.claim_timeout_ms ||
                           (slot->recovered && slot->said_idle));
        if (lost_claim) {
            void *grown = realloc(holders, (n_holders + 1) * sizeof *holders);
            if (grown && append_uuid(&given_back, slot->task) == 0) {
                holders = grown;
                memcpy(holders[n_holders++].executor_id, slot->executor_id, STEEP_TASK_UUID_TEXT);
                log_warn("scheduler: slot %s %s task %s: giving it back", slot->executor_id,
                         slot->recovered && slot->said_idle ? "is idle, not running its recovered"
                         : slot->recovered                  ? "did not come back for its recovered"
                                                            : "went silent before starting",
                         slot->task);
                slot->recovered = false;
                slot->task[0] = '\0';
            } else if (grown) {
                holders = grown;
            }
        } else if (slot->task[0] && (silent || never_started)) {
            log_warn("scheduler: slot %s %s; task %s fails", slot->executor_id,
                     silent ? "stopped sending heartbeats" : "never started its task", slot->task);
            if (append_uuid(&expired, slot->task) < 0)
                log_error("scheduler: %s (the next sweep retries)", steep_error_get());
            slot->task[0] = '\0';
        }
        if (silent) {
            s->slots[i] = s->slots[--s->n_slots];
            continue;
        }
        i++;
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < given_back.n; i++) {
        int rc = steep_scheduler_unclaim(s, given_back.uuids[i], holders[i].executor_id);
        if (rc == 2) {
            /* Its acknowledgement was stored meanwhile (durable start): the
             * slot holds it again (results.c) or the next scan watches it
             * as started; never given back. */
            log_info("scheduler: task %s was acknowledged by slot %s: kept", given_back.uuids[i],
                     holders[i].executor_id);
            continue;
        }
        if (rc < 0) {
            /* The record still names the silent slot: the next scan watches
             * it again and it fails after the executor timeout. */
            log_error("scheduler: giving back task %s: %s", given_back.uuids[i], steep_error_get());
            continue;
        }
        pthread_mutex_lock(&s->lock);
        if (rc == 0)
            steep_scheduler_enqueue_locked(s, given_back.uuids[i], true, NULL, 0);
        pthread_mutex_unlock(&s->lock);
    }
    free(given_back.uuids);
    free(holders);
    for (size_t i = 0; i < expired.n; i++) {
        if (steep_task_record_fail(&s->store, expired.uuids[i], EXECUTOR_TIMEOUT) < 0)
            log_error("scheduler: failing task %s: %s (retried by the next scan)", expired.uuids[i],
                      steep_error_get());
        else
            steep_scheduler_forget_task(s, expired.uuids[i]);
    }
    free(expired.uuids);
}

void *steep_scheduler_sweeper_main(void *arg)
{
    struct steep_scheduler *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)(s->config.sweep_interval_ms % 1000) * 1000000;
        until.tv_sec += s->config.sweep_interval_ms / 1000 + until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&s->sweeper_wake, &s->lock, &until);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->lock);
        sweep(s);
        /* Dropped once a second: at a few tasks per second one write per
         * sweep would cost nearly one per task. */
        if (steep_scheduler_now_ms() >= s->next_flush_ms) {
            steep_scheduler_flush_forgotten(s);
            s->next_flush_ms = steep_scheduler_now_ms() + FORGET_FLUSH_MS;
        }
        if (steep_scheduler_now_ms() >= s->next_backstop_ms) {
            if (steep_scheduler_reconcile(s, false) < 0)
                log_warn("scheduler: backstop scan: %s", steep_error_get());
            s->next_backstop_ms = steep_scheduler_now_ms() + s->config.backstop_ms;
        }
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}
