/*
 * The 432-byte SGX quote carried (base64) in an IAS v4 report's
 * isvEnclaveQuoteBody: a 48-byte header and the 384-byte report body, with
 * mr_enclave at byte 112, mr_signer at 176 and report_data at 368.
 * Building (sim back-end) and parsing (verifier, through steep_cursor).
 */
#ifndef STEEP_TEE_QUOTE_H
#define STEEP_TEE_QUOTE_H

#include <stdint.h>

#include "tee/tee.h"

#define STEEP_QUOTE_LEN                432
#define STEEP_QUOTE_MR_ENCLAVE_OFFSET  112
#define STEEP_QUOTE_MR_SIGNER_OFFSET   176
#define STEEP_QUOTE_REPORT_DATA_OFFSET 368

struct steep_quote {
    uint16_t version;
    uint16_t sign_type; /* EPID: signature type; DCAP (v3): attestation key type */
    uint8_t mr_enclave[32];
    uint8_t mr_signer[32];
    uint8_t report_data[64];
};

/* A DCAP-style v3 header (ECDSA-256-with-P-256 key type 2) and the body. */
void steep_quote_build(const struct steep_tee_identity *identity, const uint8_t report_data[64],
                       uint8_t out[STEEP_QUOTE_LEN]);
/* Exactly 432 bytes with a sane header (v1/v2 EPID sig type 0/1, v3 key type 2/3). */
int steep_quote_parse(const uint8_t *data, size_t len, struct steep_quote *out);

#endif
