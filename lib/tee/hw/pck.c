/*
 * The SGX extension of Intel's PCK certificates (OID 1.2.840.113741.1.13.1):
 * a SEQUENCE of (OID, value) pairs, .1 PPID, .2 TCB (itself a SEQUENCE of
 * pairs: .2.1-.2.16 component SVNs, .2.17 PCESVN, .2.18 CPUSVN), .3 PCE-ID,
 * .4 FMSPC, .5 SGX type, and on Platform-CA certificates .6/.7. Read with the
 * bounded DER reader; every value the verifier needs must be present once.
 */
#include <string.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"

/* DER contents of OID 1.2.840.113741.1.13.1 */
static const uint8_t sgx_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

/* Reads one (OID, value) pair under the SGX arc; *arcs gets the arcs after
 * it (each < 128), *value the value TLV's cursor (tag in *tag). */
static int read_pair(struct steep_cursor *c, uint8_t arcs[2], size_t *n_arcs, uint8_t *tag,
                     struct steep_cursor *value)
{
    struct steep_cursor pair, oid;
    GUARD(steep_der_read(c, DER_SEQUENCE, &pair));
    GUARD(steep_der_read(&pair, DER_OID, &oid));
    size_t n = steep_cursor_remaining(&oid);
    ENSURE(n > sizeof(sgx_oid) && n <= sizeof(sgx_oid) + 2 &&
               memcmp(oid.data + oid.pos, sgx_oid, sizeof(sgx_oid)) == 0,
           "PCK SGX extension: an entry outside the SGX OID arc");
    GUARD(steep_cursor_skip(&oid, sizeof(sgx_oid)));
    *n_arcs = steep_cursor_remaining(&oid);
    GUARD(steep_cursor_read_bytes(&oid, arcs, *n_arcs));
    for (size_t i = 0; i < *n_arcs; i++)
        ENSURE(arcs[i] < 0x80, "PCK SGX extension: unexpected OID arc");
    ENSURE(steep_cursor_remaining(&pair) >= 2, "PCK SGX extension: an entry without value");
    *tag = pair.data[pair.pos];
    GUARD(steep_der_read(&pair, *tag, value));
    ENSURE(steep_cursor_remaining(&pair) == 0, "PCK SGX extension: trailing bytes in an entry");
    return 0;
}

static int read_octets(struct steep_cursor *value, uint8_t tag, uint8_t *out, size_t n,
                       const char *what)
{
    ENSURE(tag == DER_OCTET_STRING && steep_cursor_remaining(value) == n,
           "PCK SGX extension: %s is not a %zu-byte OCTET STRING", what, n);
    return steep_cursor_read_bytes(value, out, n);
}

static int read_tcb(struct steep_cursor *seq, struct steep_pck_info *out)
{
    uint32_t seen = 0;
    while (steep_cursor_remaining(seq) > 0) {
        uint8_t arcs[2], tag;
        size_t n_arcs;
        struct steep_cursor value;
        GUARD(read_pair(seq, arcs, &n_arcs, &tag, &value));
        ENSURE(n_arcs == 2 && arcs[0] == 2 && arcs[1] >= 1 && arcs[1] <= 18,
               "PCK SGX extension: unexpected entry in the TCB sequence");
        ENSURE(!(seen & (1u << arcs[1])), "PCK SGX extension: a TCB entry appears twice");
        seen |= 1u << arcs[1];
        if (arcs[1] == 18) {
            GUARD(read_octets(&value, tag, out->cpusvn, 16, "CPUSVN"));
            continue;
        }
        uint32_t v;
        ENSURE(tag == DER_INTEGER, "PCK SGX extension: a TCB SVN is not an INTEGER");
        GUARD(steep_der_uint(&value, &v));
        if (arcs[1] == 17) {
            ENSURE(v <= 65535, "PCK SGX extension: PCESVN out of range");
            out->pcesvn = (uint16_t)v;
        } else {
            ENSURE(v <= 255, "PCK SGX extension: a component SVN is out of range");
            out->components[arcs[1] - 1] = (uint8_t)v;
        }
    }
    ENSURE(seen == 0x7fffeu, "PCK SGX extension: the TCB sequence is incomplete");
    return 0;
}

int steep_hw_pck_info(X509 *pck, struct steep_pck_info *out)
{
    memset(out, 0, sizeof(*out));
    struct steep_cursor ext, seq;
    ENSURE(steep_der_extension(pck, "1.2.840.113741.1.13.1", &ext) == 0,
           "PCK certificate has no SGX extension (1.2.840.113741.1.13.1)");
    GUARD(steep_der_read(&ext, DER_SEQUENCE, &seq));
    ENSURE(steep_cursor_remaining(&ext) == 0, "PCK SGX extension: trailing bytes");
    uint32_t seen = 0;
    while (steep_cursor_remaining(&seq) > 0) {
        uint8_t arcs[2], tag, pce[2];
        size_t n_arcs;
        struct steep_cursor value;
        GUARD(read_pair(&seq, arcs, &n_arcs, &tag, &value));
        ENSURE(n_arcs == 1, "PCK SGX extension: unexpected nested entry");
        if (arcs[0] >= 1 && arcs[0] <= 7) {
            ENSURE(!(seen & (1u << arcs[0])), "PCK SGX extension: entry .%u appears twice",
                   arcs[0]);
            seen |= 1u << arcs[0];
        }
        switch (arcs[0]) {
        case 1:
            GUARD(read_octets(&value, tag, out->ppid, 16, "PPID"));
            break;
        case 2:
            ENSURE(tag == DER_SEQUENCE, "PCK SGX extension: TCB is not a SEQUENCE");
            GUARD(read_tcb(&value, out));
            break;
        case 3:
            GUARD(read_octets(&value, tag, pce, 2, "PCE-ID"));
            out->pce_id = (uint16_t)(pce[0] << 8 | pce[1]);
            break;
        case 4:
            GUARD(read_octets(&value, tag, out->fmspc, 6, "FMSPC"));
            break;
        case 5:
            ENSURE(tag == DER_ENUMERATED, "PCK SGX extension: SGX type is not ENUMERATED");
            GUARD(steep_der_uint(&value, &out->sgx_type));
            break;
        default: /* .6 platform instance ID, .7 configuration: not used */
            break;
        }
    }
    ENSURE((seen & 0x3e) == 0x3e,
           "PCK SGX extension: PPID, TCB, PCE-ID, FMSPC and SGX type are all required");
    return 0;
}
