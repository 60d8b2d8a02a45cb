/*
 * Task state transitions on the stored record. The typestate restoration of
 * Teaclave (a Created task with all data assigned counts as DataAssigned, a
 * DataAssigned task that everyone approved as Approved) is done by the
 * guards below, so each RPC sees the same promotions Teaclave's does.
 */
#include "task_state.h"

#include <string.h>

#include "core/error.h"
#include "management.h"
#include "records.h"
#include "rpc/rpc.h"

#define STATUS(name) TEACLAVE_COMMON_PROTO__TASK_STATUS__##name

static bool same_keys(const json_t *a, const json_t *b)
{
    if (json_object_size(a) != json_object_size(b))
        return false;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)a, key, value)
    {
        if (!json_object_get(b, key))
            return false;
    }
    return true;
}

bool steep_task_all_data_assigned(const struct steep_task *task)
{
    return same_keys(steep_task_inner(task->assigned_inputs),
                     steep_task_inner(task->inputs_ownership)) &&
           same_keys(steep_task_inner(task->assigned_outputs),
                     steep_task_inner(task->outputs_ownership));
}

bool steep_task_everyone_approved(const struct steep_task *task)
{
    return json_array_size(steep_record_set_uids(task->participants)) == 1 ||
           steep_record_set_equal(task->participants, task->approved_users);
}

/* The map of *part, made {"inner":{}} first when missing. */
static json_t *inner_map(json_t **part)
{
    json_t *inner = steep_task_inner(*part);
    if (!inner) {
        inner = json_object();
        json_decref(*part);
        *part = json_pack("{s:o}", "inner", inner);
    }
    return inner;
}

int steep_task_assign(struct steep_task *task, void *arg)
{
    const struct steep_task_assign *assign = arg;
    if (task->status != STATUS(Created))
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "failed to assign data to task");
    for (size_t i = 0; i < assign->n; i++) {
        const struct steep_task_assignment *item = &assign->items[i];
        const json_t *declared = item->output ? task->outputs_ownership : task->inputs_ownership;
        json_t *assigned =
            inner_map(item->output ? &task->assigned_outputs : &task->assigned_inputs);
        if (!json_object_get(steep_task_inner(declared), item->name) ||
            json_object_get(assigned, item->name))
            return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
        json_object_set(assigned, item->name, item->file);
    }
    if (steep_task_all_data_assigned(task))
        task->status = STATUS(DataAssigned);
    return 0;
}

int steep_task_approve(struct steep_task *task, void *arg)
{
    const char *user = arg;
    bool ready = task->status == STATUS(DataAssigned) ||
                 (task->status == STATUS(Created) && steep_task_all_data_assigned(task));
    if (!ready || steep_record_set_contains(task->approved_users, user))
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "failed to approve task");
    if (!json_is_object(task->approved_users)) {
        json_decref(task->approved_users);
        task->approved_users = steep_record_set(NULL, 0);
    }
    steep_record_set_add(task->approved_users, user);
    task->status = steep_task_everyone_approved(task) ? STATUS(Approved) : STATUS(DataAssigned);
    return 0;
}

bool steep_task_can_stage(const struct steep_task *task)
{
    if (task->status == STATUS(Approved))
        return true;
    return (task->status == STATUS(Created) || task->status == STATUS(DataAssigned)) &&
           steep_task_all_data_assigned(task) && steep_task_everyone_approved(task);
}

int steep_task_stage(struct steep_task *task, void *unused)
{
    if (!steep_task_can_stage(task))
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "failed to invoke task");
    task->status = STATUS(Staged);
    return 0;
}

int steep_task_cancel(struct steep_task *task, void *arg)
{
    int status = task->status;
    if (arg)
        *(int *)arg = status;
    if (status == STATUS(Finished) || status == STATUS(Failed) || status == STATUS(Canceled))
        return steep_management_fail(STEEP_GRPC_UNKNOWN,
                                     "failed to cancel task, reason: task has already been %s",
                                     status == STATUS(Canceled) ? "canceled" : "finished");
    bool started = status == STATUS(Staged) || status == STATUS(Running);
    if (steep_task_set_error(task, started ? "Task Canceled by the user" : "Task canceled") < 0)
        return steep_management_internal("cancel task");
    task->status = STATUS(Canceled);
    return 0;
}
