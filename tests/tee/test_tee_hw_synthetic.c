/*
 * The cases real data cannot show, on a test-made copy of the SGX vector:
 * a root, PCK CA, PCK leaf (with the real leaf's SGX extension) and TCB
 * Signing certificate made here with Intel's exact names but new keys; the
 * real QE report re-signed by the new leaf (the quote's own signature and
 * key binding are untouched), the real TCB info and QE identity re-signed,
 * and CRLs made here. Pinned to the test root, it verifies with the real
 * vector's status (so the copy is faithful); then:
 *   - under the real pin, the look-alike root is refused (never by name);
 *   - a root CRL listing the PCK CA, or the TCB Signing certificate, and a
 *     PCK CRL listing the leaf are each refused as revocations;
 *   - the look-alike root in the real collateral's TCB signing chain, and a
 *     root CRL it signed, are refused.
 * And hw_synth.h's TDX quotes (what the key broker's end-to-end test and
 * bench/attest use): any report data and MRTD, a new attestation key per
 * quote, verified under the test root with the real vector's status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/buf.h"
#include "core/error.h"
#include "hw_synth.h"
#include "hw_test_util.h"
#include "tee/hw/hw_internal.h"
#include "tee/keys.h"

#define VECTOR "sgx_v3_dcapqvl"

struct world {
    EVP_PKEY *root_key, *ca_key, *leaf_key, *signing_key;
    X509 *root, *ca, *leaf, *signing;
    uint8_t root_pin[32];
    struct steep_buf quote;
    struct steep_hw_collateral c;
    time_t now;
};

static void resign_json(EVP_PKEY *key, const char *name,
                        int (*set)(struct steep_hw_collateral *, const void *, size_t,
                                   const uint8_t *),
                        struct steep_hw_collateral *c)
{
    char rel[256], path[1024];
    snprintf(rel, sizeof(rel), VECTOR "/%s", name);
    size_t len;
    uint8_t *json = hw_read(hw_fixture(rel, path, sizeof(path)), &len);
    uint8_t sig[64];
    hw_synth_sign_raw(key, json, len, sig);
    assert_int_equal(set(c, json, len, sig), 0);
    free(json);
}

static void world_make(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->now = hw_pinned(VECTOR);
    size_t len;
    uint8_t *quote = hw_evidence(VECTOR, &len);
    struct steep_dcap_quote q;
    assert_int_equal(steep_dcap_quote_parse(quote, len, &q), 0);
    STACK_OF(X509) *real = steep_hw_pem_chain(q.cert_data, q.cert_len);
    assert_int_equal(sk_X509_num(real), 3);
    hw_collateral(VECTOR, &w->c);

    w->root_key = steep_tee_key_generate_p256();
    w->ca_key = steep_tee_key_generate_p256();
    w->leaf_key = steep_tee_key_generate_p256();
    w->signing_key = steep_tee_key_generate_p256();
    X509 *real_root = sk_X509_value(real, 2);
    w->root = hw_synth_cert(real_root, NULL, w->root_key, w->root_key, 1, true, w->now);
    w->ca = hw_synth_cert(sk_X509_value(real, 1), w->root, w->ca_key, w->root_key, 2, true, w->now);
    w->leaf =
        hw_synth_cert(sk_X509_value(real, 0), w->ca, w->leaf_key, w->ca_key, 3, false, w->now);
    w->signing = hw_synth_cert(sk_X509_value(w->c.tcb_signing_chain, 0), w->root, w->signing_key,
                               w->root_key, 4, false, w->now);
    assert_int_equal(steep_tee_key_spki_sha256(w->root_key, w->root_pin), 0);
    char a[512], b[512];
    X509_NAME_oneline(X509_get_subject_name(w->root), a, sizeof(a));
    X509_NAME_oneline(X509_get_subject_name(real_root), b, sizeof(b));
    assert_string_equal(a, b); /* Intel's exact name */

    /* The quote: header, body, quote signature, attestation key, QE report
     * unchanged; the QE report signature and the PCK chain are new. */
    uint8_t qe_sig[64];
    hw_synth_sign_raw(w->leaf_key, q.qe_report, STEEP_SGX_REPORT_LEN, qe_sig);
    struct steep_buf pem = STEEP_BUF_INIT;
    hw_synth_append_pem(&pem, w->leaf);
    hw_synth_append_pem(&pem, w->ca);
    hw_synth_append_pem(&pem, w->root);
    struct steep_buf *out = &w->quote;
    size_t sig_len = 64 + 64 + 384 + 64 + 2 + q.qe_auth_len + 6 + pem.len;
    assert_int_equal(steep_buf_append(out, quote, q.signed_len), 0);
    assert_int_equal(steep_buf_append_u32le(out, (uint32_t)sig_len), 0);
    assert_int_equal(steep_buf_append(out, q.signature, 64), 0);
    assert_int_equal(steep_buf_append(out, q.attestation_key, 64), 0);
    assert_int_equal(steep_buf_append(out, q.qe_report, 384), 0);
    assert_int_equal(steep_buf_append(out, qe_sig, 64), 0);
    uint8_t auth_len[2] = {(uint8_t)q.qe_auth_len, (uint8_t)(q.qe_auth_len >> 8)};
    assert_int_equal(steep_buf_append(out, auth_len, 2), 0);
    assert_int_equal(steep_buf_append(out, q.qe_auth_data, q.qe_auth_len), 0);
    uint8_t type[2] = {5, 0};
    assert_int_equal(steep_buf_append(out, type, 2), 0);
    assert_int_equal(steep_buf_append_u32le(out, (uint32_t)pem.len), 0);
    assert_int_equal(steep_buf_append(out, pem.data, pem.len), 0);
    steep_buf_free(&pem);

    sk_X509_pop_free(w->c.tcb_signing_chain, X509_free);
    w->c.tcb_signing_chain = sk_X509_new_null();
    X509_up_ref(w->signing);
    X509_up_ref(w->root);
    sk_X509_push(w->c.tcb_signing_chain, w->signing);
    sk_X509_push(w->c.tcb_signing_chain, w->root);
    resign_json(w->signing_key, "tcb_info.json", steep_hw_collateral_set_tcb_info, &w->c);
    resign_json(w->signing_key, "qe_identity.json", steep_hw_collateral_set_qe_identity, &w->c);
    X509_CRL_free(w->c.root_crl);
    X509_CRL_free(w->c.pck_crl);
    w->c.root_crl = hw_synth_crl(w->root, w->root_key, NULL, 0, w->now);
    w->c.pck_crl = hw_synth_crl(w->ca, w->ca_key, NULL, 0, w->now);
    sk_X509_pop_free(real, X509_free);
    free(quote);
}

static void world_free(struct world *w)
{
    EVP_PKEY_free(w->root_key);
    EVP_PKEY_free(w->ca_key);
    EVP_PKEY_free(w->leaf_key);
    EVP_PKEY_free(w->signing_key);
    X509_free(w->root);
    X509_free(w->ca);
    X509_free(w->leaf);
    X509_free(w->signing);
    steep_buf_free(&w->quote);
    steep_hw_collateral_free(&w->c);
}

static int verify_pinned(struct world *w, const uint8_t *pin, struct steep_hw_report *r)
{
    struct steep_hw_trust trust = {.intel_root_spki_sha256 = pin};
    steep_error_clear();
    return steep_hw_verify(w->quote.data, w->quote.len, &w->c, pin ? &trust : NULL, w->now, r);
}

static void expect(int rc, const char *reason)
{
    if (rc == 0 || !strstr(steep_error_get(), reason))
        fail_msg("expected a refusal naming '%s', got rc %d: %s", reason, rc, steep_error_get());
}

static void test_faithful_copy(void **state)
{
    (void)state;
    struct world w;
    world_make(&w);
    struct steep_hw_report r;
    if (verify_pinned(&w, w.root_pin, &r) != 0)
        fail_msg("test-made chain: %s", steep_error_get());
    assert_string_equal(steep_hw_tcb_status_name(r.status),
                        hw_vector_string(VECTOR, "expected_tcb_status"));
    world_free(&w);
}

static void test_look_alike_root(void **state)
{
    (void)state;
    struct world w;
    world_make(&w);
    struct steep_hw_report r;
    expect(verify_pinned(&w, NULL, &r), "PCK certificate chain: the root 'Intel SGX Root CA' is "
                                        "not the pinned root of trust");

    /* The real quote with real collateral, except the TCB signing chain
     * (look-alike root) and the JSON it re-signed. */
    struct steep_hw_collateral c;
    hw_collateral(VECTOR, &c);
    STACK_OF(X509) *real_chain = c.tcb_signing_chain;
    c.tcb_signing_chain = w.c.tcb_signing_chain;
    resign_json(w.signing_key, "tcb_info.json", steep_hw_collateral_set_tcb_info, &c);
    size_t len;
    uint8_t *quote = hw_evidence(VECTOR, &len);
    expect(hw_verify(quote, len, &c, w.now, &r), "TCB signing chain: the root 'Intel SGX Root CA' "
                                                 "is not the pinned root of trust");
    c.tcb_signing_chain = real_chain;
    /* A root CRL signed by the look-alike. */
    X509_CRL_free(c.root_crl);
    c.root_crl = hw_synth_crl(w.root, w.root_key, NULL, 0, w.now);
    expect(hw_verify(quote, len, &c, w.now, &r),
           "root CA CRL signature does not verify under the pinned Intel SGX Root CA");
    free(quote);
    steep_hw_collateral_free(&c);
    world_free(&w);
}

static void test_revocations(void **state)
{
    (void)state;
    struct world w;
    world_make(&w);
    struct steep_hw_report r;
    X509_CRL_free(w.c.root_crl);
    w.c.root_crl = hw_synth_crl(w.root, w.root_key, &w.ca, 1, w.now);
    expect(verify_pinned(&w, w.root_pin, &r),
           "the PCK CA certificate is revoked: its serial is listed in the root CA CRL");

    X509_CRL_free(w.c.root_crl);
    w.c.root_crl = hw_synth_crl(w.root, w.root_key, &w.signing, 1, w.now);
    expect(verify_pinned(&w, w.root_pin, &r),
           "the TCB Signing certificate is revoked: its serial is listed in the root CA CRL");

    X509_CRL_free(w.c.root_crl);
    w.c.root_crl = hw_synth_crl(w.root, w.root_key, NULL, 0, w.now);
    X509_CRL_free(w.c.pck_crl);
    w.c.pck_crl = hw_synth_crl(w.ca, w.ca_key, &w.leaf, 1, w.now);
    expect(verify_pinned(&w, w.root_pin, &r),
           "the PCK certificate is revoked: its serial is listed in the PCK CRL");

    /* A PCK CRL signed by another key under the CA's name. */
    X509_CRL_free(w.c.pck_crl);
    w.c.pck_crl = hw_synth_crl(w.ca, w.leaf_key, NULL, 0, w.now);
    expect(verify_pinned(&w, w.root_pin, &r), "PCK CRL signature does not verify under the PCK CA");
    /* Stale CRL. */
    X509_CRL_free(w.c.pck_crl);
    w.c.pck_crl = hw_synth_crl(w.ca, w.ca_key, NULL, 0, w.now - 20 * 86400);
    expect(verify_pinned(&w, w.root_pin, &r), "PCK CRL is stale");
    world_free(&w);
}

/* A certificate of another role under the same root (the PCK CA) cannot
 * sign collateral, even when every signature verifies. */
static void test_roles(void **state)
{
    (void)state;
    struct world w;
    world_make(&w);
    sk_X509_pop_free(w.c.tcb_signing_chain, X509_free);
    w.c.tcb_signing_chain = sk_X509_new_null();
    X509_up_ref(w.ca);
    X509_up_ref(w.root);
    sk_X509_push(w.c.tcb_signing_chain, w.ca);
    sk_X509_push(w.c.tcb_signing_chain, w.root);
    resign_json(w.ca_key, "tcb_info.json", steep_hw_collateral_set_tcb_info, &w.c);
    resign_json(w.ca_key, "qe_identity.json", steep_hw_collateral_set_qe_identity, &w.c);
    struct steep_hw_report r;
    expect(verify_pinned(&w, w.root_pin, &r),
           "TCB signing chain: certificate 'Intel SGX PCK Processor CA' where Intel's 'Intel SGX "
           "TCB Signing' is expected");
    world_free(&w);
}

/* hw_synth.h: fresh report data in a TDX quote, signed through the test
 * chain, verifies with the real vector's status; the quotes differ in
 * their attestation keys; a changed MRTD is kept; Intel's pin refuses it. */
static void test_tdx_any_report_data(void **state)
{
    (void)state;
    struct hw_synth s;
    hw_synth_init(&s, "tdx_v4_dcapqvl");
    uint8_t data[64], mr_td[48];
    for (int i = 0; i < 64; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    memset(mr_td, 0xab, sizeof(mr_td));
    size_t len, len2;
    uint8_t *quote = hw_synth_quote(&s, data, NULL, &len);
    uint8_t *other = hw_synth_quote(&s, data, mr_td, &len2);
    struct steep_hw_trust trust = {.intel_root_spki_sha256 = s.root_pin};
    struct steep_hw_report r;
    if (steep_hw_verify(quote, len, &s.c, &trust, s.now, &r) != 0)
        fail_msg("synthetic TDX quote: %s", steep_error_get());
    assert_int_equal(r.kind, STEEP_HW_TDX);
    assert_string_equal(steep_hw_tcb_status_name(r.status),
                        hw_vector_string("tdx_v4_dcapqvl", "expected_tcb_status"));
    assert_memory_equal(r.report_data, data, 64);
    size_t real_len;
    uint8_t *real = hw_evidence("tdx_v4_dcapqvl", &real_len);
    assert_memory_equal(r.tdx.mr_td, real + hw_synth_mr_td_offset(real, real_len), 48);
    free(real);
    assert_int_equal(steep_hw_verify(other, len2, &s.c, &trust, s.now, &r), 0);
    assert_memory_equal(r.tdx.mr_td, mr_td, 48);
    assert_memory_not_equal(quote + 700, other + 700, 64); /* attestation keys (632 + 4 + 64) */
    expect(steep_hw_verify(quote, len, &s.c, NULL, s.now, &r), "is not the pinned root of trust");
    quote[hw_synth_report_data_offset(quote, len)] ^= 1;
    expect(steep_hw_verify(quote, len, &s.c, &trust, s.now, &r), "signature");
    free(quote);
    free(other);
    hw_synth_free(&s);
}

/* hw_synth.h's SEV-SNP reports: any report data and measurement, signed
 * by a test VCEK under a test ASK/ARK; the test ARK pinned they verify,
 * under AMD's real pins they are refused. */
static void test_snp_any_report_data(void **state)
{
    (void)state;
    struct hw_synth_snp s;
    hw_synth_snp_init(&s, "snp_milan_virtee");
    uint8_t data[64], measurement[48];
    for (int i = 0; i < 64; i++)
        data[i] = (uint8_t)(200 - i);
    memset(measurement, 0x3c, sizeof(measurement));
    size_t len;
    uint8_t *report = hw_synth_snp_report(&s, data, measurement, &len);
    struct steep_hw_collateral c = {.vcek = s.vcek, .ask_ark = s.ask_ark};
    struct steep_hw_trust trust = {.amd_ark_spki_sha256 = s.ark_pin};
    struct steep_hw_report r;
    if (steep_hw_verify(report, len, &c, &trust, s.now, &r) != 0)
        fail_msg("synthetic SNP report: %s", steep_error_get());
    assert_int_equal(r.kind, STEEP_HW_SNP);
    assert_memory_equal(r.report_data, data, 64);
    assert_memory_equal(r.snp.measurement, measurement, 48);
    expect(steep_hw_verify(report, len, &c, NULL, s.now, &r), "is not the pinned root of trust");
    report[0x50] ^= 1;
    expect(steep_hw_verify(report, len, &c, &trust, s.now, &r), "signature");
    free(report);
    hw_synth_snp_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snp_any_report_data), cmocka_unit_test(test_tdx_any_report_data),
        cmocka_unit_test(test_faithful_copy),       cmocka_unit_test(test_look_alike_root),
        cmocka_unit_test(test_revocations),         cmocka_unit_test(test_roles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
