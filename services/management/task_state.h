/*
 * The task state machine of teaclave-api.md §5.6 on the typed task record
 * (lib/task/task.h): guards and transitions, each a steep_task_update_fn so
 * it runs inside a compare-and-swap loop and re-checks the state it finds.
 * They return 0 (write), or a gRPC status code with Teaclave's message
 * (state unchanged).
 */
#ifndef STEEP_MANAGEMENT_TASK_STATE_H
#define STEEP_MANAGEMENT_TASK_STATE_H

#include <jansson.h>
#include <stdbool.h>

#include "task/task.h"

bool steep_task_all_data_assigned(const struct steep_task *task);
bool steep_task_everyone_approved(const struct steep_task *task);

/* One AssignData item already checked against the file and the policy. */
struct steep_task_assignment {
    const char *name;
    json_t *file; /* the file record to store under assigned_{inputs,outputs} */
    bool output;
};
struct steep_task_assign {
    struct steep_task_assignment *items;
    size_t n;
};
/* Created only; every name declared and not yet assigned; then DataAssigned
 * when all data is assigned. */
int steep_task_assign(struct steep_task *task, void *assign);
/* arg: the user id. Created (with all data) or DataAssigned; adds the
 * approval; Approved when everyone approved. */
int steep_task_approve(struct steep_task *task, void *user);
/* Created/DataAssigned/Approved that pass both guards -> Staged. */
int steep_task_stage(struct steep_task *task, void *unused);
/* true when steep_task_stage would accept the task now. */
bool steep_task_can_stage(const struct steep_task *task);
/* Non-terminal -> Canceled ("Task canceled" before staging, "Task Canceled
 * by the user" after); terminal -> UNKNOWN "failed to cancel task, reason: ...".
 * arg: int * receiving the status found. */
int steep_task_cancel(struct steep_task *task, void *previous_status);

#endif
