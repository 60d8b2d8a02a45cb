/*
 * Fail-closed verification of attestation evidence and RA-TLS certificates.
 *
 * Checks, in order, each refusal with its own reason (steep_error_get()):
 *   1. the signing certificate certs[0] chains (certs[1..] as intermediates)
 *      to a trusted root at the verification time;
 *   2. the report's RSA-PKCS1-SHA256 signature verifies under certs[0];
 *   3. the report is IAS v4 JSON (version 4, timestamp, status, quote body);
 *   4. the report is not older than max_report_age nor from the future
 *      beyond max_future_skew;
 *   5. the quote status is "OK" or one the policy lists;
 *   6. simulated evidence only when the policy loudly allows it;
 *   7. the quote is 432 bytes with a sane header;
 *   8. report_data[0..64] equals the certificate key's X||Y;
 *   9. (mr_enclave, mr_signer) is one of the accepted pairs; the pair's
 *      service name is the peer's identity.
 * For a certificate, the RA-TLS extension must be present and FIRST. When
 * the certificate also carries raw hardware evidence (ratls.h, Steep's
 * private arc) and the policy holds collateral, that evidence is verified
 * instead (steep_tee_verify_hw_evidence against the certificate key), so
 * the attestation authority need not be trusted; a malformed hardware
 * extension is refused either way.
 */
#ifndef STEEP_TEE_VERIFY_H
#define STEEP_TEE_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "tee/hw/hw.h"
#include "tee/tee.h"

#define STEEP_TEE_NAME_MAX               64
#define STEEP_TEE_DEFAULT_MAX_REPORT_AGE (24 * 3600)
#define STEEP_TEE_DEFAULT_FUTURE_SKEW    300

/* One accepted measurement pair for a service name (from enclave_info). */
struct steep_tee_enclave_attr {
    char name[STEEP_TEE_NAME_MAX];
    uint8_t mr_enclave[STEEP_TEE_MEASUREMENT_LEN];
    uint8_t mr_signer[STEEP_TEE_MEASUREMENT_LEN];
    /* The entry pins only hardware kinds (no mr_enclave/mr_signer pair). */
    bool no_sgx_pair;
    /* Hardware measurements: enclave_info's tdx_mrtd, tdx_rtmr0..3 and
     * snp_measurement keys; SGX uses the pair above. */
    struct steep_hw_measurements hw;
};

struct steep_tee_policy {
    X509_STORE *roots;                    /* trusted attestation roots; required */
    time_t now;                           /* verification time; 0: the current clock */
    int64_t max_report_age;               /* seconds; 0: STEEP_TEE_DEFAULT_MAX_REPORT_AGE */
    int64_t max_future_skew;              /* seconds; 0: STEEP_TEE_DEFAULT_FUTURE_SKEW */
    const char *const *accepted_statuses; /* besides "OK" */
    size_t n_accepted_statuses;
    const struct steep_tee_enclave_attr *accepted; /* at least one required */
    size_t n_accepted;
    /* Accept reports of the SIMULATED authority ("steepSimulated": true).
     * They prove nothing about hardware: development and tests only. */
    bool insecure_allow_simulated_evidence;

    /* Hardware evidence (steep_tee_verify_hw_evidence): the collateral, the
     * pinned roots (NULL: the vendors'), and the fail-closed policy of
     * lib/tee/hw: statuses besides UpToDate, the advisories accepted with
     * them, and debug enclaves/guests (loudly). Measurements come from
     * `accepted` above. */
    const struct steep_hw_collateral *collateral;
    const struct steep_hw_trust *hw_trust;
    const enum steep_hw_tcb_status *hw_accepted_statuses;
    size_t n_hw_accepted_statuses;
    const char *const *hw_accepted_advisories;
    size_t n_hw_accepted_advisories;
    bool insecure_allow_debug;
};

/* What was learned about the peer; fields are filled as far as parsing got. */
struct steep_tee_verdict {
    bool have_report;              /* status, report_time, simulated are set */
    bool have_quote;               /* mr_enclave, mr_signer are set */
    char name[STEEP_TEE_NAME_MAX]; /* the accepted service name, on success */
    char status[64];
    time_t report_time;
    bool simulated;
    uint8_t mr_enclave[STEEP_TEE_MEASUREMENT_LEN];
    uint8_t mr_signer[STEEP_TEE_MEASUREMENT_LEN];
    bool have_hw; /* hw is set: hardware evidence verified as authentic */
    struct steep_hw_report hw;
};

/* Verifies evidence for the expected report data. 0 accepted; -1 refused. */
int steep_tee_verify_evidence(const struct steep_tee_evidence *evidence,
                              const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                              const struct steep_tee_policy *policy,
                              struct steep_tee_verdict *verdict);
/*
 * Verifies raw hardware evidence (SGX DCAP quote, TDX quote, SNP report;
 * the kind from the bytes) at policy->now (required: the verifier reads no
 * clock) against policy->collateral: authenticity (lib/tee/hw), then the
 * policy (status, advisories, debug), then report_data[0..64] equals the
 * expected report data, then the measurement is one of `accepted`.
 */
int steep_tee_verify_hw_evidence(const uint8_t *evidence, size_t len,
                                 const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                                 const struct steep_tee_policy *policy,
                                 struct steep_tee_verdict *verdict);
/* The hardware measurements enclave_info entries pin (an SGX entry's pair
 * as MRENCLAVE/MRSIGNER), for steep_hw_policy_check; free() the array. */
struct steep_hw_measurements *
steep_tee_pinned_measurements(const struct steep_tee_enclave_attr *accepted, size_t n);
/* Verifies an RA-TLS certificate (extension + key binding + evidence). */
int steep_tee_verify_cert(X509 *cert, const struct steep_tee_policy *policy,
                          struct steep_tee_verdict *verdict);

/* A store holding the certificates of a PEM or DER file. */
X509_STORE *steep_tee_roots_load(const char *path);

#endif
