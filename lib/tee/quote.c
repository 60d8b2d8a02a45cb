/*
 * SGX quote layout (sgx_quote_t / sgx_report_body_t). Only the fields a
 * verifier needs are read; every read goes through a bounded cursor so a
 * short or long quote is refused before any field is used.
 */
#include "tee/quote.h"

#include <string.h>

#include "core/error.h"

enum {
    HEADER_LEN = 48,
    BODY_MR_ENCLAVE = 64,
    BODY_MR_SIGNER = 128,
    BODY_REPORT_DATA = 320,
};

void steep_quote_build(const struct steep_tee_identity *identity, const uint8_t report_data[64],
                       uint8_t out[STEEP_QUOTE_LEN])
{
    memset(out, 0, STEEP_QUOTE_LEN);
    out[0] = 3; /* version 3 (DCAP), little-endian u16 */
    out[2] = 2; /* attestation key type: ECDSA-256-with-P-256 */
    /* bytes 4..7 reserved, 8..9 QE SVN, 10..11 PCE SVN, 12..27 QE vendor id,
     * 28..47 user data: left zero in simulation. */
    memcpy(out + STEEP_QUOTE_MR_ENCLAVE_OFFSET, identity->mr_enclave, 32);
    memcpy(out + STEEP_QUOTE_MR_SIGNER_OFFSET, identity->mr_signer, 32);
    memcpy(out + STEEP_QUOTE_REPORT_DATA_OFFSET, report_data, 64);
}

static int check_header(uint16_t version, uint16_t sign_type)
{
    if (version == 1 || version == 2)
        ENSURE(sign_type == 0 || sign_type == 1,
               "quote header: EPID quote version %u with unknown signature type %u", version,
               sign_type);
    else if (version == 3)
        ENSURE(sign_type == 2 || sign_type == 3,
               "quote header: DCAP quote with unknown attestation key type %u", sign_type);
    else
        return steep_error_set("quote header: unknown quote version %u", version);
    return 0;
}

int steep_quote_parse(const uint8_t *data, size_t len, struct steep_quote *out)
{
    ENSURE(len == STEEP_QUOTE_LEN, "quote is %zu bytes, expected %d", len, STEEP_QUOTE_LEN);
    struct steep_cursor cursor = steep_cursor_make(data, len);
    struct steep_cursor header, body;
    GUARD(steep_cursor_read_sub(&cursor, &header, HEADER_LEN));
    GUARD(steep_cursor_read_sub(&cursor, &body, STEEP_QUOTE_LEN - HEADER_LEN));
    GUARD(steep_cursor_read_u16le(&header, &out->version));
    GUARD(steep_cursor_read_u16le(&header, &out->sign_type));
    GUARD(check_header(out->version, out->sign_type));

    GUARD(steep_cursor_skip(&body, BODY_MR_ENCLAVE));
    GUARD(steep_cursor_read_bytes(&body, out->mr_enclave, 32));
    GUARD(steep_cursor_skip(&body, BODY_MR_SIGNER - BODY_MR_ENCLAVE - 32));
    GUARD(steep_cursor_read_bytes(&body, out->mr_signer, 32));
    GUARD(steep_cursor_skip(&body, BODY_REPORT_DATA - BODY_MR_SIGNER - 32));
    GUARD(steep_cursor_read_bytes(&body, out->report_data, 64));
    ENSURE(steep_cursor_remaining(&body) == 0, "quote body has trailing bytes");
    return 0;
}
