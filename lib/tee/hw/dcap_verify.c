/*
 * Verification of an Intel DCAP quote (SGX v3, TDX v4/v5) against Intel's
 * collateral, in this order, each refusal with its own reason:
 *   1. layout (dcap_quote.c) and the presence of every collateral piece;
 *   2. the PCK chain of the certification data: leaf → PCK CA → a root pinned
 *      by key, at `now`, with the root CA CRL (signed by that root) and the
 *      PCK CRL (signed by this quote's PCK CA), neither listing a serial of
 *      the chain, both within thisUpdate..nextUpdate;
 *   3. the QE report's signature under the PCK key, and its REPORTDATA
 *      binding SHA-256(attestation key || QE authentication data);
 *   4. the quote's signature over header and body under the attestation key;
 *   5. the TCB Signing chain (to the same pinned root, root CRL) and the
 *      signatures of TCB info and QE identity over their exact bytes;
 *   6. TCB info and QE identity: id matching the quote, FMSPC and PCE-ID
 *      matching the PCK certificate, issueDate ≤ now ≤ nextUpdate;
 *   7. the TCB status (tcb.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"

static int check_window(const char *what, time_t from, time_t to, time_t now, time_t *until)
{
    char a[32], b[32], n[32];
    steep_hw_format_time(from, a);
    steep_hw_format_time(to, b);
    steep_hw_format_time(now, n);
    ENSURE(now >= from, "%s is not valid yet at %s (issued %s)", what, n, a);
    ENSURE(now <= to, "%s is stale at %s: its next update was due %s", what, n, b);
    steep_hw_until(until, to);
    return 0;
}

/* Intel's roles are named; QVL checks them, and so a certificate of one role
 * (a PCK CA, say) cannot stand in for another (the TCB Signing one). */
static int check_role(X509 *cert, const char *role, const char *other)
{
    char cn[128] = "";
    X509_NAME *name = X509_get_subject_name(cert);
    if (name)
        X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn));
    ENSURE(strcmp(cn, role) == 0 || (other && strcmp(cn, other) == 0),
           "certificate '%s' where Intel's '%s' is expected", cn, role);
    return 0;
}

static bool same_name(X509_NAME *a, X509_NAME *b)
{
    return a && b && X509_NAME_cmp(a, b) == 0;
}

/* The CRL is issued and signed by `issuer`, current at now, and lists none of
 * certs; names[i] says what certs[i] is, names[n] what the issuer is. */
static int check_crl(struct steep_hw_memo *memo, const char *what, X509_CRL *crl, X509 *issuer,
                     X509 *const *certs, const char *const *names, size_t n, time_t now,
                     time_t *until)
{
    ENSURE(same_name(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)),
           "%s was not issued by this quote's %s", what, names[n]);
    EVP_PKEY *key = X509_get0_pubkey(issuer);
    ENSURE(key && X509_CRL_verify(crl, key) == 1, "%s signature does not verify under the %s", what,
           names[n]);
    GUARD(check_window(what, steep_hw_asn1_time(X509_CRL_get0_lastUpdate(crl)),
                       steep_hw_asn1_time(X509_CRL_get0_nextUpdate(crl)), now, until));
    for (size_t i = 0; i < n; i++) {
        X509_REVOKED *entry = NULL;
        ENSURE(X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(certs[i])) != 1,
               "the %s is revoked: its serial is listed in the %s", names[i], what);
    }
    return 0;
}

static int check_pck_chain(const struct steep_hw_collateral *c, const uint8_t pin[32], time_t now,
                           STACK_OF(X509) * chain, time_t *until)
{
    ENSURE(sk_X509_num(chain) == 3,
           "quote certification data: %d certificates, expected the PCK leaf, the PCK CA and "
           "the root",
           sk_X509_num(chain));
    X509 *leaf = sk_X509_value(chain, 0), *ca = sk_X509_value(chain, 1),
         *root = sk_X509_value(chain, 2);
    if (check_role(leaf, "Intel SGX PCK Certificate", NULL) < 0 ||
        check_role(ca, "Intel SGX PCK Platform CA", "Intel SGX PCK Processor CA") < 0)
        return steep_error_wrap("PCK certificate chain");
    STACK_OF(X509) *rest = sk_X509_new_null();
    ENSURE(rest && sk_X509_push(rest, ca) && sk_X509_push(rest, root), "out of memory");
    int rc =
        steep_hw_verify_chain_memo(c->memo, "PCK certificate chain", leaf, rest, pin, now, until);
    sk_X509_free(rest);
    GUARD(rc);
    X509 *root_listed[] = {ca};
    const char *root_names[] = {"PCK CA certificate", "pinned Intel SGX Root CA"};
    GUARD(check_crl(c->memo, "root CA CRL", c->root_crl, root, root_listed, root_names, 1, now,
                    until));
    X509 *pck_listed[] = {leaf};
    const char *pck_names[] = {"PCK certificate", "PCK CA"};
    GUARD(check_crl(c->memo, "PCK CRL", c->pck_crl, ca, pck_listed, pck_names, 1, now, until));
    return 0;
}

static int check_qe_report(const struct steep_dcap_quote *q, X509 *pck)
{
    EVP_PKEY *key = X509_get0_pubkey(pck);
    ENSURE(key && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC,
           "PCK certificate does not hold an EC key");
    ENSURE(
        steep_hw_ecdsa_p256_verify(key, q->qe_report_signature, q->qe_report, STEEP_SGX_REPORT_LEN),
        "QE report signature does not verify under the PCK certificate's key");
    uint8_t hash[32];
    unsigned int hash_len = 0;
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    bool hashed = sha && EVP_DigestInit_ex(sha, EVP_sha256(), NULL) == 1 &&
                  EVP_DigestUpdate(sha, q->attestation_key, 64) == 1 &&
                  EVP_DigestUpdate(sha, q->qe_auth_data, q->qe_auth_len) == 1 &&
                  EVP_DigestFinal_ex(sha, hash, &hash_len) == 1;
    EVP_MD_CTX_free(sha);
    ENSURE(hashed, "cannot hash the attestation key");
    static const uint8_t zero[32];
    ENSURE(CRYPTO_memcmp(q->qe.report_data, hash, 32) == 0 &&
               CRYPTO_memcmp(q->qe.report_data + 32, zero, 32) == 0,
           "QE report does not bind the attestation key: REPORTDATA is not "
           "SHA-256(attestation key || QE authentication data)");
    return 0;
}

static int check_quote_signature(const struct steep_dcap_quote *q)
{
    EVP_PKEY *key = steep_hw_p256_key(q->attestation_key);
    ENSURE(key != NULL, "quote attestation key is not a valid P-256 point");
    bool ok = steep_hw_ecdsa_p256_verify(key, q->signature, q->signed_region, q->signed_len);
    EVP_PKEY_free(key);
    ENSURE(ok, "quote signature does not verify under the attestation key (header or body "
               "altered)");
    return 0;
}

/* The signature over the exact JSON bytes, remembered per (signer, signature, bytes). */
static bool json_signed_by(struct steep_hw_memo *memo, X509 *signer, const uint8_t sig[64],
                           const struct steep_buf *json)
{
    struct steep_hw_part parts[3] = {steep_hw_cert_der(signer), {sig, 64}, {json->data, json->len}};
    uint8_t fact[32];
    bool keyed = parts[0].data && steep_hw_memo_key(fact, "json signed by", parts, 3) == 0;
    OPENSSL_free((void *)parts[0].data);
    if (keyed && steep_hw_memo_has(memo, fact, NULL))
        return true;
    bool ok = steep_hw_ecdsa_p256_verify(X509_get0_pubkey(signer), sig, json->data, json->len);
    if (ok && keyed)
        steep_hw_memo_add(memo, fact, NULL);
    return ok;
}

static int check_collateral_signatures(const struct steep_hw_collateral *c, const uint8_t pin[32],
                                       time_t now, time_t *until)
{
    ENSURE(c->tcb_signing_chain && sk_X509_num(c->tcb_signing_chain) == 2,
           "collateral: the TCB signing chain must hold the TCB Signing certificate and the root");
    X509 *signer = sk_X509_value(c->tcb_signing_chain, 0);
    X509 *root = sk_X509_value(c->tcb_signing_chain, 1);
    if (check_role(signer, "Intel SGX TCB Signing", NULL) < 0)
        return steep_error_wrap("TCB signing chain");
    STACK_OF(X509) *rest = sk_X509_new_null();
    ENSURE(rest && sk_X509_push(rest, root), "out of memory");
    int rc =
        steep_hw_verify_chain_memo(c->memo, "TCB signing chain", signer, rest, pin, now, until);
    sk_X509_free(rest);
    GUARD(rc);
    X509 *listed[] = {signer};
    const char *names[] = {"TCB Signing certificate", "pinned Intel SGX Root CA"};
    GUARD(check_crl(c->memo, "root CA CRL", c->root_crl, root, listed, names, 1, now, until));
    EVP_PKEY *key = X509_get0_pubkey(signer);
    ENSURE(key && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC,
           "TCB Signing certificate does not hold an EC key");
    ENSURE(json_signed_by(c->memo, signer, c->tcb_info_sig, &c->tcb_info_json),
           "TCB info signature does not verify under the TCB Signing key (TCB info altered)");
    ENSURE(json_signed_by(c->memo, signer, c->qe_identity_sig, &c->qe_identity_json),
           "QE identity signature does not verify under the TCB Signing key (QE identity "
           "altered)");
    return 0;
}

static int check_collateral_fit(const struct steep_dcap_quote *q,
                                const struct steep_hw_collateral *c,
                                const struct steep_pck_info *pck, time_t now, time_t *until)
{
    bool sgx = q->body_type == 1;
    const struct steep_hw_collateral_item *t = c->tcb_info, *e = c->qe_identity;
    ENSURE(strcmp(t->id, sgx ? "SGX" : "TDX") == 0, "TCB info is for %s, the quote is %s", t->id,
           sgx ? "SGX" : "TDX");
    char want[13], got[13];
    steep_hex_encode(pck->fmspc, 6, want);
    steep_hex_encode(t->fmspc, 6, got);
    ENSURE(memcmp(t->fmspc, pck->fmspc, 6) == 0,
           "TCB info is for FMSPC %s, the PCK certificate's is %s (collateral of another "
           "platform)",
           got, want);
    ENSURE(t->pce_id == pck->pce_id, "TCB info PCE-ID %04x is not the PCK certificate's %04x",
           t->pce_id, pck->pce_id);
    ENSURE(strcmp(e->id, sgx ? "QE" : "TD_QE") == 0, "QE identity is for %s, the quote needs %s",
           e->id, sgx ? "QE" : "TD_QE");
    GUARD(check_window("TCB info", t->issue_date, t->next_update, now, until));
    return check_window("QE identity", e->issue_date, e->next_update, now, until);
}

static int require_collateral(const struct steep_hw_collateral *c)
{
    ENSURE(c && c->have_tcb_info && c->tcb_info, "collateral: no TCB info (tcb_info.json)");
    ENSURE(c->have_qe_identity && c->qe_identity, "collateral: no QE identity (qe_identity.json)");
    ENSURE(c->tcb_signing_chain, "collateral: no TCB signing chain (tcb_signing_chain.pem)");
    ENSURE(c->pck_crl, "collateral: no PCK CRL (pck_crl.der)");
    ENSURE(c->root_crl, "collateral: no root CA CRL (root_ca_crl.der)");
    return 0;
}

static void fill_report(const struct steep_dcap_quote *q, const struct steep_pck_info *pck,
                        struct steep_hw_report *r)
{
    r->version = q->version;
    memcpy(r->fmspc, pck->fmspc, 6);
    r->pce_id = pck->pce_id;
    if (q->body_type == 1) {
        r->kind = STEEP_HW_SGX;
        r->sgx = q->sgx;
        memcpy(r->report_data, q->sgx.report_data, 64);
        r->debug = (q->sgx.attributes[0] & 0x02) != 0; /* ATTRIBUTES.DEBUG */
    } else {
        r->kind = STEEP_HW_TDX;
        r->tdx = q->tdx;
        memcpy(r->report_data, q->tdx.report_data, 64);
        r->debug = (q->tdx.td_attributes[0] & 0x01) != 0; /* TDATTRIBUTES.DEBUG */
    }
}

static int verify_parsed(const struct steep_dcap_quote *q, const struct steep_hw_collateral *c,
                         const uint8_t pin[32], time_t now, STACK_OF(X509) * chain,
                         struct steep_hw_report *r)
{
    time_t until = 0;
    GUARD(check_pck_chain(c, pin, now, chain, &until));
    X509 *pck = sk_X509_value(chain, 0);
    GUARD(check_qe_report(q, pck));
    GUARD(check_quote_signature(q));
    struct steep_pck_info info;
    GUARD(steep_hw_pck_info(pck, &info));
    GUARD(check_collateral_signatures(c, pin, now, &until));
    GUARD(check_collateral_fit(q, c, &info, now, &until));
    fill_report(q, &info, r);
    GUARD(steep_hw_tcb_evaluate(q, info.components, info.pcesvn, c->tcb_info, c->qe_identity, r));
    r->valid_until = until;
    return 0;
}

int steep_hw_verify_dcap(const uint8_t *data, size_t len, const struct steep_hw_collateral *c,
                         const struct steep_hw_trust *trust, time_t now,
                         struct steep_hw_report *out)
{
    struct steep_dcap_quote q;
    GUARD(steep_dcap_quote_parse(data, len, &q));
    GUARD(require_collateral(c));
    const uint8_t *pin = trust && trust->intel_root_spki_sha256 ? trust->intel_root_spki_sha256
                                                                : steep_hw_intel_root_pin;
    /* A platform's quotes all carry the same PCK chain: parse it once. */
    struct steep_hw_part part = {q.cert_data, q.cert_len};
    uint8_t fact[32];
    STACK_OF(X509) *chain = NULL;
    bool keyed = steep_hw_memo_key(fact, "pck chain pem", &part, 1) == 0;
    if (!keyed || !steep_hw_memo_has(c->memo, fact, &chain)) {
        chain = steep_hw_pem_chain(q.cert_data, q.cert_len);
        ENSURE(chain != NULL, "quote certification data is not a PEM certificate chain");
        if (keyed)
            steep_hw_memo_add(c->memo, fact, chain);
    }
    int rc = verify_parsed(&q, c, pin, now, chain, out);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}
