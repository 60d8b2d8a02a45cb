/*
 * Registers the scheduler's RPC methods (Teaclave's TeaclaveScheduler and
 * Steep's SteepScheduler) on a server, all served by one core.
 */
#ifndef STEEP_SCHEDULER_SERVICE_H
#define STEEP_SCHEDULER_SERVICE_H

#include "rpc/rpc.h"
#include "scheduler.h"

#define STEEP_SCHEDULER_PATH_TASK_STAGED "/steep_scheduler_proto.SteepScheduler/TaskStaged"
#define STEEP_SCHEDULER_PATH_CANCEL_TASK "/steep_scheduler_proto.SteepScheduler/CancelTask"

/* The core the methods call: the leader's, or none (NULL) on a follower,
 * whose every call is answered UNAVAILABLE. */
struct steep_scheduler_gate;
struct steep_scheduler_gate *steep_scheduler_gate_new(struct steep_scheduler *scheduler);
/* Publishes scheduler (NULL: none) and returns the previous core, which
 * calls may still be in: retire it, then drain, then free it. */
struct steep_scheduler *steep_scheduler_gate_swap(struct steep_scheduler_gate *gate,
                                                  struct steep_scheduler *scheduler);
/* Waits until no call is inside a core of this gate. */
void steep_scheduler_gate_drain(struct steep_scheduler_gate *gate);
void steep_scheduler_gate_free(struct steep_scheduler_gate *gate);

int steep_scheduler_register(struct steep_rpc_server *server, struct steep_scheduler_gate *gate);

#endif
