/*
 * Shared inside lib/tee/hw: a bounded DER reader, RFC 3339 times, raw
 * ECDSA signatures, chain checks with pinned roots, and the parsed forms of
 * Intel's TCB info and QE identity.
 */
#ifndef STEEP_TEE_HW_INTERNAL_H
#define STEEP_TEE_HW_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "tee/hw/hw.h"
#include "tee/tee.h"

/* ---- der.c ---- */
enum {
    DER_INTEGER = 0x02,
    DER_OCTET_STRING = 0x04,
    DER_OID = 0x06,
    DER_ENUMERATED = 0x0a,
    DER_IA5STRING = 0x16,
    DER_SEQUENCE = 0x30,
};
/* One TLV: the tag must be `tag`; *value spans the contents. */
int steep_der_read(struct steep_cursor *c, uint8_t tag, struct steep_cursor *value);
/* A non-negative INTEGER/ENUMERATED that fits 32 bits. */
int steep_der_uint(struct steep_cursor *value, uint32_t *out);
/* The contents of certificate extension `oid` (dotted text), or -1 when absent. */
int steep_der_extension(X509 *cert, const char *oid, struct steep_cursor *value);

/* ---- memo.c: signatures already proven over exact bytes (see memo.c) ---- */
struct steep_hw_part {
    const void *data;
    size_t len;
};
struct steep_hw_memo *steep_hw_memo_new(void);
void steep_hw_memo_free(struct steep_hw_memo *m);
int steep_hw_memo_key(uint8_t key[32], const char *label, const struct steep_hw_part *parts,
                      size_t n);
/* m may be NULL (nothing remembered). With chain, the fact must have kept
 * certificates, which are returned (up-referenced; sk_X509_pop_free them). */
bool steep_hw_memo_has(struct steep_hw_memo *m, const uint8_t key[32], STACK_OF(X509) * *chain);
void steep_hw_memo_add(struct steep_hw_memo *m, const uint8_t key[32], STACK_OF(X509) * chain);
/* Algorithms fetched once. */
const EVP_MD *steep_hw_sha256(void);
const EVP_MD *steep_hw_sha384(void);

/* ---- hw_util.c ---- */
/* "YYYY-MM-DDTHH:MM:SSZ" (optionally with fractional seconds) to time_t. */
int steep_hw_parse_time(const char *text, time_t *out);
void steep_hw_format_time(time_t t, char out[32]);
/* An uncompressed P-256 key from raw x||y. */
EVP_PKEY *steep_hw_p256_key(const uint8_t xy[64]);
/* true when raw r||s (32+32 big-endian) is an ECDSA-SHA-256 signature of data. */
bool steep_hw_ecdsa_p256_verify(EVP_PKEY *key, const uint8_t rs[64], const void *data, size_t len);
/* SHA-256 of the certificate's SubjectPublicKeyInfo equals pin. */
bool steep_hw_cert_key_is(X509 *cert, const uint8_t pin[32]);
/* Certificates of PEM text (len bytes, maybe NUL-terminated), in order. */
STACK_OF(X509) * steep_hw_pem_chain(const uint8_t *pem, size_t len);
/* Upper-case hex text of exactly n bytes, any case. */
int steep_hw_hex(const char *text, uint8_t *out, size_t n);
/* Folds t into *until when earlier. */
void steep_hw_until(time_t *until, time_t t);
time_t steep_hw_asn1_time(const ASN1_TIME *t);

/*
 * Verifies leaf against the chain in order (chain[0] = leaf's issuer ... last
 * = root), trusting only a root whose key is pinned, at `now`, with the
 * CRLs given (each must come from a CA of the chain; NULL: not checked).
 * `what` names the chain in refusals.
 */
int steep_hw_verify_chain(const char *what, X509 *leaf, STACK_OF(X509) * rest,
                          const uint8_t pin[32], X509_CRL *const *crls, size_t n_crls, time_t now,
                          time_t *until);
/* The same with memo: a chain whose signatures were proven before (same
 * bytes, same pin) gets only its pin and validity windows checked. */
int steep_hw_verify_chain_memo(struct steep_hw_memo *memo, const char *what, X509 *leaf,
                               STACK_OF(X509) * rest, const uint8_t pin[32], time_t now,
                               time_t *until);
/* DER of a certificate or CRL, as a part of a memo key; free with OPENSSL_free. */
struct steep_hw_part steep_hw_cert_der(X509 *cert);
struct steep_hw_part steep_hw_crl_der(X509_CRL *crl);
/* true when signature verifies over the CRL, remembering it in memo. */
bool steep_hw_crl_signed_by(struct steep_hw_memo *memo, X509_CRL *crl, X509 *issuer);

/* ---- collateral.c: parsed TCB info and QE identity ---- */
#define TCB_MAX_LEVELS  64
#define TCB_MAX_MODULES 8

struct tcb_level {
    uint8_t sgx[16];
    uint16_t pcesvn;
    uint8_t tdx[16];
    bool have_tdx;
    uint16_t isvsvn; /* QE identity / TDX module levels */
    enum steep_hw_tcb_status status;
    char advisories[STEEP_HW_MAX_ADVISORIES][STEEP_HW_ADVISORY_LEN];
    size_t n_advisories;
};

struct tdx_module_identity {
    char id[16];
    uint8_t mrsigner[48];
    uint8_t attributes[8], attributes_mask[8];
    struct tcb_level levels[TCB_MAX_LEVELS];
    size_t n_levels;
};

struct steep_hw_collateral_item {
    char id[16]; /* "SGX", "TDX", "QE", "TD_QE" */
    int version;
    time_t issue_date, next_update;
    uint32_t evaluation_number;
    /* TCB info */
    uint8_t fmspc[6];
    uint16_t pce_id;
    bool have_tdx_module;
    uint8_t module_mrsigner[48], module_attributes[8], module_attributes_mask[8];
    struct tdx_module_identity modules[TCB_MAX_MODULES];
    size_t n_modules;
    /* QE identity */
    uint32_t miscselect, miscselect_mask;
    uint8_t attributes[16], attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    /* both */
    struct tcb_level levels[TCB_MAX_LEVELS];
    size_t n_levels;
};

int steep_hw_tcb_info_parse(const void *json, size_t len, struct steep_hw_collateral_item *out);
int steep_hw_qe_identity_parse(const void *json, size_t len, struct steep_hw_collateral_item *out);

/* ---- tcb.c ---- */
/* The TCB status and advisories of a verified quote (QVL's rules); fills
 * r->status, platform/qe/module statuses and advisories. -1 only for a
 * mismatch that makes the quote unverifiable (QE identity, TDX module). */
int steep_hw_tcb_evaluate(const struct steep_dcap_quote *q, const uint8_t pck_sgx[16],
                          uint16_t pck_pcesvn, const struct steep_hw_collateral_item *tcb_info,
                          const struct steep_hw_collateral_item *qe_identity,
                          struct steep_hw_report *r);

/* ---- pck.c: the SGX extension (1.2.840.113741.1.13.1) of a PCK certificate ---- */
struct steep_pck_info {
    uint8_t ppid[16];
    uint8_t components[16];
    uint16_t pcesvn;
    uint8_t cpusvn[16];
    uint16_t pce_id; /* the two bytes, first one high */
    uint8_t fmspc[6];
    uint32_t sgx_type;
};
int steep_hw_pck_info(X509 *pck, struct steep_pck_info *out);

/* ---- dcap_verify.c / snp.c ---- */
int steep_hw_verify_dcap(const uint8_t *data, size_t len, const struct steep_hw_collateral *c,
                         const struct steep_hw_trust *trust, time_t now,
                         struct steep_hw_report *out);
int steep_snp_verify_vcek_memo(struct steep_hw_memo *memo, X509 *vcek, STACK_OF(X509) * ask_ark,
                               const struct steep_hw_trust *trust, time_t now,
                               struct steep_snp_vcek_info *out);
int steep_hw_verify_snp(const uint8_t *data, size_t len, const struct steep_hw_collateral *c,
                        const struct steep_hw_trust *trust, time_t now,
                        struct steep_hw_report *out);

extern const uint8_t steep_hw_intel_root_pin[32];

/* ---- tee_hw.c: the 32-byte identity of evidence (see tee_hw.c) ---- */
int steep_hw_identity(enum steep_hw_kind kind, const struct steep_sgx_report_body *sgx,
                      const struct steep_tdx_report_body *tdx, const struct steep_snp_report *snp,
                      struct steep_tee_identity *identity);

#endif
