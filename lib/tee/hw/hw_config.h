/*
 * The [tee] keys of steep.toml(5) that configure hardware evidence:
 *   tee.collateral_dir          Intel/AMD collateral (fixture-folder names)
 *   tee.hw_accepted_statuses    TCB statuses accepted besides UpToDate
 *   tee.hw_accepted_advisories  advisory IDs accepted with them
 *   tee.insecure_allow_debug    accept debug enclaves/guests (loud name)
 * Revoked and NotSupported cannot be listed: a configuration naming them is
 * refused when loaded, as is an unknown status name.
 */
#ifndef STEEP_TEE_HW_CONFIG_H
#define STEEP_TEE_HW_CONFIG_H

#include "core/config.h"
#include "tee/hw/hw.h"
#include "tee/verify.h"

#define STEEP_HW_MAX_ACCEPTED_STATUSES 8

struct steep_tee_hw_config {
    enum steep_hw_tcb_status statuses[STEEP_HW_MAX_ACCEPTED_STATUSES];
    size_t n_statuses;
    const char *const *advisories; /* owned by the config */
    size_t n_advisories;
    bool allow_debug;
    bool have_collateral;
    struct steep_hw_collateral collateral;
};

/* Parses a list of status names (config or command line) into out. */
int steep_tee_hw_statuses_parse(const char *const *names, size_t n,
                                enum steep_hw_tcb_status out[STEEP_HW_MAX_ACCEPTED_STATUSES],
                                size_t *n_out);
int steep_tee_hw_config_load(const struct steep_config *config, struct steep_tee_hw_config *out);
/* Points the policy's hardware fields at the loaded configuration. */
void steep_tee_hw_config_apply(const struct steep_tee_hw_config *hw, struct steep_tee_policy *p);
void steep_tee_hw_config_free(struct steep_tee_hw_config *hw);

#endif
