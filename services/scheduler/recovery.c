/*
 * Nothing stays Staged or Running forever: the reconcile scan of the staged
 * index (at start and every backstop interval) and the sweeper's timeouts.
 *
 * Scan: for every "staged-<uuid>" record, the task record decides. Staged
 * and unclaimed -> queued. Claimed (executor_id) or Running -> watched
 * under that slot as if it had just sent a heartbeat. Terminal or missing ->
 * the index record is dropped (and a slot still running a canceled task is
 * told Stop).
 *
 * Sweep: a slot silent for longer than the executor timeout is forgotten
 * and its task fails with "Runtime Error: Executor Timeout"; so does a task
 * a live slot pulled but never reported Running within that time.
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
    json_t *task = NULL;
    snprintf(key, sizeof key, "task-%s", uuid);
    int rc = steep_task_record_load(&s->store, key, &task, NULL);
    if (rc == STEEP_STORE_ERROR) {
        log_warn("scheduler: scan %s: %s", key, steep_error_get());
        return;
    }
    int status = rc == STEEP_STORE_OK ? steep_task_record_status(task) : -1;
    const char *executor = json_string_value(json_object_get(task, "executor_id"));
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
                slot->running = status == STATUS(Running);
                if (at_start)
                    slot->last_seen_ms = slot->assigned_ms;
                log_info("scheduler: watching task %s on slot %s", uuid, slot->executor_id);
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
    json_decref(task);
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
    struct uuid_list expired = {0};
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n_slots;) {
        struct slot *slot = &s->slots[i];
        bool silent = now - slot->last_seen_ms > timeout;
        bool never_started = slot->task[0] && !slot->running && now - slot->assigned_ms > timeout;
        if (slot->task[0] && (silent || never_started)) {
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
