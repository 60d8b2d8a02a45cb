/*
 * The attestation authority as a service (issue 16, item 4; the design
 * Teaclave used for DCAP): services on hardware back-ends send it their raw
 * evidence over TLS (the authority's report-signing certificate, which
 * chains to the as_root_ca_cert every service trusts), and it answers with
 * the IAS-v4-format report signed by its key that Teaclave's clients
 * verify.
 *
 * Why a process of its own rather than a method of an existing service:
 * it holds the one key every platform member trusts, it must run before
 * any attested service can start (they need its reports for their first
 * certificate), and it talks to an outside endpoint (PCCS). Every other
 * service needs an endorsed certificate to serve at all.
 *
 * Why the channel need not attest the client: the evidence's report data
 * is the X||Y of the caller's fresh P-256 key, so an endorsement only helps
 * the holder of that key; a replayed quote buys a report for a key the
 * replayer does not have.
 *
 * ReleaseKey is the key broker for TDX/SNP guests (lib/tee/hw/broker.h):
 * the same verification, then the measurement must be one enclave_info
 * pins; the key is wrapped to the evidence's report-data key.
 *
 * Verification: lib/tee/hw at the current time (or, loudly, a fixed one
 * for replays and tests), collateral from PCCS (Intel evidence, when
 * tee.pccs_url is set) or from tee.collateral_dir (an SNP guest's VCEK
 * from the certificate table it sends, configfs-tsm's auxblob), and the
 * fail-closed
 * policy of tee.hw_accepted_statuses / hw_accepted_advisories /
 * insecure_allow_debug. Measurements are the relying parties' to pin
 * (enclave_info), as with Intel's attestation service. Every refusal is
 * PERMISSION_DENIED (evidence refused) or INVALID_ARGUMENT (no evidence,
 * unknown kind) with the reason, or UNAVAILABLE when collateral cannot be
 * had.
 */
#ifndef STEEP_ATTESTATION_AUTHORITY_SERVICE_H
#define STEEP_ATTESTATION_AUTHORITY_SERVICE_H

#include <time.h>

#include "core/config.h"
#include "rpc/rpc.h"
#include "tee/hw/hw.h"
#include "tee/hw/pccs.h"
#include "tee/verify.h"

#define STEEP_AA_ENDORSE_PATH     "/steep_attestation_proto.SteepAttestation/Endorse"
#define STEEP_AA_RELEASE_KEY_PATH "/steep_attestation_proto.SteepKeyBroker/ReleaseKey"

struct steep_aa_options {
    const char *signing_key;  /* report-signing key (PEM) */
    const char *signing_cert; /* its certificate, chaining to as_root_ca_cert */
    const char *collateral_dir;
    const struct steep_pccs_options *pccs; /* NULL: no PCCS */
    const enum steep_hw_tcb_status *accepted_statuses;
    size_t n_accepted_statuses;
    const char *const *accepted_advisories;
    size_t n_accepted_advisories;
    bool insecure_allow_debug;
    time_t insecure_verification_time; /* 0: the clock */
    /* The key broker (lib/tee/hw/broker.h): NULL master key, no broker.
     * Keys go only to evidence whose measurement one of `services` pins
     * (enclave_info entries, auditor-verified by the caller). */
    const char *broker_master_key; /* 32-byte file */
    const struct steep_tee_enclave_attr *services;
    size_t n_services;
#ifdef STEEP_TEST_PAYLOADS
    /* Test builds only (STEEP_TEST_PAYLOADS, which `make deb` turns off, so
     * neither this field nor the keys setting it exist in a release build):
     * roots pinned instead of Intel's SGX Root CA and AMD's ARKs, for
     * evidence that tests make with their own chains (NULL fields: the real
     * roots). */
    struct steep_hw_trust insecure_test_trust;
#endif
};

struct steep_aa;

struct steep_aa *steep_aa_open(const struct steep_aa_options *options);
/* From [attestation_authority] and [tee] of steep.toml(5). */
struct steep_aa *steep_aa_open_from_config(const struct steep_config *config);
void steep_aa_free(struct steep_aa *aa);
/* The server's TLS: the report-signing certificate and key, one-way. */
void steep_aa_server_tls(struct steep_aa *aa, struct steep_tls_config *tls);
int steep_aa_register(struct steep_rpc_server *server, struct steep_aa *aa);
void steep_aa_pccs_stats(struct steep_aa *aa, struct steep_pccs_stats *stats);

#endif
