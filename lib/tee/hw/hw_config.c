/* [tee] keys for hardware evidence; see hw_config.h. */
#include "tee/hw/hw_config.h"

#include <string.h>

#include "core/error.h"

int steep_tee_hw_statuses_parse(const char *const *names, size_t n,
                                enum steep_hw_tcb_status out[STEEP_HW_MAX_ACCEPTED_STATUSES],
                                size_t *n_out)
{
    ENSURE(n <= STEEP_HW_MAX_ACCEPTED_STATUSES, "at most %d accepted TCB statuses",
           STEEP_HW_MAX_ACCEPTED_STATUSES);
    for (size_t i = 0; i < n; i++) {
        GUARD(steep_hw_tcb_status_parse(names[i], &out[i]));
        ENSURE(out[i] != STEEP_HW_TCB_REVOKED && out[i] != STEEP_HW_TCB_NOT_SUPPORTED &&
                   out[i] != STEEP_HW_TCB_NOT_APPLICABLE,
               "TCB status %s can never be accepted", names[i]);
    }
    *n_out = n;
    return 0;
}

int steep_tee_hw_config_load(const struct steep_config *config, struct steep_tee_hw_config *out)
{
    memset(out, 0, sizeof(*out));
    const char *const *names = NULL;
    size_t n = steep_config_get_string_array(config, "tee.hw_accepted_statuses", &names);
    if (steep_tee_hw_statuses_parse(names, n, out->statuses, &out->n_statuses) < 0)
        return steep_error_wrap("[tee] hw_accepted_statuses");
    out->n_advisories =
        steep_config_get_string_array(config, "tee.hw_accepted_advisories", &out->advisories);
    out->allow_debug = steep_config_get_bool(config, "tee.insecure_allow_debug", false);
    const char *dir = steep_config_get_path(config, "tee.collateral_dir", NULL);
    if (dir) {
        if (steep_hw_collateral_load_dir(dir, &out->collateral) < 0)
            return steep_error_wrap("[tee] collateral_dir %s", dir);
        out->have_collateral = true;
    }
    return 0;
}

void steep_tee_hw_config_apply(const struct steep_tee_hw_config *hw, struct steep_tee_policy *p)
{
    p->collateral = hw->have_collateral ? &hw->collateral : NULL;
    p->hw_accepted_statuses = hw->statuses;
    p->n_hw_accepted_statuses = hw->n_statuses;
    p->hw_accepted_advisories = hw->advisories;
    p->n_hw_accepted_advisories = hw->n_advisories;
    p->insecure_allow_debug = hw->allow_debug;
}

void steep_tee_hw_config_free(struct steep_tee_hw_config *hw)
{
    if (hw->have_collateral)
        steep_hw_collateral_free(&hw->collateral);
    memset(hw, 0, sizeof(*hw));
}
