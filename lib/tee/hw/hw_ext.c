/*
 * The RA-TLS certificate extensions that carry raw hardware evidence beside
 * Teaclave's IAS-format extension, so that Steep's own clients can verify
 * the quote or report against Intel's / AMD's collateral themselves,
 * without trusting the attestation authority (ratls.h). The values are the
 * exact bytes the back-end produced, as the extension's OCTET STRING.
 */
#include <string.h>

#include <openssl/x509v3.h>

#include "core/error.h"
#include "tee/ratls.h"

#define HW_EXTENSION_MAX (64 * 1024)

static int add_one(X509 *cert, const char *oid_text, const struct steep_buf *bytes)
{
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj(oid_text, 1);
    X509_EXTENSION *ext = NULL;
    int ok = value && oid && ASN1_OCTET_STRING_set(value, bytes->data, (int)bytes->len) &&
             (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value)) != NULL &&
             X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    ENSURE(ok, "cannot add the hardware evidence extension %s", oid_text);
    return 0;
}

int steep_ratls_add_hw_extensions(X509 *cert, const struct steep_tee_evidence *evidence)
{
    if (evidence->hardware.len == 0)
        return 0;
    GUARD(add_one(cert, STEEP_RATLS_HW_EVIDENCE_OID, &evidence->hardware));
    if (evidence->hardware_aux.len)
        GUARD(add_one(cert, STEEP_RATLS_HW_AUX_OID, &evidence->hardware_aux));
    return 0;
}

static int read_one(X509 *cert, const char *oid_text, const char *what, struct steep_buf *out)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(oid_text, 1);
    ENSURE(oid != NULL, "out of memory");
    int index = X509_get_ext_by_OBJ(cert, oid, -1);
    int again = index >= 0 ? X509_get_ext_by_OBJ(cert, oid, index) : -1;
    ASN1_OBJECT_free(oid);
    if (index < 0)
        return 0;
    ENSURE(again < 0, "the certificate carries the %s extension twice", what);
    ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(X509_get_ext(cert, index));
    ENSURE(value != NULL, "the %s extension has no value", what);
    size_t len = (size_t)ASN1_STRING_length(value);
    ENSURE(len > 0 && len <= HW_EXTENSION_MAX, "the %s extension is %zu bytes (1 to %d allowed)",
           what, len, HW_EXTENSION_MAX);
    GUARD(steep_buf_append(out, ASN1_STRING_get0_data(value), len));
    return 1;
}

int steep_ratls_parse_hw(X509 *cert, struct steep_tee_evidence *evidence)
{
    int rc = read_one(cert, STEEP_RATLS_HW_EVIDENCE_OID, "hardware evidence", &evidence->hardware);
    if (rc == 1 && read_one(cert, STEEP_RATLS_HW_AUX_OID, "hardware evidence auxiliary",
                            &evidence->hardware_aux) < 0)
        rc = -1;
    if (rc == 0 && read_one(cert, STEEP_RATLS_HW_AUX_OID, "hardware evidence auxiliary",
                            &evidence->hardware_aux) != 0)
        rc = steep_error_set("the certificate carries hardware evidence auxiliary data without "
                             "hardware evidence");
    if (rc < 0) {
        steep_buf_free(&evidence->hardware);
        steep_buf_free(&evidence->hardware_aux);
    }
    return rc;
}
