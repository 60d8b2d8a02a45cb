/*
 * Confinement of the task runner, applied by the runner to itself after it
 * read its request and before it calls the function (runner_confine.c).
 */
#ifndef STEEP_EXECUTORS_RUNNER_CONFINE_H
#define STEEP_EXECUTORS_RUNNER_CONFINE_H

#include <stdbool.h>
#include <stdint.h>

#include "runner_protocol.h"

/* Loads what the function may need later and cannot open under seccomp
 * (OpenSSL providers and its random generator, the time zone). */
int steep_runner_prime(void);
/* Namespaces and chroot (where permitted), rlimits, crash and violation
 * reporting over channel, PR_SET_NO_NEW_PRIVS and the seccomp allow-list. */
int steep_runner_confine(const struct steep_runner_request *request, int channel, int highest_fd);
/* Tells the node when the address space ran out or an allocation failed. */
void steep_runner_report_memory(void);
/* True once a malloc/calloc/realloc of the runner failed (runner_memory.c). */
bool steep_runner_allocation_failed(void);
/* From now on, heap allocations beyond bytes in use fail (runner_memory.c). */
void steep_runner_limit_heap(uint64_t bytes);

#endif
