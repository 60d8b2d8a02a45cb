/*
 * The execution node's calls to the scheduler (Teaclave's TeaclaveScheduler
 * RPCs, teaclave-api.md §7), one typed function per RPC over lib/rpc.
 * Every function returns 0, or -1 with the gRPC status in *status.
 */
#ifndef STEEP_EXECUTION_SCHEDULER_CLIENT_H
#define STEEP_EXECUTION_SCHEDULER_CLIENT_H

#include <stdbool.h>

#include "core/buf.h"
#include "executors/task.h"
#include "rpc/rpc.h"

/* Long poll; on success the StagedTask JSON is in staged_task. */
int steep_scheduler_pull_task(struct steep_rpc_client *client, const char *executor_id,
                              int timeout_ms, struct steep_buf *staged_task,
                              struct steep_rpc_status *status);
/* UpdateTaskStatus(Running) as slot executor_id (steep-executor-id
 * metadata): FAILED_PRECONDITION when the scheduler gave the claim back. */
int steep_scheduler_set_running(struct steep_rpc_client *client, const char *executor_id,
                                const char *task_id, int timeout_ms,
                                struct steep_rpc_status *status);
int steep_scheduler_report(struct steep_rpc_client *client, const char *task_id,
                           const struct steep_task_outcome *outcome, int timeout_ms,
                           struct steep_rpc_status *status);
/* *stop is set when the scheduler answers Stop. */
int steep_scheduler_heartbeat(struct steep_rpc_client *client, const char *executor_id,
                              bool executing, int timeout_ms, bool *stop,
                              struct steep_rpc_status *status);

/* True for failures worth retrying (transport, not the scheduler's refusal). */
bool steep_scheduler_retryable(const struct steep_rpc_status *status);

#endif
