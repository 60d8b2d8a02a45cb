/*
 * Integrity of multi-party work (issue 14, items 10-12): what an approval
 * covers, a usage quota that holds under concurrent invokes, and outputs
 * that are written once.
 *
 * - Function pinning. CreateTask records in the task the content of the
 *   function it binds ("function_content": executor type, name, SHA-256 of
 *   the payload, declared arguments, inputs and outputs); every approval is
 *   an approval of that content. InvokeTask compares it with the function as
 *   stored now and refuses when anything differs, so an UpdateFunction after
 *   the approvals never runs under them (the StagedTask is built from the
 *   very function record that was compared). Deviation from Teaclave, which
 *   runs whatever the function is at invoke time: the caller creates a new
 *   task (and its participants approve the new content). Tasks stored
 *   without the field (written before pinning existed) are refused the same
 *   way: nobody can say what their approvals covered.
 * - Quota. For a function with a usage quota the use is reserved by a
 *   compare-and-swap on its "usage-" record that also checks the quota, before
 *   the task is staged; a stage that then fails gives the use back. So of
 *   any number of concurrent invokes exactly quota - used win. A crash
 *   between the reservation and the stage leaves one use counted that never
 *   ran (the quota errs on the side of refusing).
 * - Write-once outputs. AssignData claims each output file for (task, name)
 *   by a compare-and-swap on the file record (fields "assigned_task" and
 *   "assigned_name", Steep's additions to the §5.7 file record) before the
 *   task record changes; a file claimed by another task or name is refused,
 *   and claims are given back when the assignment does not go through.
 *
 * Refusals use Teaclave's codes and messages for the step (UNKNOWN "failed to
 * invoke task" / "failed to assign data to task"), followed by ", reason: "
 * and what happened.
 */
#ifndef STEEP_MANAGEMENT_INTEGRITY_H
#define STEEP_MANAGEMENT_INTEGRITY_H

#include <jansson.h>
#include <stdbool.h>

#include "management.h"

/* The content of a function record an approval covers (new reference, NULL
 * on allocation failure or a payload that is not a byte array). */
json_t *steep_integrity_function_content(const json_t *function);

/* 0 when function still has the content pinned (the task record's
 * function_content, NULL when it has none) at the task's creation, else
 * UNKNOWN "failed to invoke task, reason: ..." (or INTERNAL on allocation
 * failure). */
int steep_integrity_check_function(const json_t *pinned, const json_t *function);

/* Reserves one use of a function with a quota: 0 with *reserved (false when
 * the function has no quota: nothing done), UNKNOWN "function quota has been
 * used up", or INTERNAL. */
int steep_integrity_reserve_use(struct steep_management *m, const char *usage_key,
                                const json_t *function, bool *reserved);
/* Gives a reserved use back (best effort, logged). */
void steep_integrity_release_use(struct steep_management *m, const char *usage_key);

/* Claims output file file_key for (task_key, name): 0 with *claimed (false
 * when it was already this task's under this name), UNKNOWN "failed to
 * assign data to task, reason: ..." when another task or name holds it or it
 * was written already, or INTERNAL. */
int steep_integrity_claim_output(struct steep_management *m, const char *file_key,
                                 const char *task_key, const char *name, bool *claimed);
/* Gives a claim made by steep_integrity_claim_output back (best effort). */
void steep_integrity_release_output(struct steep_management *m, const char *file_key,
                                    const char *task_key);

#endif
