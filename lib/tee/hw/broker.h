/*
 * The attestation authority's key broker (issue 16, item 5), for TDX and
 * SEV-SNP guests, which have no sealing primitive (Confidential
 * Containers' Trustee does the same): a service asks for its sealing key
 * with fresh evidence whose report data is the X||Y of an ephemeral P-256
 * key only it holds; the authority verifies the evidence, finds the
 * service its measurement is pinned for in enclave_info, derives the key
 * and wraps it to that ephemeral key. Only the TEE that made the evidence
 * can unwrap it; a replayed quote gets a key wrapped to someone else.
 *
 *   key     = HKDF-SHA256(master, salt "steep-broker-v1",
 *                         info service name || 0 || policy || label
 *                              [|| identity digest, for the measurement policy])
 *   wrapped = AES-256-GCM(HKDF-SHA256(ECDH(ephemeral, recipient),
 *                                     salt ephemeral X||Y || recipient X||Y,
 *                                     info "steep-broker-wrap-v1"),
 *                         nonce, aad label, key)  (32 bytes, then the 16-byte tag)
 *
 * Signer-bound keys (the default) depend on the enclave_info name only, so
 * an upgraded guest the auditors pinned under the same name gets the same
 * key; measurement-bound keys also on the exact measurement digest.
 */
#ifndef STEEP_TEE_HW_BROKER_H
#define STEEP_TEE_HW_BROKER_H

#include <stdint.h>

#include <openssl/evp.h>

#include "tee/tee.h"

#define STEEP_BROKER_MASTER_LEN  32
#define STEEP_BROKER_NONCE_LEN   12
#define STEEP_BROKER_WRAPPED_LEN (STEEP_TEE_SEAL_KEY_LEN + 16)
#define STEEP_BROKER_LABEL_MAX   128

int steep_broker_derive(const uint8_t master[STEEP_BROKER_MASTER_LEN], const char *service,
                        enum steep_tee_seal_policy policy,
                        const uint8_t identity[STEEP_TEE_MEASUREMENT_LEN], const char *label,
                        uint8_t key[STEEP_TEE_SEAL_KEY_LEN]);
/* Wraps key to recipient_xy (refused when it is no P-256 point). */
int steep_broker_wrap(const uint8_t recipient_xy[64], const char *label,
                      const uint8_t key[STEEP_TEE_SEAL_KEY_LEN], uint8_t ephemeral_xy[64],
                      uint8_t nonce[STEEP_BROKER_NONCE_LEN],
                      uint8_t wrapped[STEEP_BROKER_WRAPPED_LEN]);
int steep_broker_unwrap(EVP_PKEY *recipient, const char *label, const uint8_t ephemeral_xy[64],
                        const uint8_t nonce[STEEP_BROKER_NONCE_LEN],
                        const uint8_t wrapped[STEEP_BROKER_WRAPPED_LEN],
                        uint8_t key[STEEP_TEE_SEAL_KEY_LEN]);

#endif
