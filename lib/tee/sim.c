/*
 * The "sim" back-end (ARCHITECTURE.md §3): runs on any Linux machine and
 * proves nothing about hardware.
 *
 *   mr_enclave = SHA-256 of this process's executable image (/proc/self/exe)
 *   mr_signer  = SHA-256 of the platform signing public key (DER SPKI)
 *   evidence   = a 432-byte SGX-layout quote signed into an IAS v4 report by
 *                the SIMULATED attestation authority (authority.h)
 *   seal keys  = HKDF-SHA256(master key file, info = policy | identity | label)
 *
 * The measurement is taken once at open; the authority's key files are read
 * at the first evidence request.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

#include "core/error.h"
#include "tee/authority.h"
#include "tee/keys.h"
#include "tee/quote.h"
#include "tee/tee.h"

struct sim_state {
    struct steep_tee_identity identity;
    uint8_t master_key[32];
    bool have_master_key;
    char *authority_key_path;
    char *authority_cert_path;
    struct steep_authority *authority;
    pthread_mutex_t lock;
};

static int read_master_key(const char *path, uint8_t out[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ENSURE(fd >= 0, "cannot open the master sealing key %s: %s", path, strerror(errno));
    struct stat st;
    int ok = fstat(fd, &st) == 0;
    if (ok && (st.st_mode & 077)) {
        close(fd);
        return steep_error_set("master sealing key %s is readable by others (mode %o); "
                               "chmod 600 it",
                               path, (unsigned)(st.st_mode & 0777));
    }
    uint8_t extra;
    ok = ok && st.st_size == 32 && read(fd, out, 32) == 32 && read(fd, &extra, 1) == 0;
    close(fd);
    ENSURE(ok, "master sealing key %s must be exactly 32 bytes", path);
    return 0;
}

static int sim_measure(struct steep_tee *tee, struct steep_tee_identity *identity)
{
    struct sim_state *state = tee->state;
    *identity = state->identity;
    return 0;
}

static int open_authority(struct sim_state *state)
{
    if (state->authority)
        return 0;
    ENSURE(state->authority_key_path && state->authority_cert_path,
           "no simulated attestation authority configured (key and certificate files)");
    state->authority = steep_authority_open(state->authority_key_path, state->authority_cert_path);
    return state->authority ? 0 : -1;
}

static int sim_evidence(struct steep_tee *tee, const uint8_t report_data[64],
                        struct steep_tee_evidence *evidence)
{
    struct sim_state *state = tee->state;
    uint8_t quote[STEEP_QUOTE_LEN];
    steep_quote_build(&state->identity, report_data, quote);
    pthread_mutex_lock(&state->lock);
    int rc = open_authority(state);
    if (rc == 0)
        rc = steep_authority_issue(state->authority, quote, evidence);
    pthread_mutex_unlock(&state->lock);
    return rc;
}

static int sim_seal_key(struct steep_tee *tee, enum steep_tee_seal_policy policy, const char *label,
                        uint8_t key[32])
{
    struct sim_state *state = tee->state;
    ENSURE(state->have_master_key, "no master sealing key configured");
    const uint8_t *identity =
        policy == STEEP_TEE_SEAL_SIGNER ? state->identity.mr_signer : state->identity.mr_enclave;
    uint8_t info[256];
    size_t label_len = strlen(label);
    ENSURE(label_len <= sizeof(info) - 48, "sealing label is too long");
    static const char prefix[] = "steep-seal-v1";
    memcpy(info, prefix, sizeof(prefix) - 1);
    size_t n = sizeof(prefix) - 1;
    info[n++] = (uint8_t)policy;
    memcpy(info + n, identity, 32);
    n += 32;
    memcpy(info + n, label, label_len);
    n += label_len;

    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, state->master_key, 32),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)prefix, sizeof(prefix) - 1),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
        OSSL_PARAM_construct_end(),
    };
    int ok = ctx && EVP_KDF_derive(ctx, key, 32, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    ENSURE(ok, "sealing key derivation failed");
    return 0;
}

static void sim_free(struct steep_tee *tee)
{
    struct sim_state *state = tee->state;
    if (state) {
        OPENSSL_cleanse(state->master_key, sizeof(state->master_key));
        steep_authority_free(state->authority);
        free(state->authority_key_path);
        free(state->authority_cert_path);
        pthread_mutex_destroy(&state->lock);
        free(state);
    }
    free(tee);
}

static const struct steep_tee_backend sim_backend = {
    .name = "sim",
    .measure = sim_measure,
    .evidence = sim_evidence,
    .seal_key = sim_seal_key,
    .free = sim_free,
};

static int sim_init(struct sim_state *state, const struct steep_tee_sim_options *options)
{
    GUARD(steep_tee_file_sha256(options->exe_path ? options->exe_path : "/proc/self/exe",
                                state->identity.mr_enclave));
    ENSURE(options->platform_pub_path, "no platform signing public key configured");
    EVP_PKEY *platform = steep_tee_key_read_public(options->platform_pub_path);
    if (!platform)
        return -1;
    int rc = steep_tee_key_spki_sha256(platform, state->identity.mr_signer);
    EVP_PKEY_free(platform);
    GUARD(rc);
    if (options->master_key_path) {
        GUARD(read_master_key(options->master_key_path, state->master_key));
        state->have_master_key = true;
    }
    if (options->authority_key_path)
        state->authority_key_path = strdup(options->authority_key_path);
    if (options->authority_cert_path)
        state->authority_cert_path = strdup(options->authority_cert_path);
    return 0;
}

struct steep_tee *steep_tee_open_sim(const struct steep_tee_sim_options *options)
{
    struct steep_tee *tee = calloc(1, sizeof(*tee));
    struct sim_state *state = calloc(1, sizeof(*state));
    if (!tee || !state) {
        free(tee);
        free(state);
        steep_error_set("out of memory");
        return NULL;
    }
    pthread_mutex_init(&state->lock, NULL);
    tee->backend = &sim_backend;
    tee->state = state;
    if (sim_init(state, options) < 0) {
        sim_free(tee);
        return NULL;
    }
    return tee;
}
