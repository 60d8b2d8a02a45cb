/* Synthetic Intel evidence through a test-made chain; see hw_synth.h. */
#include "hw_synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "core/error.h"
#include "hw_test_util.h"
#include "tee/hw/hw_internal.h"
#include "tee/keys.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: hw_synth: %s failed (%s)\n", __FILE__, __LINE__, #cond,        \
                    steep_error_get());                                                            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

X509 *hw_synth_cert(X509 *model, X509 *issuer, EVP_PKEY *key, EVP_PKEY *issuer_key, long serial,
                    bool ca, time_t now)
{
    X509 *cert = X509_new();
    CHECK(cert);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_set_subject_name(cert, X509_get_subject_name(model));
    X509_set_issuer_name(cert,
                         issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(model));
    X509_time_adj_ex(X509_getm_notBefore(cert), -30, 0, &now);
    X509_time_adj_ex(X509_getm_notAfter(cert), 365, 0, &now);
    X509_set_pubkey(cert, key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                                             ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_EXTENSION *ku =
        X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
                            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    CHECK(bc && ku);
    X509_add_ext(cert, bc, -1);
    X509_add_ext(cert, ku, -1);
    X509_EXTENSION_free(bc);
    X509_EXTENSION_free(ku);
    /* A leaf keeps the real PCK's SGX extension (FMSPC, TCB, ...). */
    ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    int index = X509_get_ext_by_OBJ(model, oid, -1);
    if (index >= 0)
        X509_add_ext(cert, X509_get_ext(model, index), -1);
    ASN1_OBJECT_free(oid);
    CHECK(X509_sign(cert, issuer_key, EVP_sha256()) > 0);
    return cert;
}

void hw_synth_sign_raw(EVP_PKEY *key, const void *data, size_t len, uint8_t out[64])
{
    struct steep_buf der = STEEP_BUF_INIT;
    CHECK(steep_tee_sign_sha256(key, data, len, &der) == 0);
    const unsigned char *p = der.data;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der.len);
    CHECK(sig);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32);
    ECDSA_SIG_free(sig);
    steep_buf_free(&der);
}

X509_CRL *hw_synth_crl(X509 *issuer, EVP_PKEY *key, X509 *const *revoked, size_t n, time_t now)
{
    X509_CRL *crl = X509_CRL_new();
    CHECK(crl);
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
    ASN1_TIME *t = ASN1_TIME_adj(NULL, now, -1, 0);
    X509_CRL_set1_lastUpdate(crl, t);
    ASN1_TIME_adj(t, now, 10, 0);
    X509_CRL_set1_nextUpdate(crl, t);
    for (size_t i = 0; i < n; i++) {
        X509_REVOKED *entry = X509_REVOKED_new();
        X509_REVOKED_set_serialNumber(entry, X509_get_serialNumber(revoked[i]));
        ASN1_TIME_adj(t, now, -1, 0);
        X509_REVOKED_set_revocationDate(entry, t);
        X509_CRL_add0_revoked(crl, entry);
    }
    ASN1_TIME_free(t);
    X509_CRL_sort(crl);
    CHECK(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    return crl;
}

void hw_synth_append_pem(struct steep_buf *out, X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(bio && PEM_write_bio_X509(bio, cert) == 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    CHECK(steep_buf_append(out, data, (size_t)n) == 0);
    BIO_free(bio);
}

static void resign_json(struct hw_synth *s, const char *name,
                        int (*set)(struct steep_hw_collateral *, const void *, size_t,
                                   const uint8_t *))
{
    char rel[256], path[1024];
    snprintf(rel, sizeof(rel), "%s/%s", s->vector, name);
    size_t len;
    uint8_t *json = hw_read(hw_fixture(rel, path, sizeof(path)), &len);
    uint8_t sig[64];
    hw_synth_sign_raw(s->signing_key, json, len, sig);
    CHECK(set(&s->c, json, len, sig) == 0);
    free(json);
}

void hw_synth_init(struct hw_synth *s, const char *vector)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->vector, sizeof(s->vector), "%s", vector);
    s->now = hw_pinned(vector);
    size_t len;
    uint8_t *quote = hw_evidence(vector, &len);
    CHECK(steep_buf_append(&s->real, quote, len) == 0);
    free(quote);
    struct steep_dcap_quote q;
    CHECK(steep_dcap_quote_parse(s->real.data, s->real.len, &q) == 0);
    STACK_OF(X509) *real = steep_hw_pem_chain(q.cert_data, q.cert_len);
    CHECK(real && sk_X509_num(real) == 3);
    hw_collateral(vector, &s->c);

    s->root_key = steep_tee_key_generate_p256();
    s->ca_key = steep_tee_key_generate_p256();
    s->leaf_key = steep_tee_key_generate_p256();
    s->signing_key = steep_tee_key_generate_p256();
    CHECK(s->root_key && s->ca_key && s->leaf_key && s->signing_key);
    s->root =
        hw_synth_cert(sk_X509_value(real, 2), NULL, s->root_key, s->root_key, 1, true, s->now);
    s->ca = hw_synth_cert(sk_X509_value(real, 1), s->root, s->ca_key, s->root_key, 2, true, s->now);
    s->leaf =
        hw_synth_cert(sk_X509_value(real, 0), s->ca, s->leaf_key, s->ca_key, 3, false, s->now);
    s->signing = hw_synth_cert(sk_X509_value(s->c.tcb_signing_chain, 0), s->root, s->signing_key,
                               s->root_key, 4, false, s->now);
    CHECK(steep_tee_key_spki_sha256(s->root_key, s->root_pin) == 0);
    hw_synth_append_pem(&s->pck_pem, s->leaf);
    hw_synth_append_pem(&s->pck_pem, s->ca);
    hw_synth_append_pem(&s->pck_pem, s->root);
    sk_X509_pop_free(real, X509_free);

    sk_X509_pop_free(s->c.tcb_signing_chain, X509_free);
    s->c.tcb_signing_chain = sk_X509_new_null();
    X509_up_ref(s->signing);
    X509_up_ref(s->root);
    sk_X509_push(s->c.tcb_signing_chain, s->signing);
    sk_X509_push(s->c.tcb_signing_chain, s->root);
    resign_json(s, "tcb_info.json", steep_hw_collateral_set_tcb_info);
    resign_json(s, "qe_identity.json", steep_hw_collateral_set_qe_identity);
    X509_CRL_free(s->c.root_crl);
    X509_CRL_free(s->c.pck_crl);
    s->c.root_crl = hw_synth_crl(s->root, s->root_key, NULL, 0, s->now);
    s->c.pck_crl = hw_synth_crl(s->ca, s->ca_key, NULL, 0, s->now);
}

void hw_synth_free(struct hw_synth *s)
{
    EVP_PKEY_free(s->root_key);
    EVP_PKEY_free(s->ca_key);
    EVP_PKEY_free(s->leaf_key);
    EVP_PKEY_free(s->signing_key);
    X509_free(s->root);
    X509_free(s->ca);
    X509_free(s->leaf);
    X509_free(s->signing);
    steep_buf_free(&s->real);
    steep_buf_free(&s->pck_pem);
    steep_hw_collateral_free(&s->c);
}

static size_t body_offset(const uint8_t *quote)
{
    return STEEP_DCAP_HEADER_LEN + (quote[0] == 5 ? 6 : 0); /* v5: the body descriptor */
}

size_t hw_synth_report_data_offset(const uint8_t *quote, size_t len)
{
    CHECK(len > STEEP_DCAP_HEADER_LEN + 6);
    bool sgx = steep_hw_detect(quote, len) == STEEP_HW_SGX;
    return body_offset(quote) + (sgx ? 320 : 520);
}

size_t hw_synth_mr_td_offset(const uint8_t *quote, size_t len)
{
    CHECK(steep_hw_detect(quote, len) == STEEP_HW_TDX);
    return body_offset(quote) + 136;
}

static void put_u16(struct steep_buf *b, uint16_t v)
{
    uint8_t le[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    CHECK(steep_buf_append(b, le, 2) == 0);
}

uint8_t *hw_synth_quote(const struct hw_synth *s, const uint8_t report_data[64],
                        const uint8_t *mr_td, size_t *len)
{
    struct steep_dcap_quote q;
    CHECK(steep_dcap_quote_parse(s->real.data, s->real.len, &q) == 0);
    struct steep_buf out = STEEP_BUF_INIT;
    CHECK(steep_buf_append(&out, s->real.data, q.signed_len) == 0);
    memcpy(out.data + hw_synth_report_data_offset(out.data, out.len), report_data, 64);
    if (mr_td)
        memcpy(out.data + hw_synth_mr_td_offset(out.data, out.len), mr_td, 48);

    /* A new attestation key, bound by the QE report: its REPORTDATA is
     * SHA-256(key || QE authentication data), then zeros. */
    EVP_PKEY *attestation = steep_tee_key_generate_p256();
    uint8_t xy[64], qe_report[STEEP_SGX_REPORT_LEN], qe_sig[64], sig[64];
    CHECK(attestation && steep_tee_key_p256_xy(attestation, xy) == 0);
    memcpy(qe_report, q.qe_report, sizeof(qe_report));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int md_len = 0;
    CHECK(md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
          EVP_DigestUpdate(md, xy, 64) == 1 &&
          EVP_DigestUpdate(md, q.qe_auth_data, q.qe_auth_len) == 1 &&
          EVP_DigestFinal_ex(md, qe_report + 320, &md_len) == 1 && md_len == 32);
    EVP_MD_CTX_free(md);
    memset(qe_report + 352, 0, 32);
    hw_synth_sign_raw(s->leaf_key, qe_report, sizeof(qe_report), qe_sig);
    hw_synth_sign_raw(attestation, out.data, out.len, sig);
    EVP_PKEY_free(attestation);

    /* QE report, its signature, authentication data, PCK chain (type 5);
     * v4/v5 wrap it in certification data of type 6. */
    struct steep_buf qe = STEEP_BUF_INIT;
    CHECK(steep_buf_append(&qe, qe_report, sizeof(qe_report)) == 0);
    CHECK(steep_buf_append(&qe, qe_sig, 64) == 0);
    put_u16(&qe, (uint16_t)q.qe_auth_len);
    CHECK(steep_buf_append(&qe, q.qe_auth_data, q.qe_auth_len) == 0);
    put_u16(&qe, 5);
    CHECK(steep_buf_append_u32le(&qe, (uint32_t)s->pck_pem.len) == 0);
    CHECK(steep_buf_append(&qe, s->pck_pem.data, s->pck_pem.len) == 0);
    bool wrapped = q.version >= 4;
    CHECK(steep_buf_append_u32le(&out, (uint32_t)(128 + (wrapped ? 6 : 0) + qe.len)) == 0);
    CHECK(steep_buf_append(&out, sig, 64) == 0);
    CHECK(steep_buf_append(&out, xy, 64) == 0);
    if (wrapped) {
        put_u16(&out, 6);
        CHECK(steep_buf_append_u32le(&out, (uint32_t)qe.len) == 0);
    }
    CHECK(steep_buf_append(&out, qe.data, qe.len) == 0);
    steep_buf_free(&qe);
    return steep_buf_detach(&out, len);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CHECK(steep_write_file_atomic(path, data, len, 0644) == 0);
}

static void write_crl(const char *dir, const char *name, X509_CRL *crl)
{
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    CHECK(n > 0);
    write_file(dir, name, der, (size_t)n);
    OPENSSL_free(der);
}

void hw_synth_write_collateral(const struct hw_synth *s, const char *dir)
{
    write_file(dir, "tcb_info.json", s->c.tcb_info_json.data, s->c.tcb_info_json.len);
    write_file(dir, "tcb_info.sig", s->c.tcb_info_sig, 64);
    write_file(dir, "qe_identity.json", s->c.qe_identity_json.data, s->c.qe_identity_json.len);
    write_file(dir, "qe_identity.sig", s->c.qe_identity_sig, 64);
    struct steep_buf chain = STEEP_BUF_INIT;
    hw_synth_append_pem(&chain, s->signing);
    hw_synth_append_pem(&chain, s->root);
    write_file(dir, "tcb_signing_chain.pem", chain.data, chain.len);
    steep_buf_free(&chain);
    write_crl(dir, "pck_crl.der", s->c.pck_crl);
    write_crl(dir, "root_ca_crl.der", s->c.root_crl);
}

/* ---- AMD ---- */

#define SNP_SIGNED_LEN 0x2A0

/* A certificate modelled on an AMD one (name; for the VCEK its AMD
 * extensions), signed with RSASSA-PSS SHA-384, 48-byte salt. */
static X509 *amd_cert(X509 *model, X509 *issuer, EVP_PKEY *key, EVP_PKEY *issuer_key, long serial,
                      bool ca, time_t now)
{
    X509 *cert = X509_new();
    CHECK(cert);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_set_subject_name(cert, X509_get_subject_name(model));
    X509_set_issuer_name(cert,
                         issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(model));
    X509_time_adj_ex(X509_getm_notBefore(cert), -30, 0, &now);
    X509_time_adj_ex(X509_getm_notAfter(cert), 365, 0, &now);
    X509_set_pubkey(cert, key);
    if (ca) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
        X509_EXTENSION *bc =
            X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        X509_EXTENSION *ku =
            X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
        CHECK(bc && ku);
        X509_add_ext(cert, bc, -1);
        X509_add_ext(cert, ku, -1);
        X509_EXTENSION_free(bc);
        X509_EXTENSION_free(ku);
    } else {
        for (int i = 0; i < X509_get_ext_count(model); i++) {
            X509_EXTENSION *ext = X509_get_ext(model, i);
            char oid[64];
            OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1);
            if (strncmp(oid, "1.3.6.1.4.1.3704.", 17) == 0)
                X509_add_ext(cert, ext, -1);
        }
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    CHECK(md && EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, issuer_key) == 1 &&
          EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
          EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 &&
          EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 && X509_sign_ctx(cert, md) > 0);
    EVP_MD_CTX_free(md);
    return cert;
}

void hw_synth_snp_init(struct hw_synth_snp *s, const char *vector)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->vector, sizeof(s->vector), "%s", vector);
    s->now = hw_pinned(vector);
    size_t len;
    uint8_t *report = hw_evidence(vector, &len);
    CHECK(steep_buf_append(&s->real, report, len) == 0);
    free(report);
    struct steep_hw_collateral real;
    hw_collateral(vector, &real);
    CHECK(real.vcek && real.ask_ark && sk_X509_num(real.ask_ark) == 2);
    s->ark_key = steep_tee_key_generate_rsa(2048);
    s->ask_key = steep_tee_key_generate_rsa(2048);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    CHECK(ctx && EVP_PKEY_keygen_init(ctx) == 1 &&
          EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_secp384r1) == 1 &&
          EVP_PKEY_keygen(ctx, &s->vcek_key) == 1);
    EVP_PKEY_CTX_free(ctx);
    CHECK(s->ark_key && s->ask_key);
    s->ark =
        amd_cert(sk_X509_value(real.ask_ark, 1), NULL, s->ark_key, s->ark_key, 1, true, s->now);
    s->ask =
        amd_cert(sk_X509_value(real.ask_ark, 0), s->ark, s->ask_key, s->ark_key, 2, true, s->now);
    s->vcek = amd_cert(real.vcek, s->ask, s->vcek_key, s->ask_key, 3, false, s->now);
    CHECK(steep_tee_key_spki_sha256(s->ark_key, s->ark_pin) == 0);
    s->ask_ark = sk_X509_new_null();
    X509_up_ref(s->ask);
    X509_up_ref(s->ark);
    sk_X509_push(s->ask_ark, s->ask);
    sk_X509_push(s->ask_ark, s->ark);
    steep_hw_collateral_free(&real);
}

void hw_synth_snp_free(struct hw_synth_snp *s)
{
    EVP_PKEY_free(s->ark_key);
    EVP_PKEY_free(s->ask_key);
    EVP_PKEY_free(s->vcek_key);
    X509_free(s->ark);
    X509_free(s->ask);
    X509_free(s->vcek);
    sk_X509_pop_free(s->ask_ark, X509_free);
    steep_buf_free(&s->real);
}

uint8_t *hw_synth_snp_report(const struct hw_synth_snp *s, const uint8_t report_data[64],
                             const uint8_t *measurement, size_t *len)
{
    CHECK(s->real.len == STEEP_SNP_REPORT_LEN);
    uint8_t *out = malloc(s->real.len);
    CHECK(out);
    memcpy(out, s->real.data, s->real.len);
    memcpy(out + 0x50, report_data, 64);
    if (measurement)
        memcpy(out + 0x90, measurement, 48);
    /* ECDSA P-384/SHA-384 over [0, 0x2A0); r and s as 72-byte little-endian fields */
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t der_len = 0;
    uint8_t der[128];
    CHECK(md && EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, s->vcek_key) == 1 &&
          EVP_DigestSign(md, NULL, &der_len, out, SNP_SIGNED_LEN) == 1 && der_len <= sizeof(der) &&
          EVP_DigestSign(md, der, &der_len, out, SNP_SIGNED_LEN) == 1);
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    CHECK(sig);
    uint8_t be[48];
    memset(out + SNP_SIGNED_LEN, 0, 144);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), be, 48);
    for (int i = 0; i < 48; i++)
        out[SNP_SIGNED_LEN + i] = be[47 - i];
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), be, 48);
    for (int i = 0; i < 48; i++)
        out[SNP_SIGNED_LEN + 72 + i] = be[47 - i];
    ECDSA_SIG_free(sig);
    *len = s->real.len;
    return out;
}

uint8_t *hw_synth_snp_cert_table(const struct hw_synth_snp *s, size_t *len)
{
    static const uint8_t vcek_guid[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                          0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
    unsigned char *der = NULL;
    int der_len = i2d_X509(s->vcek, &der);
    CHECK(der_len > 0);
    *len = 48 + (size_t)der_len;
    uint8_t *table = calloc(1, *len);
    CHECK(table);
    memcpy(table, vcek_guid, 16);
    uint32_t offset = 48, size = (uint32_t)der_len;
    for (int i = 0; i < 4; i++) { /* little-endian; the zero entry at 24..48 ends the table */
        table[16 + i] = (uint8_t)(offset >> (8 * i));
        table[20 + i] = (uint8_t)(size >> (8 * i));
    }
    memcpy(table + 48, der, (size_t)der_len);
    OPENSSL_free(der);
    return table;
}

void hw_synth_snp_write_ask_ark(const struct hw_synth_snp *s, const char *dir)
{
    struct steep_buf pem = STEEP_BUF_INIT;
    hw_synth_append_pem(&pem, s->ask);
    hw_synth_append_pem(&pem, s->ark);
    write_file(dir, "ask_ark_test.pem", pem.data, pem.len);
    steep_buf_free(&pem);
}
