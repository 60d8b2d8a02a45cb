/*
 * TCB status of a verified DCAP quote, decided the way Intel's Quote
 * Verification Library does:
 *   - the QE report must match the QE identity (MRSIGNER, ISVPRODID, masked
 *     MISCSELECT and ATTRIBUTES); its level is the first with isvsvn <= the
 *     QE's ISVSVN (none: OutOfDate);
 *   - the platform level is the first tcbLevels entry, in file order, whose
 *     16 SGX components and PCESVN the PCK certificate meets and, for TDX,
 *     whose TDX components TEE_TCB_SVN meets (from index 2 when
 *     TEE_TCB_SVN[1] != 0, whose indexes 0 and 1 are the module's); none:
 *     NotSupported;
 *   - for TDX, the module identity (TDX_%02X of TEE_TCB_SVN[1], or the
 *     generic tdxModule when it is 0) must match MRSIGNERSEAM and the masked
 *     SEAMATTRIBUTES; its level is chosen by TEE_TCB_SVN[0];
 *   - an OutOfDate module or QE turns UpToDate / SWHardeningNeeded into
 *     OutOfDate and Configuration(AndSWHardening)Needed into
 *     OutOfDateConfigurationNeeded; a Revoked one makes the result Revoked.
 * The TD 1.5 relaunch advice (only for OutOfDate results) is not modelled.
 * Advisories are the union of the matched levels', platform first.
 */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"

static void add_advisories(struct steep_hw_report *r, const struct tcb_level *level)
{
    for (size_t i = 0; i < level->n_advisories; i++) {
        bool seen = false;
        for (size_t j = 0; j < r->n_advisories && !seen; j++)
            seen = strcmp(r->advisories[j], level->advisories[i]) == 0;
        if (!seen && r->n_advisories < STEEP_HW_MAX_ADVISORIES)
            memcpy(r->advisories[r->n_advisories++], level->advisories[i], STEEP_HW_ADVISORY_LEN);
    }
}

static const struct tcb_level *level_by_isvsvn(const struct tcb_level *levels, size_t n,
                                               uint16_t isvsvn)
{
    for (size_t i = 0; i < n; i++)
        if (levels[i].isvsvn <= isvsvn)
            return &levels[i];
    return NULL;
}

static int check_qe(const struct steep_sgx_report_body *qe,
                    const struct steep_hw_collateral_item *id, struct steep_hw_report *r)
{
    ENSURE(memcmp(qe->mr_signer, id->mrsigner, 32) == 0,
           "QE identity: the QE report's MRSIGNER is not the %s identity's", id->id);
    ENSURE(qe->isv_prod_id == id->isvprodid, "QE identity: the QE report's ISVPRODID %u is not %u",
           qe->isv_prod_id, id->isvprodid);
    ENSURE((qe->miscselect & id->miscselect_mask) == id->miscselect,
           "QE identity: the QE report's masked MISCSELECT does not match");
    for (int i = 0; i < 16; i++)
        ENSURE((qe->attributes[i] & id->attributes_mask[i]) == id->attributes[i],
               "QE identity: the QE report's masked ATTRIBUTES do not match");
    const struct tcb_level *level = level_by_isvsvn(id->levels, id->n_levels, qe->isv_svn);
    r->qe_status = level ? level->status : STEEP_HW_TCB_OUT_OF_DATE;
    if (level && level->status != STEEP_HW_TCB_UP_TO_DATE)
        add_advisories(r, level);
    return 0;
}

static bool platform_matches(const struct tcb_level *level, const uint8_t pck_sgx[16],
                             uint16_t pcesvn, const struct steep_dcap_quote *q)
{
    for (int i = 0; i < 16; i++)
        if (pck_sgx[i] < level->sgx[i])
            return false;
    if (pcesvn < level->pcesvn)
        return false;
    if (q->body_type == 1)
        return true;
    if (!level->have_tdx)
        return false;
    int first = q->tdx.tee_tcb_svn[1] != 0 ? 2 : 0;
    for (int i = first; i < 16; i++)
        if (q->tdx.tee_tcb_svn[i] < level->tdx[i])
            return false;
    return true;
}

static int check_module(const struct steep_dcap_quote *q, const struct steep_hw_collateral_item *t,
                        struct steep_hw_report *r)
{
    const uint8_t *mrsigner = t->module_mrsigner, *attributes = t->module_attributes,
                  *mask = t->module_attributes_mask;
    const struct tdx_module_identity *module = NULL;
    r->module_status = STEEP_HW_TCB_UP_TO_DATE;
    ENSURE(t->have_tdx_module, "TCB info: a TDX TCB info without tdxModule");
    if (q->tdx.tee_tcb_svn[1] != 0) {
        char id[16];
        snprintf(id, sizeof(id), "TDX_%02X", q->tdx.tee_tcb_svn[1]);
        for (size_t i = 0; i < t->n_modules && !module; i++)
            if (strcmp(t->modules[i].id, id) == 0)
                module = &t->modules[i];
        ENSURE(module != NULL, "TDX module: the TCB info has no module identity %s", id);
        mrsigner = module->mrsigner;
        attributes = module->attributes;
        mask = module->attributes_mask;
    }
    ENSURE(memcmp(q->tdx.mr_signer_seam, mrsigner, 48) == 0,
           "TDX module: MRSIGNERSEAM is not the module identity's");
    for (int i = 0; i < 8; i++)
        ENSURE((q->tdx.seam_attributes[i] & mask[i]) == attributes[i],
               "TDX module: the masked SEAMATTRIBUTES do not match the module identity");
    if (module) {
        const struct tcb_level *level =
            level_by_isvsvn(module->levels, module->n_levels, q->tdx.tee_tcb_svn[0]);
        r->module_status = level ? level->status : STEEP_HW_TCB_NOT_SUPPORTED;
        if (level)
            add_advisories(r, level);
    }
    return 0;
}

/* An OutOfDate or Revoked module or QE downgrades the platform's status. */
static enum steep_hw_tcb_status converge(enum steep_hw_tcb_status platform,
                                         enum steep_hw_tcb_status other)
{
    if (other == STEEP_HW_TCB_REVOKED)
        return STEEP_HW_TCB_REVOKED;
    if (other == STEEP_HW_TCB_NOT_SUPPORTED)
        return STEEP_HW_TCB_NOT_SUPPORTED;
    if (other != STEEP_HW_TCB_OUT_OF_DATE)
        return platform;
    if (platform == STEEP_HW_TCB_UP_TO_DATE || platform == STEEP_HW_TCB_SW_HARDENING_NEEDED)
        return STEEP_HW_TCB_OUT_OF_DATE;
    if (platform == STEEP_HW_TCB_CONFIGURATION_NEEDED ||
        platform == STEEP_HW_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
        return STEEP_HW_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
    return platform;
}

int steep_hw_tcb_evaluate(const struct steep_dcap_quote *q, const uint8_t pck_sgx[16],
                          uint16_t pck_pcesvn, const struct steep_hw_collateral_item *tcb_info,
                          const struct steep_hw_collateral_item *qe_identity,
                          struct steep_hw_report *r)
{
    r->n_advisories = 0;
    const struct tcb_level *platform = NULL;
    for (size_t i = 0; i < tcb_info->n_levels && !platform; i++)
        if (platform_matches(&tcb_info->levels[i], pck_sgx, pck_pcesvn, q))
            platform = &tcb_info->levels[i];
    r->platform_status = platform ? platform->status : STEEP_HW_TCB_NOT_SUPPORTED;
    if (platform)
        add_advisories(r, platform);
    if (q->body_type != 1)
        GUARD(check_module(q, tcb_info, r));
    else
        r->module_status = STEEP_HW_TCB_UP_TO_DATE;
    GUARD(check_qe(&q->qe, qe_identity, r));

    enum steep_hw_tcb_status status = r->platform_status;
    if (status != STEEP_HW_TCB_NOT_SUPPORTED && status != STEEP_HW_TCB_REVOKED)
        status = converge(converge(status, r->module_status), r->qe_status);
    r->status = status;
    if (status == STEEP_HW_TCB_NOT_SUPPORTED)
        r->n_advisories = 0; /* no level matched: nothing to advise */
    return 0;
}
