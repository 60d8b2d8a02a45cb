/*
 * Simulated attestation authority: key/certificate creation and report
 * issuing. Reports are written field by field in IAS order so their exact
 * bytes are stable; the id is 16 random bytes in hex, as Intel's are.
 */
#include "tee/authority.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/error.h"
#include "tee/keys.h"
#include "tee/report.h"

struct steep_authority {
    EVP_PKEY *key;
    X509 *cert;
};

static int add_name(X509_NAME *name, const char *field, const char *value)
{
    ENSURE(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value, -1,
                                      -1, 0),
           "cannot build certificate name");
    return 0;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    ENSURE(ext != NULL, "cannot build certificate extension");
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    ENSURE(ok, "cannot add certificate extension");
    return 0;
}

/* A CA (root) or report-signing (leaf) certificate, valid for 10 years. */
static X509 *make_cert(EVP_PKEY *key, const char *common_name, X509 *issuer, EVP_PKEY *issuer_key,
                       long serial)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    int ok = cert && name && X509_set_version(cert, 2) &&
             ASN1_INTEGER_set(X509_get_serialNumber(cert), serial) &&
             X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600) &&
             X509_set_pubkey(cert, key) && add_name(name, "C", "XX") == 0 &&
             add_name(name, "O", "Steep SIMULATED attestation authority") == 0 &&
             add_name(name, "CN", common_name) == 0 && X509_set_subject_name(cert, name) &&
             X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    if (ok && !issuer)
        ok = add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
             add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
             add_ext(cert, cert, NID_subject_key_identifier, "hash") == 0;
    if (ok && issuer)
        ok =
            add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
            add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature,nonRepudiation") == 0 &&
            add_ext(cert, issuer, NID_authority_key_identifier, "keyid") == 0;
    ok = ok && X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(cert);
        steep_error_set("cannot create the authority certificate '%s'", common_name);
        return NULL;
    }
    return cert;
}

static void join(char *out, size_t size, const char *dir, const char *file)
{
    snprintf(out, size, "%s/%s", dir, file);
}

int steep_authority_init(const char *dir)
{
    return steep_authority_init_bits(dir, 3072);
}

int steep_authority_init_bits(const char *dir, int root_bits)
{
    char root_cert[4096], root_key[4096], signing_cert[4096], signing_key[4096];
    join(root_cert, sizeof(root_cert), dir, STEEP_AUTHORITY_ROOT_CERT);
    join(root_key, sizeof(root_key), dir, STEEP_AUTHORITY_ROOT_KEY);
    join(signing_cert, sizeof(signing_cert), dir, STEEP_AUTHORITY_SIGNING_CERT);
    join(signing_key, sizeof(signing_key), dir, STEEP_AUTHORITY_SIGNING_KEY);
    GUARD(steep_tee_make_dir(dir));
    GUARD(steep_tee_path_must_not_exist(root_cert));
    GUARD(steep_tee_path_must_not_exist(root_key));
    GUARD(steep_tee_path_must_not_exist(signing_cert));
    GUARD(steep_tee_path_must_not_exist(signing_key));

    int rc = -1;
    EVP_PKEY *root = steep_tee_key_generate_rsa(root_bits);
    EVP_PKEY *signer = steep_tee_key_generate_rsa(2048);
    X509 *root_x509 = NULL, *signer_x509 = NULL;
    if (!root || !signer)
        goto out;
    root_x509 = make_cert(root, "Steep SIMULATED Attestation Root CA", NULL, NULL, 1);
    if (!root_x509)
        goto out;
    signer_x509 =
        make_cert(signer, "Steep SIMULATED Attestation Report Signing", root_x509, root, 2);
    if (!signer_x509)
        goto out;
    if (steep_tee_key_write_private(root_key, root) < 0 ||
        steep_tee_key_write_private(signing_key, signer) < 0 ||
        steep_tee_cert_write(root_cert, root_x509) < 0 ||
        steep_tee_cert_write(signing_cert, signer_x509) < 0)
        goto out;
    rc = 0;
out:
    EVP_PKEY_free(root);
    EVP_PKEY_free(signer);
    X509_free(root_x509);
    X509_free(signer_x509);
    return rc;
}

struct steep_authority *steep_authority_open(const char *signing_key_path,
                                             const char *signing_cert_path)
{
    struct steep_authority *authority = calloc(1, sizeof(*authority));
    if (!authority) {
        steep_error_set("out of memory");
        return NULL;
    }
    authority->key = steep_tee_key_read_private(signing_key_path);
    authority->cert = authority->key ? steep_tee_cert_read(signing_cert_path) : NULL;
    if (authority->cert && X509_check_private_key(authority->cert, authority->key) != 1) {
        steep_error_set("%s does not match the key %s", signing_cert_path, signing_key_path);
        X509_free(authority->cert);
        authority->cert = NULL;
    }
    if (!authority->cert) {
        steep_authority_free(authority);
        return NULL;
    }
    return authority;
}

void steep_authority_free(struct steep_authority *authority)
{
    if (!authority)
        return;
    EVP_PKEY_free(authority->key);
    X509_free(authority->cert);
    free(authority);
}

X509 *steep_authority_cert(const struct steep_authority *authority)
{
    return authority->cert;
}

int steep_authority_sign(struct steep_authority *authority, const void *report, size_t len,
                         struct steep_buf *signature)
{
    if (steep_tee_sign_sha256(authority->key, report, len, signature) < 0)
        return steep_error_set("the simulated authority could not sign the report");
    return 0;
}

static int append_cert(struct steep_tee_evidence *out, X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    ENSURE(len > 0, "cannot encode the signing certificate");
    int rc = steep_buf_append(&out->certs[0], der, (size_t)len);
    OPENSSL_free(der);
    out->n_certs = 1;
    return rc;
}

int steep_authority_issue_at(struct steep_authority *authority,
                             const uint8_t quote[STEEP_QUOTE_LEN], const char *status, time_t when,
                             struct steep_tee_evidence *out)
{
    uint8_t id[16];
    char id_hex[33], timestamp[40];
    ENSURE(RAND_bytes(id, sizeof(id)) == 1, "no randomness for the report id");
    steep_hex_encode(id, sizeof(id), id_hex);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    steep_report_format_time(when, now.tv_nsec, timestamp);
    char body[4 * ((STEEP_QUOTE_LEN + 2) / 3) + 1];
    EVP_EncodeBlock((unsigned char *)body, quote, STEEP_QUOTE_LEN);

    GUARD(steep_buf_printf(&out->report,
                           "{\"id\":\"%s\",\"timestamp\":\"%s\",\"version\":4,"
                           "\"isvEnclaveQuoteStatus\":\"%s\",\"isvEnclaveQuoteBody\":\"%s\","
                           "\"steepSimulated\":true}",
                           id_hex, timestamp, status, body));
    GUARD(steep_authority_sign(authority, out->report.data, out->report.len, &out->signature));
    return append_cert(out, authority->cert);
}

int steep_authority_issue(struct steep_authority *authority, const uint8_t quote[STEEP_QUOTE_LEN],
                          struct steep_tee_evidence *out)
{
    return steep_authority_issue_at(authority, quote, "OK", time(NULL), out);
}
