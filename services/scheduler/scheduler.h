/*
 * The scheduler's core, independent of the transport (tests call it
 * directly; service.c maps the RPCs onto it).
 *
 * Source of truth: the task records in storage. A task is staged when its
 * record says Staged; management also writes "staged-<uuid>" (the StagedTask
 * JSON the slot runs), which doubles as the durable index of tasks to
 * dispatch or watch. In memory: a FIFO of staged task uuids, the execution
 * slots (executor ids) with their last heartbeat and task, and the waiting
 * PullTask calls.
 *
 * Dispatch is pushed: TaskStaged (from management) queues the uuid and wakes
 * one waiting PullTask at once. Before PullTask returns a task, the record
 * gets the slot's executor_id by compare-and-swap (Staged and unassigned
 * only), so no task is handed to two slots, also across restarts. At start
 * and every backstop interval the scheduler scans the staged index: Staged
 * unassigned tasks are queued; assigned or Running ones are watched as if
 * their slot had just sent a heartbeat, and fail with "Runtime Error:
 * Executor Timeout" if it stays silent for the executor timeout. A slot that
 * pulled a task but never reports it Running within the timeout fails it the
 * same way, unless the slot went silent first: a claim never acknowledged
 * by a slot silent for claim_timeout_ms is given back and queued again (its
 * PullTask answer most likely died with the slot's process); with durable
 * starts (config below) a claim whose acknowledgement was stored is never
 * given back. Cancel: management has already written
 * Canceled; the slot that runs the task gets Stop at its next heartbeat.
 *
 * Functions return 0 or a gRPC status code with the message in
 * steep_error_get().
 */
#ifndef STEEP_SCHEDULER_SCHEDULER_H
#define STEEP_SCHEDULER_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/kv.h"
#include "teaclave_common.pb-c.h"

struct steep_scheduler_config {
    int executor_timeout_ms; /* [scheduler] executor_timeout_secs; default 30 s */
    int sweep_interval_ms;   /* timeout checks; default 250 ms */
    int backstop_ms;         /* staged-index rescan; default 5000 ms */
    int pull_timeout_ms;     /* PullTask wait without a grpc-timeout; default 30 s */
    int claim_timeout_ms;    /* give back an unacknowledged claim of a slot silent this long;
                                default 5000 ms (5 heartbeats) */
    /* [scheduler] durable_start (default: on with the etcd back-end): the
     * acknowledgement (UpdateTaskStatus Running) stores "started" in the
     * task record before the slot is told to go ahead, so a restarted
     * scheduler or a new leader fails a started task whose slot stays
     * silent (Executor Timeout) instead of giving it back to run again.
     * One synced write more per task. */
    bool durable_start;
};

struct steep_scheduler;

struct steep_scheduler *steep_scheduler_new(const struct steep_kv *store,
                                            const struct steep_scheduler_config *config);
/* Reconciles with storage (see above) and starts the sweeper thread. */
int steep_scheduler_start(struct steep_scheduler *scheduler);
/* Stops the sweeper and wakes every waiting PullTask (they answer empty);
 * nothing is written to storage on this core's initiative afterwards (a
 * scheduler that lost its leadership), calls still in it may finish. */
void steep_scheduler_retire(struct steep_scheduler *scheduler);
/* Retires (when not yet) and frees. */
void steep_scheduler_free(struct steep_scheduler *scheduler);

/* Steep wake-ups from management. record (may be NULL): the task record's
 * bytes as management stored them, so the claim needs no read first. */
int steep_scheduler_task_staged(struct steep_scheduler *scheduler, const char *task_id,
                                const uint8_t *record, size_t record_len);
int steep_scheduler_task_canceled(struct steep_scheduler *scheduler, const char *task_id);

/* Teaclave's RPCs. */
typedef bool (*steep_scheduler_cancelled_fn)(void *arg);
/* Waits up to timeout_ms (<= 0: the configured default) for a task; staged
 * receives the StagedTask JSON. UNKNOWN "task queue is empty" on timeout or
 * when cancelled(arg) becomes true. */
int steep_scheduler_pull(struct steep_scheduler *scheduler, const char *executor_id,
                         int64_t timeout_ms, steep_scheduler_cancelled_fn cancelled, void *arg,
                         struct steep_buf *staged);
int steep_scheduler_heartbeat(struct steep_scheduler *scheduler, const char *executor_id,
                              int status, TeaclaveCommonProto__ExecutorCommand *command);
/* executor_id (may be NULL: Teaclave's executors do not send it): the slot
 * that reports, from the steep-executor-id metadata; when given, the task
 * must be claimed by it and still held by it (not given back). */
int steep_scheduler_update_status(struct steep_scheduler *scheduler, const char *task_id,
                                  int status, const char *executor_id);
int steep_scheduler_update_result(struct steep_scheduler *scheduler, const char *task_id,
                                  const TeaclaveCommonProto__TaskResult *result);
/* PublishTask: queues the task named by the StagedTask JSON if it is Staged. */
int steep_scheduler_publish(struct steep_scheduler *scheduler, const uint8_t *staged, size_t len);

/* For tests and benchmarks: tasks queued, slots known. */
void steep_scheduler_counts(struct steep_scheduler *scheduler, int *queued, int *slots);

#endif
