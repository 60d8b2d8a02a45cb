/* The task status table (status.h). */
#include "task/status.h"

#include <stddef.h>
#include <string.h>

/* Teaclave's TaskStatus numbers (teaclave_common.proto). */
static const struct {
    int value;
    const char *name;
} statuses[] = {
    {0, "Created"}, {1, "DataAssigned"}, {2, "Approved"},  {3, "Staged"},
    {4, "Running"}, {10, "Finished"},    {20, "Canceled"}, {99, "Failed"},
};

const char *steep_task_status_text(int status)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].value == status)
            return statuses[i].name;
    return NULL;
}

int steep_task_status_value(const char *name)
{
    for (size_t i = 0; name && i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(statuses[i].name, name) == 0)
            return statuses[i].value;
    return -1;
}

bool steep_task_status_is_terminal(int status)
{
    return status == 10 || status == 20 || status == 99;
}
