/*
 * Synthetic Intel evidence for tests and benchmarks: a copy of a real
 * fixture quote (SGX v3 or TDX v4/v5) with any report data (and, for TDX,
 * any MRTD), signed through a chain made here. A root, PCK CA, PCK leaf
 * (keeping the real leaf's SGX extension: FMSPC, TCB) and TCB Signing
 * certificate carry Intel's exact names but new keys; each quote gets a new
 * attestation key, bound by the real QE report (re-signed by the new leaf)
 * with the quote's own QE authentication data; the real TCB info and QE
 * identity are re-signed, the CRLs made here. Verified under the test root
 * (hw_synth.root_pin, struct steep_hw_trust), such a quote gets the real
 * vector's TCB status; under Intel's real pin it is refused (never by name).
 *
 * This is what lets a positive key release or endorsement run end to end:
 * real quotes bind a fixed report data, not our ephemeral key, and any
 * change to them breaks their signature. Set-up failures abort.
 */
#ifndef STEEP_TESTS_TEE_HW_SYNTH_H
#define STEEP_TESTS_TEE_HW_SYNTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "tee/hw/hw.h"

struct hw_synth {
    char vector[64];
    EVP_PKEY *root_key, *ca_key, *leaf_key, *signing_key;
    X509 *root, *ca, *leaf, *signing;
    uint8_t root_pin[32];         /* SHA-256 of the test root's SubjectPublicKeyInfo */
    struct steep_buf real;        /* the vector's quote */
    struct steep_buf pck_pem;     /* leaf, CA, root */
    struct steep_hw_collateral c; /* the vector's collateral through the test chain */
    time_t now;                   /* the vector's pinned instant */
};

void hw_synth_init(struct hw_synth *s, const char *vector);
void hw_synth_free(struct hw_synth *s);
/* A quote binding report_data; mr_td (TDX, NULL: the real one) replaces the
 * MRTD. free() it. */
uint8_t *hw_synth_quote(const struct hw_synth *s, const uint8_t report_data[64],
                        const uint8_t *mr_td, size_t *len);
/* The collateral as files of the fixture folder's names in dir (which exists). */
void hw_synth_write_collateral(const struct hw_synth *s, const char *dir);
/* The offsets of a quote's REPORTDATA and (TDX) MRTD. */
size_t hw_synth_report_data_offset(const uint8_t *quote, size_t len);
size_t hw_synth_mr_td_offset(const uint8_t *quote, size_t len);

/* The same for AMD: a copy of a real SEV-SNP report with any report data
 * (and measurement), signed by a VCEK made here (P-384, the real VCEK's
 * name and AMD extensions: product, SPLs, hwID) under an ASK and an ARK
 * made here (RSA-2048, RSASSA-PSS SHA-384 as AMD signs), the ARK pinned by
 * hw_synth_snp.ark_pin. */
struct hw_synth_snp {
    char vector[64];
    EVP_PKEY *ark_key, *ask_key, *vcek_key;
    X509 *ark, *ask, *vcek;
    uint8_t ark_pin[32];
    struct steep_buf real;
    STACK_OF(X509) * ask_ark; /* ASK, then ARK */
    time_t now;
};

void hw_synth_snp_init(struct hw_synth_snp *s, const char *vector);
void hw_synth_snp_free(struct hw_synth_snp *s);
/* A report binding report_data; measurement (NULL: the real one). free() it. */
uint8_t *hw_synth_snp_report(const struct hw_synth_snp *s, const uint8_t report_data[64],
                             const uint8_t *measurement, size_t *len);
/* The guest's certificate table (configfs-tsm auxblob) holding the VCEK. free() it. */
uint8_t *hw_synth_snp_cert_table(const struct hw_synth_snp *s, size_t *len);
/* ask_ark_test.pem (ASK then ARK) in dir. */
void hw_synth_snp_write_ask_ark(const struct hw_synth_snp *s, const char *dir);

/* The pieces, also for tests that make other chains. */
X509 *hw_synth_cert(X509 *model, X509 *issuer, EVP_PKEY *key, EVP_PKEY *issuer_key, long serial,
                    bool ca, time_t now);
void hw_synth_sign_raw(EVP_PKEY *key, const void *data, size_t len, uint8_t out[64]);
X509_CRL *hw_synth_crl(X509 *issuer, EVP_PKEY *key, X509 *const *revoked, size_t n, time_t now);
void hw_synth_append_pem(struct steep_buf *out, X509 *cert);

#endif
