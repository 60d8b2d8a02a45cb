/*
 * RA-TLS certificate building and evidence extraction.
 *
 * Building uses OpenSSL's X509 API with explicit UTF8String names and a raw
 * OCTET STRING extension value, which gives the same DER layout as
 * Teaclave's hand-built yasna certificate. Parsing never trusts the
 * extension: size-limited JSON (jansson), each array element an integer
 * 0..255, at most STEEP_TEE_MAX_CERTS certificates.
 */
#include "tee/ratls.h"

#include <jansson.h>
#include <string.h>

#include <openssl/objects.h>

#include "core/error.h"
#include "tee/keys.h"

enum { VALIDITY_DAYS = 90, REPORT_MAX = 16384, SIGNATURE_MAX = 1024, CERT_MAX = 16384 };

static int append_bytes(struct steep_buf *out, const struct steep_buf *bytes)
{
    GUARD(steep_buf_append_u8(out, '['));
    for (size_t i = 0; i < bytes->len; i++)
        GUARD(steep_buf_printf(out, i ? ",%u" : "%u", bytes->data[i]));
    return steep_buf_append_u8(out, ']');
}

int steep_ratls_extension_json(const struct steep_tee_evidence *evidence, struct steep_buf *out)
{
    GUARD(steep_buf_printf(out, "{\"report\":"));
    GUARD(append_bytes(out, &evidence->report));
    GUARD(steep_buf_printf(out, ",\"signature\":"));
    GUARD(append_bytes(out, &evidence->signature));
    GUARD(steep_buf_printf(out, ",\"certs\":["));
    for (size_t i = 0; i < evidence->n_certs; i++) {
        if (i)
            GUARD(steep_buf_append_u8(out, ','));
        GUARD(append_bytes(out, &evidence->certs[i]));
    }
    return steep_buf_printf(out, "]}");
}

static int set_common_name(X509_NAME *name, const char *value)
{
    ENSURE(X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING,
                                      (const unsigned char *)value, -1, -1, 0),
           "cannot build the certificate name");
    return 0;
}

static int add_evidence_extension(X509 *cert, const struct steep_tee_evidence *evidence)
{
    struct steep_buf json = STEEP_BUF_INIT;
    GUARD(steep_ratls_extension_json(evidence, &json));
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj(STEEP_RATLS_OID, 1);
    X509_EXTENSION *ext = NULL;
    int ok = value && oid && ASN1_OCTET_STRING_set(value, json.data, (int)json.len) &&
             (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value)) != NULL &&
             X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    steep_buf_free(&json);
    ENSURE(ok, "cannot add the RA-TLS extension");
    return 0;
}

X509 *steep_ratls_build(EVP_PKEY *key, const struct steep_tee_evidence *evidence)
{
    X509 *cert = X509_new();
    X509_NAME *issuer = X509_NAME_new();
    X509_NAME *subject = X509_NAME_new();
    int ok = cert && issuer && subject && X509_set_version(cert, 2) &&
             ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) &&
             X509_gmtime_adj(X509_getm_notBefore(cert), 0) &&
             X509_gmtime_adj(X509_getm_notAfter(cert), (long)VALIDITY_DAYS * 24 * 3600) &&
             set_common_name(issuer, "Teaclave") == 0 &&
             set_common_name(subject, "CN=Teaclave") == 0 && X509_set_issuer_name(cert, issuer) &&
             X509_set_subject_name(cert, subject) && X509_set_pubkey(cert, key) &&
             add_evidence_extension(cert, evidence) == 0 &&
             steep_ratls_add_hw_extensions(cert, evidence) == 0 &&
             X509_sign(cert, key, EVP_sha256()) > 0;
    X509_NAME_free(issuer);
    X509_NAME_free(subject);
    if (!ok) {
        X509_free(cert);
        steep_error_set("cannot build the RA-TLS certificate");
        return NULL;
    }
    return cert;
}

int steep_ratls_create(struct steep_tee *tee, X509 **cert, EVP_PKEY **key)
{
    uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN];
    struct steep_tee_evidence evidence = {0};
    *cert = NULL;
    *key = steep_tee_key_generate_p256();
    if (!*key)
        return -1;
    if (steep_tee_key_p256_xy(*key, report_data) == 0 &&
        steep_tee_evidence(tee, report_data, &evidence) == 0)
        *cert = steep_ratls_build(*key, &evidence);
    steep_tee_evidence_free(&evidence);
    if (!*cert) {
        EVP_PKEY_free(*key);
        *key = NULL;
        return -1;
    }
    return 0;
}

static int read_byte_array(json_t *array, const char *what, size_t max, struct steep_buf *out)
{
    ENSURE(json_is_array(array), "RA-TLS extension: \"%s\" is not an array of bytes", what);
    size_t n = json_array_size(array);
    ENSURE(n <= max, "RA-TLS extension: \"%s\" is too long (%zu bytes)", what, n);
    GUARD(steep_buf_reserve(out, n));
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(array, i);
        ENSURE(json_is_integer(item) && json_integer_value(item) >= 0 &&
                   json_integer_value(item) <= 255,
               "RA-TLS extension: \"%s\"[%zu] is not a byte", what, i);
        out->data[out->len++] = (uint8_t)json_integer_value(item);
    }
    return 0;
}

static int read_evidence(json_t *root, struct steep_tee_evidence *evidence)
{
    ENSURE(json_is_object(root), "RA-TLS extension is not a JSON object");
    json_t *certs = json_object_get(root, "certs");
    ENSURE(certs != NULL, "RA-TLS extension has no \"certs\" (pre-v4 layout%s); not supported",
           json_object_get(root, "signing_cert") ? " with \"signing_cert\"" : "");
    GUARD(
        read_byte_array(json_object_get(root, "report"), "report", REPORT_MAX, &evidence->report));
    GUARD(read_byte_array(json_object_get(root, "signature"), "signature", SIGNATURE_MAX,
                          &evidence->signature));
    ENSURE(json_is_array(certs), "RA-TLS extension: \"certs\" is not an array");
    size_t n = json_array_size(certs);
    ENSURE(n >= 1 && n <= STEEP_TEE_MAX_CERTS,
           "RA-TLS extension: \"certs\" holds %zu certificates (1 to %d allowed)", n,
           STEEP_TEE_MAX_CERTS);
    for (size_t i = 0; i < n; i++)
        GUARD(read_byte_array(json_array_get(certs, i), "certs", CERT_MAX, &evidence->certs[i]));
    evidence->n_certs = n;
    return 0;
}

int steep_ratls_parse_json(const uint8_t *json, size_t len, struct steep_tee_evidence *evidence)
{
    ENSURE(len <= STEEP_RATLS_MAX_EXTENSION, "RA-TLS extension is too large (%zu bytes)", len);
    json_error_t error;
    json_t *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &error);
    ENSURE(root != NULL, "RA-TLS extension is not valid JSON: %s", error.text);
    int rc = read_evidence(root, evidence);
    json_decref(root);
    if (rc < 0)
        steep_tee_evidence_free(evidence);
    return rc;
}

int steep_ratls_parse(X509 *cert, struct steep_tee_evidence *evidence)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(STEEP_RATLS_OID, 1);
    ENSURE(oid != NULL, "cannot build the RA-TLS OID");
    int index = X509_get_ext_by_OBJ(cert, oid, -1);
    ASN1_OBJECT_free(oid);
    ENSURE(index >= 0, "certificate has no RA-TLS extension (OID %s)", STEEP_RATLS_OID);
    ENSURE(index == 0, "RA-TLS extension is not the first extension (it is number %d)", index + 1);
    ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(X509_get_ext(cert, 0));
    ENSURE(value != NULL, "RA-TLS extension has no value");
    return steep_ratls_parse_json(ASN1_STRING_get0_data(value), (size_t)ASN1_STRING_length(value),
                                  evidence);
}
