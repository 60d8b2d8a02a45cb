/*
 * Parser of Intel DCAP quotes: SGX quote v3 and TDX quotes v4/v5 (Intel's
 * "Quote Library" layouts, ../shared/fixtures/hw-attestation/README.md).
 *
 * Every byte is read through a bounded cursor; each length field opens a
 * sub-cursor that must be consumed exactly, so a length that points past the
 * buffer or into the wrong structure fails cleanly. Nothing is verified here
 * (dcap_verify.c does that); only layout and the constants the layout
 * depends on (version, key type, TEE type, body type and size, Intel's QE
 * vendor ID, certification data types).
 *
 * Bytes after the quote's declared end (header + body + 4 + signature data
 * length) are ignored and counted in trailing_len: they are covered by no
 * signature, and real tools pad quotes (tdx_v4_dcapqvl has 70 zero bytes,
 * tdx_v4_gotdx 39 bytes of text).
 */
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "tee/hw/hw.h"

enum {
    KEY_TYPE_ECDSA_P256 = 2,
    TEE_TYPE_SGX = 0x00000000,
    TEE_TYPE_TDX = 0x00000081,
    BODY_SGX = 1,
    BODY_TD10 = 2,
    BODY_TD15 = 3,
    TD10_LEN = 584,
    TD15_LEN = 648,
    CERT_QE_REPORT = 6,
    CERT_PCK_CHAIN = 5,
    MAX_CERT_DATA = 64 * 1024,
};

static const uint8_t intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                               0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/* An SGX REPORT body (384 bytes): the enclave's or the QE's. */
static int read_sgx_report(struct steep_cursor *c, struct steep_sgx_report_body *r)
{
    struct steep_cursor b;
    GUARD(steep_cursor_read_sub(c, &b, STEEP_SGX_REPORT_LEN));
    GUARD(steep_cursor_read_bytes(&b, r->cpusvn, 16));
    GUARD(steep_cursor_read_u32le(&b, &r->miscselect));
    GUARD(steep_cursor_skip(&b, 12));                      /* reserved */
    GUARD(steep_cursor_skip(&b, 16));                      /* ISVEXTPRODID */
    GUARD(steep_cursor_read_bytes(&b, r->attributes, 16)); /* @48 */
    GUARD(steep_cursor_read_bytes(&b, r->mr_enclave, 32)); /* @64 */
    GUARD(steep_cursor_skip(&b, 32));
    GUARD(steep_cursor_read_bytes(&b, r->mr_signer, 32)); /* @128 */
    GUARD(steep_cursor_skip(&b, 32));
    GUARD(steep_cursor_read_bytes(&b, r->config_id, 64)); /* @192 */
    GUARD(steep_cursor_read_u16le(&b, &r->isv_prod_id));  /* @256 */
    GUARD(steep_cursor_read_u16le(&b, &r->isv_svn));
    GUARD(steep_cursor_read_u16le(&b, &r->config_svn));
    GUARD(steep_cursor_skip(&b, 42));
    GUARD(steep_cursor_read_bytes(&b, r->isv_family_id, 16)); /* @304 */
    GUARD(steep_cursor_read_bytes(&b, r->report_data, 64));   /* @320 */
    ENSURE(steep_cursor_remaining(&b) == 0, "SGX report body layout error");
    return 0;
}

static int read_td_report(struct steep_cursor *c, bool td15, struct steep_tdx_report_body *r)
{
    struct steep_cursor b;
    GUARD(steep_cursor_read_sub(c, &b, td15 ? TD15_LEN : TD10_LEN));
    GUARD(steep_cursor_read_bytes(&b, r->tee_tcb_svn, 16));
    GUARD(steep_cursor_read_bytes(&b, r->mr_seam, 48));
    GUARD(steep_cursor_read_bytes(&b, r->mr_signer_seam, 48));
    GUARD(steep_cursor_read_bytes(&b, r->seam_attributes, 8));
    GUARD(steep_cursor_read_bytes(&b, r->td_attributes, 8));
    GUARD(steep_cursor_read_bytes(&b, r->xfam, 8));
    GUARD(steep_cursor_read_bytes(&b, r->mr_td, 48));
    GUARD(steep_cursor_read_bytes(&b, r->mr_config_id, 48));
    GUARD(steep_cursor_read_bytes(&b, r->mr_owner, 48));
    GUARD(steep_cursor_read_bytes(&b, r->mr_owner_config, 48));
    for (int i = 0; i < 4; i++)
        GUARD(steep_cursor_read_bytes(&b, r->rtmr[i], 48));
    GUARD(steep_cursor_read_bytes(&b, r->report_data, 64));
    r->td15 = td15;
    if (td15) {
        GUARD(steep_cursor_read_bytes(&b, r->tee_tcb_svn2, 16));
        GUARD(steep_cursor_read_bytes(&b, r->mr_service_td, 48));
    }
    ENSURE(steep_cursor_remaining(&b) == 0, "TD report body layout error");
    return 0;
}

static int read_header(struct steep_cursor *c, struct steep_dcap_quote *q)
{
    struct steep_cursor h;
    GUARD(steep_cursor_read_sub(c, &h, STEEP_DCAP_HEADER_LEN));
    GUARD(steep_cursor_read_u16le(&h, &q->version));
    GUARD(steep_cursor_read_u16le(&h, &q->att_key_type));
    GUARD(steep_cursor_read_u32le(&h, &q->tee_type));
    GUARD(steep_cursor_read_u16le(&h, &q->qe_svn));
    GUARD(steep_cursor_read_u16le(&h, &q->pce_svn));
    GUARD(steep_cursor_read_bytes(&h, q->qe_vendor_id, 16));
    GUARD(steep_cursor_read_bytes(&h, q->user_data, 20));
    ENSURE(q->version >= 3 && q->version <= 5,
           "quote header: version %u is not a DCAP quote (3, 4 or 5)", q->version);
    ENSURE(q->att_key_type == KEY_TYPE_ECDSA_P256,
           "quote header: attestation key type %u is not ECDSA-256-with-P-256 (2)",
           q->att_key_type);
    if (q->version == 3)
        ENSURE(q->tee_type == TEE_TYPE_SGX, "quote header: v3 quote with TEE type 0x%08x",
               q->tee_type);
    else
        ENSURE(q->tee_type == TEE_TYPE_SGX || q->tee_type == TEE_TYPE_TDX,
               "quote header: unknown TEE type 0x%08x", q->tee_type);
    ENSURE(memcmp(q->qe_vendor_id, intel_qe_vendor_id, 16) == 0,
           "quote header: the QE vendor ID is not Intel's");
    return 0;
}

static int read_body(struct steep_cursor *c, struct steep_dcap_quote *q)
{
    if (q->version == 5) {
        uint32_t size;
        GUARD(steep_cursor_read_u16le(c, &q->body_type));
        GUARD(steep_cursor_read_u32le(c, &size));
        uint32_t want = q->body_type == BODY_SGX    ? STEEP_SGX_REPORT_LEN
                        : q->body_type == BODY_TD10 ? TD10_LEN
                        : q->body_type == BODY_TD15 ? TD15_LEN
                                                    : 0;
        ENSURE(want != 0, "quote body descriptor: unknown body type %u", q->body_type);
        ENSURE(size == want, "quote body descriptor: type %u body of %u bytes (expected %u)",
               q->body_type, size, want);
        ENSURE((q->body_type == BODY_SGX) == (q->tee_type == TEE_TYPE_SGX),
               "quote body descriptor: body type %u does not match TEE type 0x%08x", q->body_type,
               q->tee_type);
    } else
        q->body_type = q->tee_type == TEE_TYPE_SGX ? BODY_SGX : BODY_TD10;
    if (q->body_type == BODY_SGX)
        return read_sgx_report(c, &q->sgx);
    return read_td_report(c, q->body_type == BODY_TD15, &q->tdx);
}

/* QE report, its signature, QE authentication data, then the PCK chain (type 5). */
static int read_qe_part(struct steep_cursor *c, struct steep_dcap_quote *q)
{
    GUARD(steep_cursor_read_span(c, &q->qe_report, STEEP_SGX_REPORT_LEN));
    struct steep_cursor qe = steep_cursor_make(q->qe_report, STEEP_SGX_REPORT_LEN);
    GUARD(read_sgx_report(&qe, &q->qe));
    GUARD(steep_cursor_read_bytes(c, q->qe_report_signature, 64));
    uint16_t auth_len;
    GUARD(steep_cursor_read_u16le(c, &auth_len));
    q->qe_auth_len = auth_len;
    if (steep_cursor_read_span(c, &q->qe_auth_data, auth_len) < 0)
        return steep_error_wrap("quote QE authentication data");
    uint32_t cert_size;
    GUARD(steep_cursor_read_u16le(c, &q->cert_type));
    GUARD(steep_cursor_read_u32le(c, &cert_size));
    ENSURE(q->cert_type == CERT_PCK_CHAIN,
           "quote certification data: type %u, only 5 (PCK certificate chain) is supported",
           q->cert_type);
    ENSURE(cert_size > 0 && cert_size <= MAX_CERT_DATA,
           "quote certification data: size %u out of range", cert_size);
    ENSURE(cert_size == steep_cursor_remaining(c),
           "quote certification data: size %u but %zu bytes remain in the signature data",
           cert_size, steep_cursor_remaining(c));
    q->cert_len = cert_size;
    return steep_cursor_read_span(c, &q->cert_data, cert_size);
}

static int read_signature_data(struct steep_cursor *c, struct steep_dcap_quote *q)
{
    GUARD(steep_cursor_read_bytes(c, q->signature, 64));
    GUARD(steep_cursor_read_bytes(c, q->attestation_key, 64));
    if (q->version == 3)
        return read_qe_part(c, q);
    uint16_t type;
    uint32_t size;
    GUARD(steep_cursor_read_u16le(c, &type));
    GUARD(steep_cursor_read_u32le(c, &size));
    ENSURE(type == CERT_QE_REPORT,
           "quote signature data: certification data type %u (expected 6, QE report)", type);
    ENSURE(size == steep_cursor_remaining(c),
           "quote signature data: QE report certification data of %u bytes but %zu remain", size,
           steep_cursor_remaining(c));
    return read_qe_part(c, q);
}

int steep_dcap_quote_parse(const uint8_t *data, size_t len, struct steep_dcap_quote *out)
{
    memset(out, 0, sizeof(*out));
    struct steep_cursor c = steep_cursor_make(data, len);
    if (read_header(&c, out) < 0 || read_body(&c, out) < 0)
        return steep_error_wrap("quote is malformed");
    out->signed_region = data;
    out->signed_len = c.pos;
    uint32_t sig_len;
    struct steep_cursor sig;
    if (steep_cursor_read_u32le(&c, &sig_len) < 0 || steep_cursor_read_sub(&c, &sig, sig_len) < 0)
        return steep_error_wrap("quote signature data length");
    if (read_signature_data(&sig, out) < 0)
        return steep_error_wrap("quote signature data is malformed");
    out->quote_len = c.pos;
    out->trailing_len = steep_cursor_remaining(&c);
    return 0;
}
