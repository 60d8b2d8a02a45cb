/* Fuzz target: StagedTask JSON from the scheduler (executors/staged_task.c). */
#include <stddef.h>
#include <stdint.h>

#include "executors/staged_task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct steep_staged_task task;
    const char *executor;
    if (steep_staged_task_parse(data, size, &task) == 0) {
        steep_staged_task_executor(&task, &executor);
        steep_staged_task_free(&task);
    }
    return 0;
}
