/*
 * Test harness shared by the management and scheduler tests: a struct
 * steep_kv over the real storage engine (lib/store, sealed LevelDB) in a
 * temporary directory, which can be closed and reopened to act out a
 * storage restart, and the management service's policy questions answered
 * by the real policy engine loading policies/tasks.policy in-process.
 */
#ifndef STEEP_TESTS_MANAGEMENT_HARNESS_H
#define STEEP_TESTS_MANAGEMENT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "store/kv.h"
#include "policy/acs_client.h"

struct harness_store {
    char dir[256];
    struct steep_store *store;
};

/* Creates the store in a fresh temporary directory. */
void harness_store_open(struct harness_store *h);
/* Closes and reopens the same store (a storage restart). */
void harness_store_restart(struct harness_store *h);
/* Closes the store and removes the directory. */
void harness_store_close(struct harness_store *h);
struct steep_kv harness_kv(struct harness_store *h);

/* Loads policies/tasks.policy; authorize adapter for struct steep_management. */
void *harness_policy_load(void);
void harness_policy_free(void *policy);
int harness_authorize(void *policy, const char *request, const struct steep_acs_field *fields,
                      size_t nfields, const struct steep_acs_fact *facts, size_t nfacts,
                      bool *accept, char *reason, size_t reason_len);

#endif
