/*
 * AMD SEV-SNP attestation reports (1184 bytes, versions 2 and up) and their
 * VCEK → ASK → ARK chain.
 *
 * The report is read field by field through a bounded cursor. Its signature
 * is ECDSA P-384/SHA-384 over [0, 0x2A0) with r and s stored as 72-byte
 * little-endian numbers (the high 24 bytes zero). The VCEK, ASK and ARK are
 * signed with RSASSA-PSS (SHA-384, 48-byte salt), which OpenSSL's chain
 * check handles; the ARK is pinned by key (Milan, Genoa, Turin). The VCEK is
 * issued for one chip at one TCB, so its SPL extensions must equal
 * REPORTED_TCB and its hwID the report's CHIP_ID (all 64 bytes on Milan and
 * Genoa, the first 8 on Turin). Only VCEK-signed reports are accepted.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>

#include "core/error.h"
#include "tee/hw/hw_internal.h"

enum { SIGNED_LEN = 0x2A0, SIG_FIELD = 72, P384_LEN = 48 };

/* SHA-256 of the SubjectPublicKeyInfo of AMD's ARKs. */
static const uint8_t ark_pins[][32] = {
    /* ARK-Milan */
    {0x9f, 0x05, 0x6b, 0xee, 0x44, 0x37, 0x7e, 0x29, 0x30, 0x8c, 0xb5,
     0xff, 0xa8, 0x95, 0xbd, 0xfb, 0x62, 0xd1, 0x88, 0x81, 0xfa, 0x6b,
     0xed, 0x8d, 0x6f, 0x07, 0x5b, 0x02, 0x04, 0x08, 0x9c, 0xb9},
    /* ARK-Genoa */
    {0x42, 0x9a, 0x69, 0xc9, 0x42, 0x2a, 0xa2, 0x58, 0xee, 0x4d, 0x8d,
     0xb5, 0xfc, 0xda, 0x9c, 0x64, 0x70, 0xef, 0x15, 0xf8, 0xcd, 0x5a,
     0x9c, 0xeb, 0xd6, 0xcb, 0xc7, 0xd9, 0x0b, 0x86, 0x38, 0x31},
    /* ARK-Turin */
    {0x4f, 0x12, 0x54, 0x10, 0x56, 0x3a, 0x2a, 0xb9, 0xa5, 0x03, 0x56,
     0xf9, 0x24, 0x3f, 0x6f, 0xe0, 0xb6, 0xf7, 0x3d, 0xe9, 0x86, 0x03,
     0xf5, 0x3f, 0x90, 0x33, 0x9c, 0x70, 0xe9, 0xd7, 0xad, 0x08},
};

static int read_tail(struct steep_cursor *c, size_t n, const char *what)
{
    const uint8_t *p;
    GUARD(steep_cursor_read_span(c, &p, n));
    for (size_t i = 0; i < n; i++)
        ENSURE(p[i] == 0, "SNP report: %s is not zero", what);
    return 0;
}

int steep_snp_report_parse(const uint8_t *data, size_t len, struct steep_snp_report *r)
{
    memset(r, 0, sizeof(*r));
    ENSURE(len == STEEP_SNP_REPORT_LEN, "SNP report is %zu bytes, expected %d", len,
           STEEP_SNP_REPORT_LEN);
    struct steep_cursor c = steep_cursor_make(data, len);
    uint32_t reserved;
    GUARD(steep_cursor_read_u32le(&c, &r->version));
    GUARD(steep_cursor_read_u32le(&c, &r->guest_svn));
    GUARD(steep_cursor_read_u64le(&c, &r->policy));
    GUARD(steep_cursor_read_bytes(&c, r->family_id, 16));
    GUARD(steep_cursor_read_bytes(&c, r->image_id, 16));
    GUARD(steep_cursor_read_u32le(&c, &r->vmpl));
    GUARD(steep_cursor_read_u32le(&c, &r->signature_algo));
    GUARD(steep_cursor_read_u64le(&c, &r->current_tcb));
    GUARD(steep_cursor_read_u64le(&c, &r->platform_info));
    GUARD(steep_cursor_read_u32le(&c, &r->flags));
    GUARD(steep_cursor_read_u32le(&c, &reserved));
    GUARD(steep_cursor_read_bytes(&c, r->report_data, 64));
    GUARD(steep_cursor_read_bytes(&c, r->measurement, 48));
    GUARD(steep_cursor_read_bytes(&c, r->host_data, 32));
    GUARD(steep_cursor_read_bytes(&c, r->id_key_digest, 48));
    GUARD(steep_cursor_read_bytes(&c, r->author_key_digest, 48));
    GUARD(steep_cursor_read_bytes(&c, r->report_id, 32));
    GUARD(steep_cursor_read_bytes(&c, r->report_id_ma, 32));
    GUARD(steep_cursor_read_u64le(&c, &r->reported_tcb));
    GUARD(steep_cursor_skip(&c, 0x1A0 - 0x188)); /* CPUID (v3+) and reserved */
    GUARD(steep_cursor_read_bytes(&c, r->chip_id, 64));
    GUARD(steep_cursor_read_u64le(&c, &r->committed_tcb));
    GUARD(steep_cursor_read_u8(&c, &r->current_build));
    GUARD(steep_cursor_read_u8(&c, &r->current_minor));
    GUARD(steep_cursor_read_u8(&c, &r->current_major));
    GUARD(steep_cursor_skip(&c, 1));
    GUARD(steep_cursor_read_u8(&c, &r->committed_build));
    GUARD(steep_cursor_read_u8(&c, &r->committed_minor));
    GUARD(steep_cursor_read_u8(&c, &r->committed_major));
    GUARD(steep_cursor_skip(&c, 1));
    GUARD(steep_cursor_read_u64le(&c, &r->launch_tcb));
    GUARD(steep_cursor_skip(&c, SIGNED_LEN - 0x1F8));
    GUARD(steep_cursor_read_bytes(&c, r->signature_r, SIG_FIELD));
    GUARD(steep_cursor_read_bytes(&c, r->signature_s, SIG_FIELD));
    GUARD(read_tail(&c, STEEP_SNP_REPORT_LEN - 0x330, "the reserved area after the signature"));
    r->signed_region = data;
    ENSURE(r->version >= 2, "SNP report version %u is not supported (2 and later are)", r->version);
    ENSURE(r->signature_algo == 1, "SNP report signature algorithm %u is not ECDSA P-384 (1)",
           r->signature_algo);
    return 0;
}

/* A 72-byte signature field as a number: little-endian (as AMD stores it) or
 * big-endian over the first 48 bytes (to name that encoding bug precisely). */
static BIGNUM *field_number(const uint8_t field[SIG_FIELD], bool little)
{
    uint8_t be[P384_LEN];
    for (int i = 0; i < P384_LEN; i++)
        be[i] = little ? field[P384_LEN - 1 - i] : field[i];
    return BN_bin2bn(be, P384_LEN, NULL);
}

static bool signature_verifies(EVP_PKEY *key, const struct steep_snp_report *r, bool little)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = field_number(r->signature_r, little), *bs = field_number(r->signature_s, little);
    unsigned char *der = NULL;
    int der_len = -1;
    if (sig && br && bs && ECDSA_SIG_set0(sig, br, bs) == 1) {
        br = bs = NULL;
        der_len = i2d_ECDSA_SIG(sig, &der);
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = der_len > 0 && ctx &&
              EVP_DigestVerifyInit(ctx, NULL, steep_hw_sha384(), NULL, key) == 1 &&
              EVP_DigestVerify(ctx, der, (size_t)der_len, r->signed_region, SIGNED_LEN) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    BN_free(br);
    BN_free(bs);
    ECDSA_SIG_free(sig);
    return ok;
}

static int check_signature(EVP_PKEY *vcek_key, const struct steep_snp_report *r)
{
    for (int i = P384_LEN; i < SIG_FIELD; i++)
        ENSURE(r->signature_r[i] == 0 && r->signature_s[i] == 0,
               "SNP report signature: the padding of r or s is not zero");
    if (signature_verifies(vcek_key, r, true))
        return 0;
    ENSURE(!signature_verifies(vcek_key, r, false),
           "SNP report signature: r and s are big-endian; SEV-SNP stores them little-endian");
    return steep_error_set("SNP report signature does not verify under the VCEK (report "
                           "altered, or another chip's VCEK)");
}

static int ext_uint(X509 *cert, const char *oid, const char *what, uint8_t *out, bool required)
{
    struct steep_cursor ext, value;
    if (steep_der_extension(cert, oid, &ext) < 0) {
        ENSURE(!required, "VCEK has no %s extension (%s)", what, oid);
        *out = 0;
        return 0;
    }
    uint32_t v;
    if (steep_der_read(&ext, DER_INTEGER, &value) < 0 || steep_der_uint(&value, &v) < 0 ||
        v > 255 || steep_cursor_remaining(&ext) != 0)
        return steep_error_set("VCEK %s extension is not a small INTEGER", what);
    *out = (uint8_t)v;
    return 0;
}

static int vcek_extensions(X509 *vcek, struct steep_snp_vcek_info *info)
{
    struct steep_cursor ext, value;
    ENSURE(steep_der_extension(vcek, "1.3.6.1.4.1.3704.1.2", &ext) == 0 &&
               steep_der_read(&ext, DER_IA5STRING, &value) == 0 &&
               steep_cursor_remaining(&value) < sizeof(info->product),
           "VCEK has no readable productName extension");
    GUARD(steep_cursor_read_bytes(&value, info->product, steep_cursor_remaining(&value)));
    info->turin = strncmp(info->product, "Turin", 5) == 0;
    GUARD(ext_uint(vcek, "1.3.6.1.4.1.3704.1.3.1", "blSPL", &info->bl_spl, true));
    GUARD(ext_uint(vcek, "1.3.6.1.4.1.3704.1.3.2", "teeSPL", &info->tee_spl, true));
    GUARD(ext_uint(vcek, "1.3.6.1.4.1.3704.1.3.3", "snpSPL", &info->snp_spl, true));
    GUARD(ext_uint(vcek, "1.3.6.1.4.1.3704.1.3.8", "ucodeSPL", &info->ucode_spl, true));
    GUARD(ext_uint(vcek, "1.3.6.1.4.1.3704.1.3.9", "fmcSPL", &info->fmc_spl, info->turin));
    ENSURE(steep_der_extension(vcek, "1.3.6.1.4.1.3704.1.4", &ext) == 0,
           "VCEK has no hwID extension");
    info->hwid_len = steep_cursor_remaining(&ext);
    ENSURE(info->hwid_len == (info->turin ? 8u : 64u), "VCEK hwID is %zu bytes, expected %d",
           info->hwid_len, info->turin ? 8 : 64);
    return steep_cursor_read_bytes(&ext, info->hwid, info->hwid_len);
}

int steep_snp_verify_vcek(X509 *vcek, STACK_OF(X509) * ask_ark, const struct steep_hw_trust *trust,
                          time_t now, struct steep_snp_vcek_info *out)
{
    return steep_snp_verify_vcek_memo(NULL, vcek, ask_ark, trust, now, out);
}

int steep_snp_verify_vcek_memo(struct steep_hw_memo *memo, X509 *vcek, STACK_OF(X509) * ask_ark,
                               const struct steep_hw_trust *trust, time_t now,
                               struct steep_snp_vcek_info *out)
{
    memset(out, 0, sizeof(*out));
    ENSURE(vcek != NULL, "collateral: no VCEK (vcek.der)");
    ENSURE(ask_ark && sk_X509_num(ask_ark) == 2,
           "collateral: the AMD chain (ask_ark_*.pem) must hold the ASK, then the ARK");
    X509 *ark = sk_X509_value(ask_ark, 1);
    const uint8_t *pin = NULL;
    if (trust && trust->amd_ark_spki_sha256)
        pin = trust->amd_ark_spki_sha256;
    for (size_t i = 0; !pin && i < sizeof(ark_pins) / sizeof(ark_pins[0]); i++)
        if (steep_hw_cert_key_is(ark, ark_pins[i]))
            pin = ark_pins[i];
    if (!pin)
        pin = ark_pins[0]; /* fails below, naming the unpinned root */
    GUARD(steep_hw_verify_chain_memo(memo, "VCEK chain", vcek, ask_ark, pin, now, NULL));
    EVP_PKEY *key = X509_get0_pubkey(vcek);
    ENSURE(key && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && EVP_PKEY_get_bits(key) == 384,
           "VCEK does not hold a P-384 key");
    return vcek_extensions(vcek, out);
}

static int check_tcb(const struct steep_snp_vcek_info *v, const struct steep_snp_report *r)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(r->reported_tcb >> (8 * i));
    bool ok = v->turin ? b[0] == v->fmc_spl && b[1] == v->bl_spl && b[2] == v->tee_spl &&
                             b[3] == v->snp_spl && b[7] == v->ucode_spl
                       : b[0] == v->bl_spl && b[1] == v->tee_spl && b[6] == v->snp_spl &&
                             b[7] == v->ucode_spl;
    ENSURE(ok,
           "SNP report REPORTED_TCB %016llx is not the TCB the VCEK was issued for (bootloader "
           "%u, TEE %u, SNP %u, microcode %u)",
           (unsigned long long)r->reported_tcb, v->bl_spl, v->tee_spl, v->snp_spl, v->ucode_spl);
    ENSURE(!(r->flags & 2), "SNP report: MASK_CHIP_KEY is set, so the chip cannot be identified");
    ENSURE(CRYPTO_memcmp(r->chip_id, v->hwid, v->hwid_len) == 0,
           "SNP report CHIP_ID is not the VCEK's hwID (another chip's VCEK)");
    return 0;
}

int steep_hw_verify_snp(const uint8_t *data, size_t len, const struct steep_hw_collateral *c,
                        const struct steep_hw_trust *trust, time_t now, struct steep_hw_report *out)
{
    struct steep_snp_report r;
    GUARD(steep_snp_report_parse(data, len, &r));
    ENSURE(((r.flags >> 2) & 7) == 0,
           "SNP report is signed by a VLEK or unknown key (SIGNING_KEY %u); only VCEK-signed "
           "reports are supported",
           (r.flags >> 2) & 7);
    ENSURE(c != NULL, "collateral: none given");
    struct steep_snp_vcek_info info;
    GUARD(steep_snp_verify_vcek_memo(c->memo, c->vcek, c->ask_ark, trust, now, &info));
    GUARD(check_signature(X509_get0_pubkey(c->vcek), &r));
    GUARD(check_tcb(&info, &r));
    out->kind = STEEP_HW_SNP;
    out->version = (uint16_t)r.version;
    out->status = STEEP_HW_TCB_NOT_APPLICABLE;
    out->platform_status = out->qe_status = out->module_status = STEEP_HW_TCB_NOT_APPLICABLE;
    out->debug = (r.policy & STEEP_SNP_POLICY_DEBUG) != 0;
    memcpy(out->report_data, r.report_data, 64);
    out->snp = r;
    out->snp.signed_region = NULL; /* points into the caller's bytes */
    memcpy(out->snp_product, info.product, sizeof(out->snp_product));
    out->valid_until = steep_hw_asn1_time(X509_get0_notAfter(c->vcek));
    for (int i = 0; i < sk_X509_num(c->ask_ark); i++)
        steep_hw_until(&out->valid_until,
                       steep_hw_asn1_time(X509_get0_notAfter(sk_X509_value(c->ask_ark, i))));
    return 0;
}
