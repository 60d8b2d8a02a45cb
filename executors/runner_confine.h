/*
 * Confinement of the task runner, applied by the runner to itself after it
 * read its request and before it calls the function (runner_confine.c).
 */
#ifndef STEEP_EXECUTORS_RUNNER_CONFINE_H
#define STEEP_EXECUTORS_RUNNER_CONFINE_H

#include "runner_protocol.h"

/* Loads what the function may need later and cannot open under seccomp
 * (OpenSSL providers and its random generator, the time zone). */
int steep_runner_prime(void);
/* Namespaces and chroot (where permitted), rlimits, crash and violation
 * reporting over channel, PR_SET_NO_NEW_PRIVS and the seccomp allow-list. */
int steep_runner_confine(const struct steep_runner_request *request, int channel, int highest_fd);
/* After a failed function: tells the node when the address space ran out. */
void steep_runner_report_memory(void);

#endif
