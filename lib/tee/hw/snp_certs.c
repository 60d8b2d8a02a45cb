/*
 * The SEV-SNP certificate table that configfs-tsm hands out as auxblob
 * (the GHCB extended guest request's certificate data, passed through by
 * the kernel): entries of a 16-byte GUID (RFC 4122 byte order), a u32
 * offset and a u32 length from the table's start, ended by an all-zero
 * entry. The VCEK, ASK and ARK entries are DER certificates. They are only
 * candidates: the chain is still checked up to the pinned ARK key
 * (snp.c), so a host that lies here only makes verification fail.
 */
#include <string.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"

#define TABLE_MAX_ENTRIES 16

static const uint8_t guid_ark[16] = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                     0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};
static const uint8_t guid_ask[16] = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                     0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
static const uint8_t guid_vcek[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                      0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};

static X509 *entry_cert(const uint8_t *table, size_t len, uint32_t offset, uint32_t size)
{
    if (offset > len || size > len - offset || size == 0) {
        steep_error_set("SEV-SNP certificate table: an entry points outside the table");
        return NULL;
    }
    const unsigned char *p = table + offset;
    X509 *cert = d2i_X509(NULL, &p, (long)size);
    if (!cert || p != table + offset + size) {
        X509_free(cert);
        steep_error_set("SEV-SNP certificate table: an entry is not one DER certificate");
        return NULL;
    }
    return cert;
}

int steep_snp_cert_table_parse(const uint8_t *table, size_t len, X509 **vcek,
                               STACK_OF(X509) * *ask_ark)
{
    *vcek = NULL;
    *ask_ark = NULL;
    X509 *ask = NULL, *ark = NULL;
    struct steep_cursor c = steep_cursor_make(table, len);
    int rc = 0;
    for (int i = 0; rc == 0; i++) {
        uint8_t guid[16];
        uint32_t offset, size;
        static const uint8_t zero[16];
        if (i > TABLE_MAX_ENTRIES || steep_cursor_read_bytes(&c, guid, 16) < 0 ||
            steep_cursor_read_u32le(&c, &offset) < 0 || steep_cursor_read_u32le(&c, &size) < 0) {
            rc = steep_error_set("SEV-SNP certificate table: not a table of at most %d entries "
                                 "ended by a zero entry",
                                 TABLE_MAX_ENTRIES);
            break;
        }
        if (memcmp(guid, zero, 16) == 0)
            break;
        X509 **slot = memcmp(guid, guid_vcek, 16) == 0  ? vcek
                      : memcmp(guid, guid_ask, 16) == 0 ? &ask
                      : memcmp(guid, guid_ark, 16) == 0 ? &ark
                                                        : NULL;
        if (!slot)
            continue; /* VLEK, CRLs, ...: not used here */
        if (*slot)
            rc = steep_error_set("SEV-SNP certificate table: a certificate appears twice");
        else if (!(*slot = entry_cert(table, len, offset, size)))
            rc = -1;
    }
    if (rc == 0 && !*vcek)
        rc = steep_error_set("SEV-SNP certificate table: no VCEK");
    if (rc == 0 && ask && ark) {
        *ask_ark = sk_X509_new_null();
        if (!*ask_ark || !sk_X509_push(*ask_ark, ask) || !sk_X509_push(*ask_ark, ark))
            rc = steep_error_set("out of memory");
        else
            ask = ark = NULL;
    }
    X509_free(ask);
    X509_free(ark);
    if (rc < 0) {
        X509_free(*vcek);
        *vcek = NULL;
        sk_X509_pop_free(*ask_ark, X509_free);
        *ask_ark = NULL;
    }
    return rc;
}
