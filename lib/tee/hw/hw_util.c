/*
 * Small pieces shared by the hardware verifiers: vendor time strings, raw
 * r||s ECDSA signatures, keys from raw points, pinned-root chain checks and
 * PEM chains. Time is always an argument: nothing here reads the clock.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"

/* SHA-256 of the Intel SGX Root CA's SubjectPublicKeyInfo (the certificate's
 * SHA-256 fingerprint is 44:A0:19:6B:…:B6:74:D3). */
const uint8_t steep_hw_intel_root_pin[32] = {
    0xa0, 0xaf, 0x03, 0x12, 0x89, 0xf5, 0xd5, 0xd4, 0x13, 0x2f, 0x91, 0x86, 0x06, 0x8a, 0x7f, 0xc1,
    0x36, 0x28, 0x63, 0x3b, 0xa2, 0x35, 0x77, 0x74, 0x72, 0xe2, 0x9b, 0x6b, 0x6c, 0x67, 0xa4, 0x9e};

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        ENSURE(isdigit((unsigned char)s[i]), "bad time '%s'", s);
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int steep_hw_parse_time(const char *text, time_t *out)
{
    ENSURE(text && strlen(text) >= 20, "bad time '%s'", text ? text : "(none)");
    int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
    ENSURE(text[4] == '-' && text[7] == '-' && text[10] == 'T' && text[13] == ':' &&
               text[16] == ':',
           "bad time '%s' (expected YYYY-MM-DDTHH:MM:SSZ)", text);
    GUARD(digits(text, 4, &year));
    GUARD(digits(text + 5, 2, &mon));
    GUARD(digits(text + 8, 2, &day));
    GUARD(digits(text + 11, 2, &hour));
    GUARD(digits(text + 14, 2, &min));
    GUARD(digits(text + 17, 2, &sec));
    const char *rest = text + 19;
    if (*rest == '.') {
        rest++;
        ENSURE(isdigit((unsigned char)*rest), "bad time '%s'", text);
        while (isdigit((unsigned char)*rest))
            rest++;
    }
    ENSURE(strcmp(rest, "Z") == 0, "bad time '%s' (must be UTC, ending in Z)", text);
    ENSURE(mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && hour <= 23 && min <= 59 && sec <= 60,
           "bad time '%s'", text);
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    *out = timegm(&tm);
    return 0;
}

void steep_hw_format_time(time_t t, char out[32])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "@%lld", (long long)t);
}

time_t steep_hw_asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

void steep_hw_until(time_t *until, time_t t)
{
    if (t && (*until == 0 || t < *until))
        *until = t;
}

EVP_PKEY *steep_hw_p256_key(const uint8_t xy[64])
{
    uint8_t point[65];
    point[0] = 0x04;
    memcpy(point + 1, xy, 64);
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bld && ctx &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1) {
        /* The point must be on the curve (P-256's cofactor is 1: no order check). */
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        if (!check || EVP_PKEY_public_check_quick(check) != 1) {
            EVP_PKEY_free(key);
            key = NULL;
        }
        EVP_PKEY_CTX_free(check);
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

bool steep_hw_ecdsa_p256_verify(EVP_PKEY *key, const uint8_t rs[64], const void *data, size_t len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    unsigned char *der = NULL;
    int der_len = -1;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* owned by sig */
        der_len = i2d_ECDSA_SIG(sig, &der);
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = der_len > 0 && ctx &&
              EVP_DigestVerifyInit(ctx, NULL, steep_hw_sha256(), NULL, key) == 1 &&
              EVP_DigestVerify(ctx, der, (size_t)der_len, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return ok;
}

/* The certificate's SubjectPublicKeyInfo DER, from the encoding it was read
 * with (no re-encoding through OpenSSL 3's encoders). */
static bool spki_sha256(X509 *cert, uint8_t out[32])
{
    unsigned char *der = NULL;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    unsigned int n = 0;
    bool ok = len > 0 && EVP_Digest(der, (size_t)len, out, &n, steep_hw_sha256(), NULL) == 1;
    OPENSSL_free(der);
    return ok;
}

bool steep_hw_cert_key_is(X509 *cert, const uint8_t pin[32])
{
    uint8_t hash[32];
    return spki_sha256(cert, hash) && CRYPTO_memcmp(hash, pin, 32) == 0;
}

struct steep_hw_part steep_hw_cert_der(X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    return (struct steep_hw_part){der, len > 0 ? (size_t)len : 0};
}

struct steep_hw_part steep_hw_crl_der(X509_CRL *crl)
{
    unsigned char *der = NULL;
    int len = i2d_X509_CRL(crl, &der);
    return (struct steep_hw_part){der, len > 0 ? (size_t)len : 0};
}

bool steep_hw_crl_signed_by(struct steep_hw_memo *memo, X509_CRL *crl, X509 *issuer)
{
    uint8_t key_hash[32], fact[32];
    struct steep_hw_part parts[2] = {{key_hash, 32}, steep_hw_crl_der(crl)};
    bool keyed = parts[1].data && spki_sha256(issuer, key_hash) &&
                 steep_hw_memo_key(fact, "crl signed by", parts, 2) == 0;
    OPENSSL_free((void *)parts[1].data);
    if (keyed && steep_hw_memo_has(memo, fact, NULL))
        return true;
    EVP_PKEY *key = X509_get0_pubkey(issuer);
    bool ok = key && X509_CRL_verify(crl, key) == 1;
    if (ok && keyed)
        steep_hw_memo_add(memo, fact, NULL);
    return ok;
}

STACK_OF(X509) * steep_hw_pem_chain(const uint8_t *pem, size_t len)
{
    while (len > 0 && pem[len - 1] == '\0')
        len--;
    if (len == 0 || len >= INT32_MAX) {
        steep_error_set("empty PEM certificate chain");
        return NULL;
    }
    STACK_OF(X509) *chain = sk_X509_new_null();
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *cert;
    while (chain && bio && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(chain, cert))
            X509_free(cert);
    BIO_free(bio);
    return chain;
}

int steep_hw_hex(const char *text, uint8_t *out, size_t n)
{
    ENSURE(text && strlen(text) == 2 * n, "'%s' is not %zu bytes of hex", text ? text : "", n);
    char lower[2 * 64 + 1];
    ENSURE(n <= 64, "hex value too long");
    for (size_t i = 0; i < 2 * n; i++)
        lower[i] = (char)tolower((unsigned char)text[i]);
    lower[2 * n] = '\0';
    return steep_hex_decode(lower, out, n);
}

static const char *subject_cn(X509 *cert, char *out, size_t size)
{
    X509_NAME *name = X509_get_subject_name(cert);
    if (!name || X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)size) < 0)
        snprintf(out, size, "(no CN)");
    return out;
}

int steep_hw_verify_chain(const char *what, X509 *leaf, STACK_OF(X509) * rest,
                          const uint8_t pin[32], X509_CRL *const *crls, size_t n_crls, time_t now,
                          time_t *until)
{
    int n = sk_X509_num(rest);
    ENSURE(n >= 1, "%s: no issuer certificates", what);
    X509 *root = sk_X509_value(rest, n - 1);
    char cn[128];
    ENSURE(steep_hw_cert_key_is(root, pin),
           "%s: the root '%s' is not the pinned root of trust (roots are pinned by key, "
           "never by name)",
           what, subject_cn(root, cn, sizeof(cn)));
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = store && untrusted && ctx && X509_STORE_add_cert(store, root) == 1
                 ? 0
                 : steep_error_set("out of memory");
    for (int i = 0; rc == 0 && i < n - 1; i++)
        if (!sk_X509_push(untrusted, sk_X509_value(rest, i)))
            rc = steep_error_set("out of memory");
    for (size_t i = 0; rc == 0 && i < n_crls; i++)
        if (X509_STORE_add_crl(store, crls[i]) != 1)
            rc = steep_error_set("out of memory");
    if (rc == 0 && X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
        rc = steep_error_set("%s: cannot start the chain check", what);
    if (rc == 0) {
        X509_STORE_CTX_set_time(ctx, 0, now);
        /* The root is trusted for its pinned key, but a damaged self-signature
         * still means damaged bytes: check it too. */
        unsigned long flags = X509_V_FLAG_CHECK_SS_SIGNATURE;
        if (n_crls)
            flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
        X509_STORE_CTX_set_flags(ctx, flags);
        if (X509_verify_cert(ctx) != 1) {
            int err = X509_STORE_CTX_get_error(ctx);
            X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
            char when[32];
            steep_hw_format_time(now, when);
            rc = steep_error_set("%s: certificate '%s' at %s: %s", what,
                                 bad ? subject_cn(bad, cn, sizeof(cn)) : "?", when,
                                 X509_verify_cert_error_string(err));
        }
    }
    if (rc == 0 && until) {
        steep_hw_until(until, steep_hw_asn1_time(X509_get0_notAfter(leaf)));
        for (int i = 0; i < n; i++)
            steep_hw_until(until, steep_hw_asn1_time(X509_get0_notAfter(sk_X509_value(rest, i))));
        for (size_t i = 0; i < n_crls; i++)
            steep_hw_until(until, steep_hw_asn1_time(X509_CRL_get0_nextUpdate(crls[i])));
    }
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return rc;
}

static int check_cert_window(const char *what, X509 *cert, time_t now)
{
    char cn[128], when[32];
    steep_hw_format_time(now, when);
    ENSURE(X509_cmp_time(X509_get0_notBefore(cert), &now) < 0,
           "%s: certificate '%s' at %s: certificate is not yet valid", what,
           subject_cn(cert, cn, sizeof(cn)), when);
    ENSURE(X509_cmp_time(X509_get0_notAfter(cert), &now) > 0,
           "%s: certificate '%s' at %s: certificate has expired", what,
           subject_cn(cert, cn, sizeof(cn)), when);
    return 0;
}

int steep_hw_verify_chain_memo(struct steep_hw_memo *memo, const char *what, X509 *leaf,
                               STACK_OF(X509) * rest, const uint8_t pin[32], time_t now,
                               time_t *until)
{
    int n = sk_X509_num(rest);
    ENSURE(n >= 1 && n <= 4, "%s: %d issuer certificates", what, n);
    struct steep_hw_part parts[6] = {{pin, 32}, steep_hw_cert_der(leaf)};
    bool keyed = parts[1].data != NULL;
    for (int i = 0; i < n; i++) {
        parts[2 + i] = steep_hw_cert_der(sk_X509_value(rest, i));
        keyed = keyed && parts[2 + i].data;
    }
    uint8_t fact[32];
    keyed = keyed && steep_hw_memo_key(fact, what, parts, (size_t)n + 2) == 0;
    for (int i = 1; i < n + 2; i++)
        OPENSSL_free((void *)parts[i].data);
    if (!keyed || !steep_hw_memo_has(memo, fact, NULL)) {
        GUARD(steep_hw_verify_chain(what, leaf, rest, pin, NULL, 0, now, until));
        if (keyed)
            steep_hw_memo_add(memo, fact, NULL);
        return 0;
    }
    /* Proven before: the pin and the windows are still checked. */
    char cn[128];
    ENSURE(steep_hw_cert_key_is(sk_X509_value(rest, n - 1), pin),
           "%s: the root '%s' is not the pinned root of trust", what,
           subject_cn(sk_X509_value(rest, n - 1), cn, sizeof(cn)));
    GUARD(check_cert_window(what, leaf, now));
    for (int i = 0; i < n; i++)
        GUARD(check_cert_window(what, sk_X509_value(rest, i), now));
    if (until) {
        steep_hw_until(until, steep_hw_asn1_time(X509_get0_notAfter(leaf)));
        for (int i = 0; i < n; i++)
            steep_hw_until(until, steep_hw_asn1_time(X509_get0_notAfter(sk_X509_value(rest, i))));
    }
    return 0;
}
