/*
 * The attestation authority's step for hardware evidence (the design
 * Teaclave used for DCAP): verify a service's real quote or report against
 * the collateral at `now` and the fail-closed policy, then issue an IAS v4
 * report signed by the authority's key, which Teaclave's clients already
 * verify. isvEnclaveQuoteBody is the 432-byte SGX quote body: for SGX the
 * quote's own header and report body; for TDX and SNP a v3-shaped body
 * whose mr_enclave / mr_signer are the evidence's identity digests
 * (tee_hw.c) and whose report_data is the evidence's. The status is IAS's
 * name for Intel's TCB status (OK, SW_HARDENING_NEEDED, ...), advisoryIDs
 * are listed, and steepEvidenceKind / steepTcbStatus say what was verified.
 * Nothing is marked simulated: this is hardware evidence.
 */
#ifndef STEEP_TEE_HW_ENDORSE_H
#define STEEP_TEE_HW_ENDORSE_H

#include "tee/authority.h"
#include "tee/hw/hw.h"

/* IAS's isvEnclaveQuoteStatus for an Intel TCB status ("OK" for SNP). */
const char *steep_hw_ias_status(enum steep_hw_tcb_status status);

int steep_hw_endorse(struct steep_authority *authority, const uint8_t *evidence, size_t len,
                     const struct steep_hw_collateral *collateral,
                     const struct steep_hw_policy *policy, time_t now,
                     struct steep_tee_evidence *out);
/* The same, also giving what was verified (status, advisories, valid_until),
 * with the roots of trust (NULL: Intel's and AMD's real roots). */
int steep_hw_endorse_report(struct steep_authority *authority, const uint8_t *evidence, size_t len,
                            const struct steep_hw_collateral *collateral,
                            const struct steep_hw_trust *trust,
                            const struct steep_hw_policy *policy, time_t now,
                            struct steep_tee_evidence *out, struct steep_hw_report *verified);

#endif
