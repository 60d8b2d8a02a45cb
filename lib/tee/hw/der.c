/*
 * A minimal DER reader over a bounded cursor, for the few vendor extensions
 * OpenSSL does not decode: Intel's SGX extension of PCK certificates and
 * AMD's VCEK extensions. Only single-byte tags and definite lengths (DER
 * forbids the others); every length is checked against the bytes present.
 */
#include <openssl/x509v3.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"

int steep_der_read(struct steep_cursor *c, uint8_t tag, struct steep_cursor *value)
{
    uint8_t got, first;
    GUARD(steep_cursor_read_u8(c, &got));
    ENSURE(got == tag, "DER: tag 0x%02x where 0x%02x was expected", got, tag);
    GUARD(steep_cursor_read_u8(c, &first));
    size_t len = first;
    if (first & 0x80) {
        size_t n = first & 0x7f;
        ENSURE(n >= 1 && n <= 3, "DER: unsupported length of %zu bytes", n);
        len = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t b;
            GUARD(steep_cursor_read_u8(c, &b));
            len = len << 8 | b;
        }
        ENSURE(len >= 0x80, "DER: non-minimal length");
    }
    return steep_cursor_read_sub(c, value, len);
}

int steep_der_uint(struct steep_cursor *value, uint32_t *out)
{
    size_t n = steep_cursor_remaining(value);
    ENSURE(n >= 1 && n <= 5, "DER: integer of %zu bytes", n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b;
        GUARD(steep_cursor_read_u8(value, &b));
        ENSURE(i != 0 || !(b & 0x80), "DER: negative integer");
        v = v << 8 | b;
    }
    ENSURE(v <= UINT32_MAX, "DER: integer out of range");
    *out = (uint32_t)v;
    return 0;
}

int steep_der_extension(X509 *cert, const char *oid, struct steep_cursor *value)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ENSURE(obj != NULL, "out of memory");
    int index = X509_get_ext_by_OBJ(cert, obj, -1);
    ASN1_OBJECT_free(obj);
    if (index < 0)
        return -1;
    ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(X509_get_ext(cert, index));
    ENSURE(data != NULL, "certificate extension %s has no value", oid);
    *value = steep_cursor_make(ASN1_STRING_get0_data(data), (size_t)ASN1_STRING_length(data));
    return 0;
}
