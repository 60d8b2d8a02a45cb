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

int steep_scheduler_register(struct steep_rpc_server *server, struct steep_scheduler *scheduler);

#endif
