/*
 * The scheduler's in-memory state, shared by state.c, dispatch.c,
 * results.c and recovery.c. Everything below is guarded by `lock`; no
 * storage call is made while holding it.
 */
#ifndef STEEP_SCHEDULER_INTERNAL_H
#define STEEP_SCHEDULER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "scheduler.h"
#include "task_record.h"

struct queued_task {
    char uuid[STEEP_TASK_UUID_TEXT];
    uint8_t *record; /* the task record's bytes from TaskStaged, or NULL */
    size_t record_len;
    struct queued_task *next;
};

/* One execution slot (one executor_id). */
struct slot {
    char executor_id[STEEP_TASK_UUID_TEXT];
    int64_t last_seen_ms;
    int status;                      /* ExecutorStatus of the last heartbeat */
    char task[STEEP_TASK_UUID_TEXT]; /* "" when none */
    int64_t assigned_ms;
    bool running; /* the slot acknowledged the task (UpdateTaskStatus Running) */
    /* Found Running in storage by a scan at start: the claim is durable, its
     * acknowledgement is not (it writes nothing unless durable starts store
     * "started": such a task is recovered as running), so whether the slot started
     * the task is unknown until it speaks: an acknowledgement or a heartbeat
     * saying Executing marks it started; silence for claim_timeout_ms gives
     * the task back, as for any claim never acknowledged. */
    bool recovered;
    /* A recovered claim's slot said Idle in a heartbeat: it is not running
     * the task (its PullTask answer died with the previous scheduler or
     * leader), so the sweeper gives the task back without waiting for
     * claim_timeout_ms or failing it after the executor timeout. */
    bool said_idle;
    bool stop; /* reply Stop at the next heartbeat */
};

struct steep_scheduler {
    struct steep_kv store;
    struct steep_scheduler_config config;
    pthread_mutex_t lock;
    pthread_cond_t work; /* a task was queued, or shutdown */
    pthread_cond_t sweeper_wake;
    struct queued_task *head, *tail;
    int queued;
    struct slot *slots;
    int n_slots, cap_slots;
    bool stopping;
    bool sweeper_started;
    pthread_t sweeper;
    int64_t next_backstop_ms;
    /* Staged index records of terminal tasks, dropped by the sweeper in one
     * batch (not on the answer's path; a crash leaves them to the scan). */
    char (*forget)[STEEP_TASK_UUID_TEXT];
    size_t n_forget, cap_forget;
    int64_t next_flush_ms;
};

int64_t steep_scheduler_now_ms(void);

/* With the lock held. */
bool steep_scheduler_is_queued(struct steep_scheduler *s, const char *uuid);
/* Queues uuid unless queued or held by a slot; wakes a PullTask. record
 * (may be NULL): the task record's bytes as management stored them. */
void steep_scheduler_enqueue_locked(struct steep_scheduler *s, const char *uuid, bool front,
                                    const uint8_t *record, size_t record_len);
/* The oldest task; *record (free() it, may be NULL) as given to enqueue. */
bool steep_scheduler_dequeue_locked(struct steep_scheduler *s, char uuid[STEEP_TASK_UUID_TEXT],
                                    uint8_t **record, size_t *record_len);
void steep_scheduler_remove_queued_locked(struct steep_scheduler *s, const char *uuid);
struct slot *steep_scheduler_slot_locked(struct steep_scheduler *s, const char *executor_id,
                                         bool create);
struct slot *steep_scheduler_slot_of_task_locked(struct steep_scheduler *s, const char *uuid);

/* Gives back a claim of executor_id that the slot never acknowledged:
 * Running (or Staged) with that executor_id -> Staged, unclaimed. 0 after
 * the write, 1 when the record is no longer that claim, 2 when the record
 * says the slot's acknowledgement was stored ("started": never given
 * back), -1 on failure. */
int steep_scheduler_unclaim(struct steep_scheduler *s, const char *uuid, const char *executor_id);

/* Drops the staged index record of a task that reached a terminal state:
 * queued for the sweeper's next batch (call without the lock). */
void steep_scheduler_forget_task(struct steep_scheduler *s, const char *uuid);
/* Writes the queued drops in one storage batch (the sweeper; at stop). */
void steep_scheduler_flush_forgotten(struct steep_scheduler *s);

/* recovery.c */
int steep_scheduler_reconcile(struct steep_scheduler *s, bool at_start);
void *steep_scheduler_sweeper_main(void *arg);

#endif
