/*
 * RA-TLS certificates exactly as Teaclave builds them (teaclave-api.md
 * §9.1): fresh P-256 key, self-signed X.509 v3, serial 1, issuer CN
 * UTF8String "Teaclave", subject CN UTF8String "CN=Teaclave", valid now →
 * +90 days, and one extension, OID 2.16.840.1.113730.1.13, whose value is
 * the raw JSON {"report":[…],"signature":[…],"certs":[[…],…]} with every
 * byte string written as an array of decimal numbers.
 */
#ifndef STEEP_TEE_RATLS_H
#define STEEP_TEE_RATLS_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tee/tee.h"

#define STEEP_RATLS_OID           "2.16.840.1.113730.1.13"
#define STEEP_RATLS_MAX_EXTENSION (256 * 1024)

/*
 * Steep's private arc for its own certificate extensions: the UUID-derived
 * OID 2.25.155934407490229304263332821483270338272 (ITU-T X.667: UUID
 * 754fdfdd-90c5-4d7f-8f2c-f2a656ae76e0 as one arc under 2.25, which needs
 * no registration and collides with no one). Under it:
 *   .1  the raw hardware evidence (SGX DCAP quote v3, TDX quote v4/v5 or
 *       SEV-SNP report) exactly as the back-end produced it; its report
 *       data is the certificate key's X||Y;
 *   .2  the back-end's auxiliary evidence (configfs-tsm auxblob), if any.
 * They follow Teaclave's extension (which stays first) in certificates of
 * services on hardware back-ends; Teaclave's clients ignore them (they are
 * not critical), Steep's verify the evidence themselves when they hold
 * collateral, without trusting the attestation authority (verify.h).
 */
#define STEEP_OID_ARC               "2.25.155934407490229304263332821483270338272"
#define STEEP_RATLS_HW_EVIDENCE_OID STEEP_OID_ARC ".1"
#define STEEP_RATLS_HW_AUX_OID      STEEP_OID_ARC ".2"

/* Creates a fresh P-256 key, gets evidence for its X||Y from the TEE and
 * builds the certificate. */
int steep_ratls_create(struct steep_tee *tee, X509 **cert, EVP_PKEY **key);
/* Adds the hardware evidence extensions when evidence->hardware is set. */
int steep_ratls_add_hw_extensions(X509 *cert, const struct steep_tee_evidence *evidence);
/* Reads them into evidence->hardware / hardware_aux: 1 present, 0 absent,
 * -1 malformed (twice, empty, oversized, aux without evidence). */
int steep_ratls_parse_hw(X509 *cert, struct steep_tee_evidence *evidence);
/* Builds the certificate for a given key and evidence (also used by tests
 * to forge certificates). */
X509 *steep_ratls_build(EVP_PKEY *key, const struct steep_tee_evidence *evidence);
/* The extension JSON for evidence. */
int steep_ratls_extension_json(const struct steep_tee_evidence *evidence, struct steep_buf *out);

/*
 * Reads the evidence out of a certificate. Refuses (with a precise reason)
 * a certificate without the extension, one where it is not the FIRST
 * extension, an oversized or malformed JSON value, and the pre-v4 layout
 * without "certs".
 */
int steep_ratls_parse(X509 *cert, struct steep_tee_evidence *evidence);
/* Parses the extension JSON itself (fuzzing entry point). */
int steep_ratls_parse_json(const uint8_t *json, size_t len, struct steep_tee_evidence *evidence);

#endif
