/*
 * The SIMULATED attestation authority (sim back-end only).
 *
 * It plays the part of Intel's attestation service: a self-signed root
 * (as_root_ca_cert.pem, what verifiers trust) and an RSA report-signing
 * certificate chaining to it. It turns a quote into an IAS v4 report JSON
 * marked "steepSimulated": true, signed RSA-PKCS1-SHA256. Everything it
 * signs is a simulation: it proves nothing about hardware.
 */
#ifndef STEEP_TEE_AUTHORITY_H
#define STEEP_TEE_AUTHORITY_H

#include <time.h>

#include <openssl/x509.h>

#include "tee/quote.h"
#include "tee/tee.h"

#define STEEP_AUTHORITY_ROOT_CERT    "as_root_ca_cert.pem"
#define STEEP_AUTHORITY_ROOT_KEY     "as_root_ca_key.pem"
#define STEEP_AUTHORITY_SIGNING_CERT "authority_signing.cert.pem"
#define STEEP_AUTHORITY_SIGNING_KEY  "authority_signing.key.pem"

/* Creates dir (if needed) and the four files above; refuses to overwrite.
 * Root RSA-3072, report signing RSA-2048 (Intel's sizes). */
int steep_authority_init(const char *dir);
/* The same with a chosen root key size (tests use 2048 for speed). */
int steep_authority_init_bits(const char *dir, int root_bits);

struct steep_authority;

struct steep_authority *steep_authority_open(const char *signing_key_path,
                                             const char *signing_cert_path);
void steep_authority_free(struct steep_authority *authority);
/* Issues a simulated report with status "OK" for the quote. */
int steep_authority_issue(struct steep_authority *authority, const uint8_t quote[STEEP_QUOTE_LEN],
                          struct steep_tee_evidence *out);
/* Same with a chosen status and timestamp (tests of the verifier). */
int steep_authority_issue_at(struct steep_authority *authority,
                             const uint8_t quote[STEEP_QUOTE_LEN], const char *status, time_t when,
                             struct steep_tee_evidence *out);
/* The report-signing certificate (owned by the authority). */
X509 *steep_authority_cert(const struct steep_authority *authority);
/* Signs arbitrary report bytes as the authority would (tests). */
int steep_authority_sign(struct steep_authority *authority, const void *report, size_t len,
                         struct steep_buf *signature);

#endif
