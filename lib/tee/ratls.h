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

/* Creates a fresh P-256 key, gets evidence for its X||Y from the TEE and
 * builds the certificate. */
int steep_ratls_create(struct steep_tee *tee, X509 **cert, EVP_PKEY **key);
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
