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

bool steep_task_all_data_assigned(const json_t *task)
{
    return same_keys(steep_record_inner(task, "assigned_inputs"),
                     steep_record_inner(task, "inputs_ownership")) &&
           same_keys(steep_record_inner(task, "assigned_outputs"),
                     steep_record_inner(task, "outputs_ownership"));
}

bool steep_task_everyone_approved(const json_t *task)
{
    const json_t *participants = json_object_get(task, "participants");
    return json_array_size(steep_record_set_uids(participants)) == 1 ||
           steep_record_set_equal(participants, json_object_get(task, "approved_users"));
}

static json_t *inner_map(json_t *task, const char *key)
{
    json_t *inner = steep_record_inner(task, key);
    if (!inner) {
        inner = json_object();
        json_object_set_new(task, key, json_pack("{s:o}", "inner", inner));
    }
    return inner;
}

int steep_task_assign(json_t *task, void *arg)
{
    const struct steep_task_assign *assign = arg;
    if (steep_record_task_status(task) != STATUS(Created))
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "failed to assign data to task");
    for (size_t i = 0; i < assign->n; i++) {
        const struct steep_task_assignment *item = &assign->items[i];
        const char *declared = item->output ? "outputs_ownership" : "inputs_ownership";
        json_t *assigned = inner_map(task, item->output ? "assigned_outputs" : "assigned_inputs");
        if (!json_object_get(steep_record_inner(task, declared), item->name) ||
            json_object_get(assigned, item->name))
            return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
        json_object_set(assigned, item->name, item->file);
    }
    if (steep_task_all_data_assigned(task))
        steep_record_task_set_status(task, STATUS(DataAssigned));
    return 0;
}

int steep_task_approve(json_t *task, void *arg)
{
    const char *user = arg;
    int status = steep_record_task_status(task);
    bool ready = status == STATUS(DataAssigned) ||
                 (status == STATUS(Created) && steep_task_all_data_assigned(task));
    json_t *approved = json_object_get(task, "approved_users");
    if (!ready || steep_record_set_contains(approved, user))
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "failed to approve task");
    if (!json_is_object(approved)) {
        approved = steep_record_set(NULL, 0);
        json_object_set_new(task, "approved_users", approved);
    }
    steep_record_set_add(approved, user);
    steep_record_task_set_status(task, steep_task_everyone_approved(task) ? STATUS(Approved)
                                                                          : STATUS(DataAssigned));
    return 0;
}

bool steep_task_can_stage(const json_t *task)
{
    int status = steep_record_task_status(task);
    if (status == STATUS(Approved))
        return true;
    return (status == STATUS(Created) || status == STATUS(DataAssigned)) &&
           steep_task_all_data_assigned(task) && steep_task_everyone_approved(task);
}

int steep_task_stage(json_t *task, void *unused)
{
    if (!steep_task_can_stage(task))
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "failed to invoke task");
    steep_record_task_set_status(task, STATUS(Staged));
    return 0;
}

int steep_task_cancel(json_t *task, void *arg)
{
    int status = steep_record_task_status(task);
    if (arg)
        *(int *)arg = status;
    if (status == STATUS(Finished) || status == STATUS(Failed) || status == STATUS(Canceled))
        return steep_management_fail(STEEP_GRPC_UNKNOWN,
                                     "failed to cancel task, reason: task has already been %s",
                                     status == STATUS(Canceled) ? "canceled" : "finished");
    bool started = status == STATUS(Staged) || status == STATUS(Running);
    steep_record_task_set_error(task, started ? "Task Canceled by the user" : "Task canceled");
    steep_record_task_set_status(task, STATUS(Canceled));
    return 0;
}
