/*
 * Attestation glue for services: everything a service needs to talk over
 * mutually attested TLS, from its configuration.
 *
 * steep_attested_open() measures this process (sim back-end today), checks
 * every auditor signature over enclave_info (refusing to start on a missing
 * or bad one), creates a fresh P-256 key and RA-TLS certificate, and starts
 * a background thread that renews key, evidence and certificate before the
 * evidence expires. The TLS configurations it hands out ask for the current
 * certificate at every handshake, so renewal needs no restart and drops no
 * connection. Peer verdicts are cached per certificate hash with an expiry,
 * so repeated handshakes with the same peer skip the RSA/chain work.
 *
 * Configuration keys (one platform TOML file, lib/core/config.h; paths are
 * relative to the config file):
 *   [attestation] algorithm = "sim"   (Teaclave's key)
 *   [audit] enclave_info, auditor_signatures   (Teaclave's keys)
 *   [tee]
 *   backend = "sim"            # or "sgx", "tdx", "snp" (lib/tee/hw/backend.h)
 *   authority_address = "host:port"   # hardware back-ends: the attestation
 *                                     # authority that endorses our evidence
 *   as_root_ca_cert = "as_root_ca_cert.pem"            # trusted attestation root
 *   authority_key = "keys/authority_signing.key.pem"   # sim: the SIMULATED authority
 *   authority_cert = "keys/authority_signing.cert.pem"
 *   platform_public_key = "keys/platform_signing.pub.pem"  # sim: mr_signer
 *   master_key = "keys/master.key"                     # sim: sealing master key
 *   auditor_public_keys = ["auditors/a.public.pem", ...]
 *   allow_simulation = false   # accept SIMULATED evidence from peers (development only)
 *   evidence_validity = 3600   # seconds before our evidence is renewed
 *   max_report_age = 86400     # seconds; older peer reports are refused
 *   accepted_statuses = []     # quote statuses accepted besides "OK"
 */
#ifndef STEEP_TEE_ATTESTED_H
#define STEEP_TEE_ATTESTED_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/error.h"
#include "rpc/rpc.h"
#include "tee/enclave_info.h"
#include "tee/hw/hw_config.h"
#include "tee/tee.h"
#include "tee/verify.h"

#define STEEP_ATTESTED_DEFAULT_VALIDITY 3600

struct steep_attested_options {
    const char *service_name; /* "teaclave_storage_service", for logs */
    const char *exe_path;     /* NULL: /proc/self/exe */
    /* sim back-end */
    const char *authority_key;
    const char *authority_cert;
    const char *platform_public_key;
    const char *master_key; /* NULL: no sealing */
    /* verification */
    const char *root_ca;
    const char *enclave_info_path; /* or the bytes: */
    const uint8_t *enclave_info_data;
    size_t enclave_info_len;
    const char *const *signature_paths; /* or the bytes: */
    size_t n_signature_paths;
    const struct steep_enclave_info_signature *signatures;
    size_t n_signatures;
    const char *const *auditor_public_keys;
    size_t n_auditor_public_keys;
    bool insecure_allow_simulation;
    int evidence_validity;  /* seconds; 0: 3600 */
    int64_t max_report_age; /* seconds; 0: 24 h */
    const char *const *accepted_statuses;
    size_t n_accepted_statuses;
    int verdict_cache_ttl; /* seconds; 0: 300; <0: no cache */
    /* A back-end other than sim (e.g. steep_tee_open_endorsed over a
     * hardware one), taken over by steep_attested_open even when it fails;
     * NULL: the sim back-end from the fields above. */
    struct steep_tee *tee;
    /* Collateral and hardware policy for peers whose certificates carry raw
     * hardware evidence (verify.h); moved into the attested state (the
     * caller's copy is cleared). NULL: none. */
    struct steep_tee_hw_config *hw_config;
};

struct steep_attested;

struct steep_attested *steep_attested_open(const struct steep_attested_options *options);
/* The same from the platform config (keys above); service_name as in enclave_info. */
struct steep_attested *steep_attested_open_from_config(const struct steep_config *config,
                                                       const char *service_name);
/* Stops the renewal thread and frees everything, including the TLS
 * configurations handed out: free servers and clients that use them first. */
void steep_attested_free(struct steep_attested *attested);

/*
 * TLS for a server endpoint. n_inbound == 0: one-way (public endpoints; no
 * client certificate requested). Otherwise mutual: a client certificate is
 * required and must attest as one of the inbound service names, which then
 * becomes the call's peer_name. The configuration stays valid until
 * steep_attested_free().
 */
int steep_attested_server_tls(struct steep_attested *attested, const char *const *inbound,
                              size_t n_inbound, struct steep_tls_config *out);
/* TLS for a client connection pinned to one peer service name; presents
 * this service's certificate for mutual attestation. */
int steep_attested_client_tls(struct steep_attested *attested, const char *peer_service,
                              struct steep_tls_config *out);
/* A persistent 32-byte key for label, sealed to the signer (survives upgrades). */
int steep_attested_seal_key(struct steep_attested *attested, const char *label,
                            uint8_t key[STEEP_TEE_SEAL_KEY_LEN]);
struct steep_tee *steep_attested_tee(struct steep_attested *attested);
/* Renews key, evidence and certificate now (the background thread does it
 * on schedule). */
int steep_attested_renew(struct steep_attested *attested);
/* Peer verdicts answered from the cache (hits) or verified in full (misses). */
void steep_attested_verdict_cache_stats(struct steep_attested *attested, unsigned long *hits,
                                        unsigned long *misses);
/* How many times the certificate was created (1 after open). */
unsigned steep_attested_generation(struct steep_attested *attested);

/* ---- Attesting a remote service (steep-tee attest, steep attest) ---- */

struct steep_tee_attest_options {
    const char *root_ca;
    const char *enclave_info; /* path */
    bool insecure_allow_simulation;
    int64_t max_report_age; /* 0: default */
    int timeout_ms;         /* 0: 5000 */
};

struct steep_tee_attest_result {
    bool accepted;
    bool have_evidence;                /* verdict fields below are meaningful */
    char known_as[STEEP_TEE_NAME_MAX]; /* enclave_info name of the measurement, or "" */
    struct steep_tee_verdict verdict;
    char reason[STEEP_ERROR_MAX];
    char tls_version[16];
    char alpn[16];
};

/* Connects (TLS, ALPN h2), reads the peer's RA-TLS certificate and verifies
 * it against every service in enclave_info. Returns 0 when a verdict was
 * reached (see result->accepted), -1 when no TLS connection was made. */
int steep_tee_attest_peer(const char *host_port, const struct steep_tee_attest_options *options,
                          struct steep_tee_attest_result *result);
void steep_tee_attest_print(FILE *out, const char *host_port,
                            const struct steep_tee_attest_result *result);

#endif
