/*
 * The TEE interface: every Steep service runs "inside a TEE" behind it.
 *
 * A back-end is a small vtable (struct steep_tee_backend): who am I
 * (measure), evidence binding 64 bytes of report data to me (an endorsed
 * IAS-v4-style report: report JSON, its signature and the signing
 * certificates), and sealing keys bound either to the signer (survives an
 * upgrade of the binary; the default for persistent state) or to the exact
 * measurement. Sealing itself (AES-256-GCM, versioned blob) is written once
 * here on top of the back-end's key derivation. Nothing outside lib/tee
 * knows which back-end runs: "sim" (sim.c), or the hardware back-ends "sgx",
 * "tdx" and "snp" (hw/backend.h), whose evidence is the raw quote or report
 * in evidence.hardware. Verifying evidence is in verify.h.
 */
#ifndef STEEP_TEE_TEE_H
#define STEEP_TEE_TEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define STEEP_TEE_MEASUREMENT_LEN 32
#define STEEP_TEE_REPORT_DATA_LEN 64
#define STEEP_TEE_SEAL_KEY_LEN    32
#define STEEP_TEE_MAX_CERTS       4

struct steep_tee_identity {
    uint8_t mr_enclave[STEEP_TEE_MEASUREMENT_LEN];
    uint8_t mr_signer[STEEP_TEE_MEASUREMENT_LEN];
};

/* SGX's two key policies. Values are part of the sealed blob format. */
enum steep_tee_seal_policy {
    STEEP_TEE_SEAL_SIGNER = 1,      /* MRSIGNER: survives binary upgrades */
    STEEP_TEE_SEAL_MEASUREMENT = 2, /* MRENCLAVE: only this exact binary */
};

/* An endorsed attestation report, as carried in an RA-TLS certificate. */
struct steep_tee_evidence {
    struct steep_buf report;                     /* exact report JSON bytes (IAS v4) */
    struct steep_buf signature;                  /* RSA-PKCS1-SHA256 over report */
    struct steep_buf certs[STEEP_TEE_MAX_CERTS]; /* DER, signing cert first */
    size_t n_certs;
    /* Hardware back-ends (lib/tee/hw/backend.h): the raw SGX/TDX quote or
     * SEV-SNP report, and configfs-tsm's auxblob (SNP certificates) when the
     * kernel gives one; the IAS-format fields above then stay empty. */
    struct steep_buf hardware;
    struct steep_buf hardware_aux;
};

void steep_tee_evidence_free(struct steep_tee_evidence *evidence);

struct steep_tee;

struct steep_tee_backend {
    const char *name;
    int (*measure)(struct steep_tee *tee, struct steep_tee_identity *identity);
    int (*evidence)(struct steep_tee *tee, const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                    struct steep_tee_evidence *evidence);
    /* A 32-byte key bound to the policy's identity and the label. */
    int (*seal_key)(struct steep_tee *tee, enum steep_tee_seal_policy policy, const char *label,
                    uint8_t key[STEEP_TEE_SEAL_KEY_LEN]);
    void (*free)(struct steep_tee *tee);
};

struct steep_tee {
    const struct steep_tee_backend *backend;
    void *state;
};

/* Options of the sim back-end (ARCHITECTURE.md §3). */
struct steep_tee_sim_options {
    const char *exe_path;            /* NULL: /proc/self/exe */
    const char *platform_pub_path;   /* platform signing public key (PEM) */
    const char *master_key_path;     /* 32-byte master sealing key file (0600) */
    const char *authority_key_path;  /* simulated authority's report-signing key */
    const char *authority_cert_path; /* its certificate (chains to as_root_ca_cert) */
    /* Sealing only needs the master key; evidence needs the authority files.
     * A missing authority file fails steep_tee_evidence, not the open. */
};

struct steep_tee *steep_tee_open_sim(const struct steep_tee_sim_options *options);
void steep_tee_free(struct steep_tee *tee);
const char *steep_tee_backend_name(const struct steep_tee *tee);

int steep_tee_measure(struct steep_tee *tee, struct steep_tee_identity *identity);
int steep_tee_evidence(struct steep_tee *tee, const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                       struct steep_tee_evidence *evidence);
int steep_tee_seal_key(struct steep_tee *tee, enum steep_tee_seal_policy policy, const char *label,
                       uint8_t key[STEEP_TEE_SEAL_KEY_LEN]);

/*
 * Sealed blob: "STSL" | version 1 | policy | 12-byte nonce | ciphertext | 16-byte tag.
 * The header and the label are authenticated. unseal reads the policy from
 * the blob; out is marked secret.
 */
int steep_tee_seal(struct steep_tee *tee, enum steep_tee_seal_policy policy, const char *label,
                   const void *plaintext, size_t len, struct steep_buf *out);
int steep_tee_unseal(struct steep_tee *tee, const char *label, const void *blob, size_t len,
                     struct steep_buf *out);

/* Creates a 32-byte random master sealing key file (0600); refuses to overwrite. */
int steep_tee_master_key_create(const char *path);

#endif
