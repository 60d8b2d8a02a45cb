/*
 * Intel collateral from a PCCS-compatible HTTP(S) endpoint (Intel's PCCS,
 * or Intel PCS itself), API v4, for the attestation authority:
 *
 *   GET {url}/{sgx|tdx}/certification/v4/tcb?fmspc=HEX
 *       body {"tcbInfo":{...},"signature":"HEX"}, header TCB-Info-Issuer-Chain
 *   GET {url}/{sgx|tdx}/certification/v4/qe/identity
 *       body {"enclaveIdentity":{...},"signature":"HEX"},
 *       header SGX-Enclave-Identity-Issuer-Chain
 *   GET {url}/sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der
 *   GET {url}/sgx/certification/v4/rootcacrl
 *
 * The issuer chains are URL-encoded PEM; CRLs are accepted as DER, PEM or
 * hex-encoded DER (PCCS versions differ). The signed JSON objects are cut
 * from the response byte for byte, never re-serialised, and verified by
 * lib/tee/hw like the files of a collateral directory.
 *
 * Collateral is cached per (TEE kind, FMSPC, PCK CA). A cached set is used
 * until `refresh_margin` seconds before its earliest nextUpdate; then it is
 * fetched again. When the refresh fails, the old set is kept while it is
 * still valid (and the failure is counted); past its nextUpdate it is
 * refused, naming the failed refresh. Superseded sets stay allocated until
 * steep_pccs_free, so a verification running beside a refresh never reads
 * freed collateral (one set per refresh: a few per month).
 *
 * Time is an argument, as everywhere in lib/tee/hw. Thread-safe.
 */
#ifndef STEEP_TEE_HW_PCCS_H
#define STEEP_TEE_HW_PCCS_H

#include <stdint.h>
#include <time.h>

#include "tee/hw/hw.h"

#define STEEP_PCCS_DEFAULT_REFRESH_MARGIN 3600
#define STEEP_PCCS_DEFAULT_TIMEOUT_MS     10000

struct steep_pccs_options {
    const char *url;     /* "https://pccs.example:8081" (no trailing /sgx...) */
    const char *ca_file; /* TLS trust for https; NULL: the system's */
    int refresh_margin;  /* seconds before nextUpdate; 0: default, <0: none */
    int timeout_ms;      /* per request; 0: default */
};

struct steep_pccs_stats {
    unsigned long fetches; /* collateral sets fetched whole */
    unsigned long hits;    /* answered from the cache */
    unsigned long failed_refreshes;
};

struct steep_pccs;

struct steep_pccs *steep_pccs_new(const struct steep_pccs_options *options);
void steep_pccs_free(struct steep_pccs *pccs);

/*
 * The collateral for an Intel quote (SGX v3, TDX v4/v5) at `now`: the FMSPC
 * and PCK CA come from the quote's PCK certificate. The set returned stays
 * valid until steep_pccs_free. -1 naming the reason (unreachable endpoint,
 * HTTP status, malformed document, stale collateral).
 */
int steep_pccs_collateral(struct steep_pccs *pccs, const uint8_t *quote, size_t len, time_t now,
                          const struct steep_hw_collateral **out);
void steep_pccs_get_stats(struct steep_pccs *pccs, struct steep_pccs_stats *stats);

/* Cuts the raw value of top-level key `key` (an object) out of a JSON text;
 * exposed for tests and the fuzzer. */
int steep_pccs_raw_object(const char *json, size_t len, const char *key, const char **start,
                          size_t *object_len);

#endif
