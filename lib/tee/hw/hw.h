/*
 * Hardware evidence: Intel SGX DCAP quotes v3, TDX quotes v4/v5 and AMD
 * SEV-SNP attestation reports, verified in C on OpenSSL against the vendors'
 * own collateral.
 *
 * steep_hw_verify() decides whether evidence is authentic at a given instant
 * (time is always an input: nothing here reads the clock) and what its TCB
 * status is, exactly as Intel's reference verifier (QVL) decides it. It
 * returns 0 for authentic evidence, even when its TCB status is poor (e.g.
 * NotSupported or OutOfDate): whether that is acceptable is the policy's
 * decision (steep_hw_policy_check), which is fail-closed and names each
 * refusal. It returns -1 (with steep_error_get() naming the failed check)
 * for anything inauthentic, malformed, revoked or outside its validity
 * window.
 *
 * The roots of trust are pinned by the SHA-256 of their public key
 * (SubjectPublicKeyInfo DER), never by name: the Intel SGX Root CA, and
 * AMD's ARKs for Milan, Genoa and Turin. A test or pre-production set-up may
 * pin another key through struct steep_hw_trust.
 *
 * Collateral is read once (steep_hw_collateral_load_dir, the file names of
 * ../shared/fixtures/hw-attestation) and kept parsed; every verification
 * still checks every signature, CRL and window against its own instant.
 */
#ifndef STEEP_TEE_HW_H
#define STEEP_TEE_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "core/buf.h"

enum steep_hw_kind {
    STEEP_HW_UNKNOWN = 0,
    STEEP_HW_SGX = 1, /* DCAP ECDSA quote v3 */
    STEEP_HW_TDX = 2, /* TDX quote v4 or v5 */
    STEEP_HW_SNP = 3, /* SEV-SNP attestation report */
};

/* Intel's TCB statuses (TCB info v3), plus NotSupported when no level matches. */
enum steep_hw_tcb_status {
    STEEP_HW_TCB_UP_TO_DATE = 0,
    STEEP_HW_TCB_SW_HARDENING_NEEDED,
    STEEP_HW_TCB_CONFIGURATION_NEEDED,
    STEEP_HW_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    STEEP_HW_TCB_OUT_OF_DATE,
    STEEP_HW_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    STEEP_HW_TCB_REVOKED,
    STEEP_HW_TCB_NOT_SUPPORTED,
    /* SEV-SNP: AMD publishes no TCB status; the VCEK endorses the reported TCB. */
    STEEP_HW_TCB_NOT_APPLICABLE,
};

const char *steep_hw_kind_name(enum steep_hw_kind kind);
const char *steep_hw_tcb_status_name(enum steep_hw_tcb_status status);
/* "UpToDate" etc. to the enum; -1 for an unknown name. */
int steep_hw_tcb_status_parse(const char *name, enum steep_hw_tcb_status *out);

/* The kind of evidence, from its bytes alone (quote header or SNP report size/version). */
enum steep_hw_kind steep_hw_detect(const uint8_t *data, size_t len);

/* ---- Parsing (bounded cursors; no signature is checked here) ---- */

#define STEEP_DCAP_HEADER_LEN 48
#define STEEP_SGX_REPORT_LEN  384

/* The fields of an SGX REPORT body (enclave or QE). */
struct steep_sgx_report_body {
    uint8_t cpusvn[16];
    uint32_t miscselect;
    uint8_t attributes[16];
    uint8_t mr_enclave[32];
    uint8_t mr_signer[32];
    uint8_t config_id[64];
    uint16_t isv_prod_id;
    uint16_t isv_svn;
    uint16_t config_svn;
    uint8_t isv_family_id[16];
    uint8_t report_data[64];
};

/* A TD report body, TD 1.0 (v4, v5 type 2) or TD 1.5 (v5 type 3). */
struct steep_tdx_report_body {
    uint8_t tee_tcb_svn[16];
    uint8_t mr_seam[48];
    uint8_t mr_signer_seam[48];
    uint8_t seam_attributes[8];
    uint8_t td_attributes[8];
    uint8_t xfam[8];
    uint8_t mr_td[48];
    uint8_t mr_config_id[48];
    uint8_t mr_owner[48];
    uint8_t mr_owner_config[48];
    uint8_t rtmr[4][48];
    uint8_t report_data[64];
    bool td15; /* TD 1.5: the two fields below are set */
    uint8_t tee_tcb_svn2[16];
    uint8_t mr_service_td[48];
};

/* A DCAP quote; spans point into the caller's bytes. */
struct steep_dcap_quote {
    uint16_t version;
    uint16_t att_key_type;
    uint32_t tee_type;
    uint16_t qe_svn, pce_svn; /* v3 header only */
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20];
    uint16_t body_type; /* 1 SGX, 2 TD 1.0, 3 TD 1.5 (v5 descriptor; implied for v3/v4) */
    struct steep_sgx_report_body sgx; /* body_type 1 */
    struct steep_tdx_report_body tdx; /* body_type 2, 3 */
    const uint8_t *signed_region;     /* [0, end of body) */
    size_t signed_len;
    uint8_t signature[64];       /* r||s */
    uint8_t attestation_key[64]; /* x||y */
    const uint8_t *qe_report;    /* 384 bytes */
    struct steep_sgx_report_body qe;
    uint8_t qe_report_signature[64];
    const uint8_t *qe_auth_data;
    size_t qe_auth_len;
    uint16_t cert_type;       /* 5 */
    const uint8_t *cert_data; /* PEM text, maybe NUL-terminated */
    size_t cert_len;
    size_t quote_len;    /* declared end of the quote */
    size_t trailing_len; /* bytes after it (ignored; see dcap_quote.c) */
};

int steep_dcap_quote_parse(const uint8_t *data, size_t len, struct steep_dcap_quote *out);

#define STEEP_SNP_REPORT_LEN 0x4A0

struct steep_snp_report {
    uint32_t version;
    uint32_t guest_svn;
    uint64_t policy;
    uint8_t family_id[16];
    uint8_t image_id[16];
    uint32_t vmpl;
    uint32_t signature_algo;
    uint64_t current_tcb;
    uint64_t platform_info;
    uint32_t flags; /* bit0 AUTHOR_KEY_EN, bit1 MASK_CHIP_KEY, bits 2-4 SIGNING_KEY */
    uint8_t report_data[64];
    uint8_t measurement[48];
    uint8_t host_data[32];
    uint8_t id_key_digest[48];
    uint8_t author_key_digest[48];
    uint8_t report_id[32];
    uint8_t report_id_ma[32];
    uint64_t reported_tcb;
    uint8_t chip_id[64];
    uint64_t committed_tcb;
    uint8_t current_build, current_minor, current_major;
    uint8_t committed_build, committed_minor, committed_major;
    uint64_t launch_tcb;
    uint8_t signature_r[72]; /* little-endian, zero-padded */
    uint8_t signature_s[72];
    const uint8_t *signed_region; /* [0, 0x2A0) */
};

#define STEEP_SNP_POLICY_DEBUG (UINT64_C(1) << 19)

int steep_snp_report_parse(const uint8_t *data, size_t len, struct steep_snp_report *out);

/* ---- Trust anchors and collateral ---- */

/* Pinned roots: NULL fields mean the vendor's real roots. */
struct steep_hw_trust {
    const uint8_t *intel_root_spki_sha256; /* 32 bytes */
    const uint8_t *amd_ark_spki_sha256;    /* 32 bytes: the only ARK accepted */
};

struct steep_hw_collateral_item; /* parsed TCB info / QE identity (collateral.c) */
struct steep_hw_memo;            /* signatures already proven (memo.c) */
struct steep_hw_memo;            /* signatures already proven (memo.c) */

/*
 * Collateral as read from a directory (files of the fixture folder):
 *   Intel: tcb_info.json tcb_info.sig qe_identity.json qe_identity.sig
 *          tcb_signing_chain.pem pck_crl.der root_ca_crl.der
 *   AMD:   vcek.der and ask_ark_*.pem (ASK then ARK)
 * Absent files stay empty; verification names the missing one.
 */
struct steep_hw_collateral {
    /* Intel */
    struct steep_buf tcb_info_json, qe_identity_json; /* exact signed bytes */
    uint8_t tcb_info_sig[64], qe_identity_sig[64];
    bool have_tcb_info, have_qe_identity;
    STACK_OF(X509) * tcb_signing_chain; /* TCB Signing cert, then root */
    X509_CRL *pck_crl;
    X509_CRL *root_crl;
    struct steep_hw_collateral_item *tcb_info; /* parsed from tcb_info_json */
    struct steep_hw_collateral_item *qe_identity;
    /* AMD */
    X509 *vcek;
    STACK_OF(X509) * ask_ark; /* ASK, then ARK */
    /* Set by steep_hw_collateral_load_dir (NULL: nothing is remembered, every
     * signature is checked each time). Facts are keyed by the exact bytes,
     * so replacing a field above never reuses a stale fact. */
    struct steep_hw_memo *memo;
};

/* Reads whichever collateral files exist in dir; fails on a malformed one. */
int steep_hw_collateral_load_dir(const char *dir, struct steep_hw_collateral *out);
/* Sets the Intel JSON parts from bytes (parsed immediately). */
int steep_hw_collateral_set_tcb_info(struct steep_hw_collateral *c, const void *json, size_t len,
                                     const uint8_t sig[64]);
int steep_hw_collateral_set_qe_identity(struct steep_hw_collateral *c, const void *json, size_t len,
                                        const uint8_t sig[64]);
void steep_hw_collateral_free(struct steep_hw_collateral *c);

/* ---- Verification ---- */

#define STEEP_HW_MAX_ADVISORIES 32
#define STEEP_HW_ADVISORY_LEN   32

/* What was learned from verified evidence. */
struct steep_hw_report {
    enum steep_hw_kind kind;
    uint16_t version;
    enum steep_hw_tcb_status status;
    char advisories[STEEP_HW_MAX_ADVISORIES][STEEP_HW_ADVISORY_LEN];
    size_t n_advisories;
    bool debug;
    uint8_t report_data[64];
    /* Intel */
    uint8_t fmspc[6];
    uint16_t pce_id;
    struct steep_sgx_report_body sgx; /* STEEP_HW_SGX */
    struct steep_tdx_report_body tdx; /* STEEP_HW_TDX */
    enum steep_hw_tcb_status platform_status, qe_status, module_status;
    /* AMD */
    struct steep_snp_report snp;
    char snp_product[32];
    /* The earliest instant at which a piece of the evidence's collateral or
     * chain stops being valid (nextUpdate, notAfter). */
    time_t valid_until;
};

int steep_hw_verify(const uint8_t *evidence, size_t len, const struct steep_hw_collateral *c,
                    const struct steep_hw_trust *trust, time_t now, struct steep_hw_report *out);

/* The VCEK → ASK → ARK chain alone (also for Turin, which has no report here),
 * with the VCEK's TCB and hwID extensions. */
struct steep_snp_vcek_info {
    char product[32];
    bool turin;
    uint8_t bl_spl, tee_spl, snp_spl, ucode_spl, fmc_spl;
    uint8_t hwid[64];
    size_t hwid_len;
};
int steep_snp_verify_vcek(X509 *vcek, STACK_OF(X509) * ask_ark, const struct steep_hw_trust *trust,
                          time_t now, struct steep_snp_vcek_info *out);

/* The SEV-SNP certificate table (configfs-tsm auxblob): the VCEK, and the
 * ASK then ARK when both are there (else *ask_ark stays NULL). Refused when
 * malformed or without a VCEK. */
int steep_snp_cert_table_parse(const uint8_t *table, size_t len, X509 **vcek,
                               STACK_OF(X509) * *ask_ark);

/* ---- Policy (fail-closed) ---- */

/* Measurements pinned for one service; unset fields are not pinned, but at
 * least one measurement of the evidence's kind must be. */
struct steep_hw_measurements {
    bool have_mr_enclave, have_mr_signer;
    uint8_t mr_enclave[32], mr_signer[32];
    bool have_mr_td, have_rtmr[4];
    uint8_t mr_td[48], rtmr[4][48];
    bool have_snp_measurement;
    uint8_t snp_measurement[48];
};

struct steep_hw_policy {
    /* Statuses accepted besides UpToDate (Revoked and NotSupported never are). */
    const enum steep_hw_tcb_status *accepted_statuses;
    size_t n_accepted_statuses;
    /* For SWHardeningNeeded / Configuration*Needed statuses: every advisory
     * of the evidence must be listed here. */
    const char *const *accepted_advisories;
    size_t n_accepted_advisories;
    bool allow_debug; /* loud: a debug enclave/guest's memory is readable by the host */
    const struct steep_hw_measurements *measurements; /* NULL: measurements not checked */
    size_t n_measurements;
};

/* 0 when the policy accepts the verified report; else -1 naming the refusal.
 * index (optional) receives the matching measurements entry. */
int steep_hw_policy_check(const struct steep_hw_policy *policy, const struct steep_hw_report *r,
                          size_t *index);

#endif
