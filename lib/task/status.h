/*
 * The task status table, once: Teaclave's TaskStatus numbers (the wire
 * values of teaclave_common.proto, also libsteep's enum steep_task_status)
 * and the names stored in task records and shown to users.
 */
#ifndef STEEP_TASK_STATUS_H
#define STEEP_TASK_STATUS_H

#include <stdbool.h>

/* The stored name of a status, or NULL for a number that is none. */
const char *steep_task_status_text(int status);
/* The status of a stored name, or -1. */
int steep_task_status_value(const char *name);
/* Finished, Canceled or Failed. */
bool steep_task_status_is_terminal(int status);

#endif
