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
    bool running; /* the task was reported Running */
    bool stop;    /* reply Stop at the next heartbeat */
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

/* Drops the staged index record of a task that reached a terminal state. */
void steep_scheduler_forget_task(struct steep_scheduler *s, const char *uuid);

/* recovery.c */
int steep_scheduler_reconcile(struct steep_scheduler *s, bool at_start);
void *steep_scheduler_sweeper_main(void *arg);

#endif
