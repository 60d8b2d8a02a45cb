/*
 * Usage counts of functions without a quota: written with the stage as a
 * pending record, folded into "usage-<function>" in the background (design
 * in usage.c).
 */
#ifndef STEEP_MANAGEMENT_USAGE_H
#define STEEP_MANAGEMENT_USAGE_H

#include <stdint.h>

#include "management.h"

/* "usagepending-<function uuid>-<task uuid>" */
#define STEEP_USAGE_PENDING_KEY 96
int steep_usage_pending_key(char out[STEEP_USAGE_PENDING_KEY], const char *function_uuid,
                            const char *task_uuid);

/* Folds every pending record into its function's usage record; -1 on a
 * storage failure (what is not folded is folded by the next call). */
int steep_management_usage_fold(struct steep_management *m);

/* How many of the function's uses are pending (not folded yet). */
int steep_management_usage_pending(struct steep_management *m, const char *function_uuid,
                                   int64_t *pending);

/* The function's use count: its usage record plus its unfolded pending records. */
int steep_management_usage_current(struct steep_management *m, const char *function_uuid,
                                   int64_t *current);

#endif
