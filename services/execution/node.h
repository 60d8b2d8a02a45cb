/*
 * An execution node: several slots, each behaving as one Teaclave executor
 * with its own executor_id (UUIDv4), serving one scheduler.
 *
 * Each slot thread long-polls PullTask, sets the task Running, runs it in
 * its own sandboxed process (executors/task.h) and reports the result with
 * UpdateTaskResult, retrying with backoff while the scheduler is
 * unreachable so a slot never stays stuck. One heartbeat thread sends every
 * slot's Heartbeat (Idle/Executing) every heartbeat_ms; a Stop reply kills
 * that slot's task process only. Stopping the node kills running tasks and
 * reports them failed ("execution node stopped").
 */
#ifndef STEEP_EXECUTION_NODE_H
#define STEEP_EXECUTION_NODE_H

#include "executors/task.h"
#include "rpc/rpc.h"

struct steep_execution_options {
    const char *scheduler_address; /* "host:port" */
    const char *scheduler_name;    /* TLS server name; NULL: host of the address */
    struct steep_tls_config tls;
    int slots;           /* 0: CPU count */
    int heartbeat_ms;    /* 0: 1000 */
    int pull_timeout_ms; /* 0: 2000 (the long poll's deadline) */
    struct steep_task_environment environment;
};

struct steep_execution_node;

struct steep_execution_node *
steep_execution_node_start(const struct steep_execution_options *options);
/* Stops pulling, kills running tasks, reports them, joins every thread, frees. */
void steep_execution_node_stop(struct steep_execution_node *node);

#endif
