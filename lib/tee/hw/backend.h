/*
 * Evidence back-ends for real hardware, through the interfaces the guest
 * kernel or the library OS provides:
 *
 *  - configfs-tsm (Linux 6.7+, TDX and SEV-SNP guests): an entry directory
 *    under /sys/kernel/config/tsm/report/ with inblob (the 64 bytes of
 *    report data, written), outblob (the quote or report, read), auxblob
 *    (the SNP certificate table, read when present), provider
 *    ("tdx_guest", "sev_guest") and generation (incremented by the kernel
 *    on every write to the entry). Another process writing the same entry
 *    between our write and our read would hand us a report for its data:
 *    the generation must be exactly one more than before our write, and
 *    unchanged after the read, or the attempt is retried (3 times) and then
 *    refused.
 *  - Gramine's /dev/attestation (SGX): attestation_type must be "dcap";
 *    user_report_data (64 bytes, written), then quote (read).
 *
 * The roots are parameters (tests run against fake trees that behave like
 * the kernel's and Gramine's); the defaults are the real paths.
 */
#ifndef STEEP_TEE_HW_BACKEND_H
#define STEEP_TEE_HW_BACKEND_H

#include <stdint.h>

#include "core/buf.h"
#include "tee/hw/hw.h"
#include "tee/tee.h"

#define STEEP_TSM_DEFAULT_ROOT     "/sys/kernel/config/tsm/report"
#define STEEP_GRAMINE_DEFAULT_ROOT "/dev/attestation"
#define STEEP_TSM_ATTEMPTS         3

struct steep_tsm_report {
    struct steep_buf outblob;
    struct steep_buf auxblob;
    char provider[32];
    uint64_t generation;
};

/* One report through configfs-tsm: entry `name` under root (created when
 * absent, removed after when created here). */
int steep_tsm_get_report(const char *root, const char *name,
                         const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                         struct steep_tsm_report *out);
void steep_tsm_report_free(struct steep_tsm_report *r);

/* One SGX DCAP quote through Gramine's pseudo-files under root. */
int steep_gramine_get_quote(const char *root, const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                            struct steep_buf *quote);

/* A TEE back-end (tee.h) producing hardware evidence: "sgx" (Gramine),
 * "tdx" or "snp" (configfs-tsm). Evidence is the raw quote/report in
 * evidence->hardware; measure() reads the identity from a fresh quote
 * (SGX: MRENCLAVE/MRSIGNER; TDX: SHA-256 of MRTD and of MRSIGNERSEAM...,
 * see tee_hw.c); sealing is Gramine's SGX sealing keys for sgx and refused
 * for tdx/snp, which have no sealing primitive (the authority's key broker
 * releases their keys through steep_tee_open_endorsed). */
struct steep_tee_hw_options {
    const char *backend; /* "sgx", "tdx", "snp" */
    const char *root;    /* NULL: the real path for the back-end */
};
struct steep_tee *steep_tee_open_hw(const struct steep_tee_hw_options *options);

/* Wraps a hardware back-end (taking it over, also on failure) so that its
 * evidence is endorsed by the attestation authority at address
 * (steep-attestation-authority), authenticated by root_ca. */
struct steep_tee *steep_tee_open_endorsed(struct steep_tee *hw, const char *address,
                                          const char *root_ca);

struct steep_config;
/* The back-end [tee] backend names ("sgx", "tdx", "snp"), rooted at
 * [tee] gramine_root (sgx) or [tee] tsm_root (tdx, snp) when given. */
struct steep_tee *steep_tee_open_hw_from_config(const struct steep_config *config);

#endif
