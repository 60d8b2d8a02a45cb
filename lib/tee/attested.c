/*
 * A service's attested identity: open (measure, check enclave_info and its
 * auditors, first certificate), the credentials callback every handshake
 * calls, and the renewal thread that replaces key + evidence + certificate
 * before the evidence is evidence_validity seconds old.
 */
#include "tee/attested_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "tee/keys.h"
#include "tee/ratls.h"

static int credentials(void *arg, X509 **cert, EVP_PKEY **key)
{
    struct steep_attested *attested = arg;
    pthread_mutex_lock(&attested->lock);
    *cert = attested->cert;
    *key = attested->key;
    int ok = *cert && *key && X509_up_ref(*cert) && EVP_PKEY_up_ref(*key);
    pthread_mutex_unlock(&attested->lock);
    return ok ? 0 : -1;
}

int steep_attested_renew(struct steep_attested *attested)
{
    X509 *cert;
    EVP_PKEY *key;
    GUARD(steep_ratls_create(attested->tee, &cert, &key));
    pthread_mutex_lock(&attested->lock);
    X509 *old_cert = attested->cert;
    EVP_PKEY *old_key = attested->key;
    attested->cert = cert;
    attested->key = key;
    attested->generation++;
    pthread_mutex_unlock(&attested->lock);
    X509_free(old_cert); /* handshakes in progress hold their own references */
    EVP_PKEY_free(old_key);
    return 0;
}

unsigned steep_attested_generation(struct steep_attested *attested)
{
    pthread_mutex_lock(&attested->lock);
    unsigned generation = attested->generation;
    pthread_mutex_unlock(&attested->lock);
    return generation;
}

/* Renews at 90% of the validity; retries a failed renewal after a pause. */
static void *renewal_thread(void *arg)
{
    struct steep_attested *attested = arg;
    int64_t period_ms = (int64_t)attested->evidence_validity * 900;
    int64_t wait_ms = period_ms;
    pthread_mutex_lock(&attested->lock);
    while (!attested->stop) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += wait_ms / 1000;
        deadline.tv_nsec += (wait_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        int rc = 0;
        while (!attested->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&attested->wake, &attested->lock, &deadline);
        if (attested->stop)
            break;
        pthread_mutex_unlock(&attested->lock);
        int renewed = steep_attested_renew(attested);
        steep_metrics_count("steep_attestation_renewals_total",
                            "Renewals of the RA-TLS certificate and evidence, by result",
                            renewed == 0 ? "result=\"ok\"" : "result=\"failed\"", 1);
        if (renewed == 0) {
            log_info("attestation: renewed RA-TLS certificate and evidence");
            wait_ms = period_ms;
        } else {
            log_error("attestation: renewing evidence failed: %s (retrying)", steep_error_get());
            wait_ms = period_ms / 10 > 5000 ? 5000 : period_ms / 10 + 1;
        }
        pthread_mutex_lock(&attested->lock);
    }
    pthread_mutex_unlock(&attested->lock);
    return NULL;
}

static int check_enclave_info(struct steep_attested *attested,
                              const struct steep_attested_options *options)
{
    struct steep_buf info = STEEP_BUF_INIT;
    const uint8_t *data = options->enclave_info_data;
    size_t len = options->enclave_info_len;
    if (!data) {
        ENSURE(options->enclave_info_path, "no enclave_info configured");
        GUARD(steep_read_file(options->enclave_info_path, 1 << 20, &info));
        data = info.data;
        len = info.len;
    }
    size_t n_sigs = options->signatures ? options->n_signatures : options->n_signature_paths;
    size_t n_keys = options->n_auditor_public_keys;
    struct steep_buf *sig_files = calloc(n_sigs + 1, sizeof(*sig_files));
    struct steep_enclave_info_signature *sigs = calloc(n_sigs + 1, sizeof(*sigs));
    EVP_PKEY **keys = calloc(n_keys + 1, sizeof(*keys));
    int rc = sig_files && sigs && keys ? 0 : steep_error_set("out of memory");
    for (size_t i = 0; rc == 0 && i < n_sigs; i++) {
        if (options->signatures) {
            sigs[i] = options->signatures[i];
            continue;
        }
        rc = steep_read_file(options->signature_paths[i], 65536, &sig_files[i]);
        sigs[i] = (struct steep_enclave_info_signature){sig_files[i].data, sig_files[i].len,
                                                        options->signature_paths[i]};
    }
    for (size_t i = 0; rc == 0 && i < n_keys; i++)
        if (!(keys[i] = steep_tee_key_read_public(options->auditor_public_keys[i])))
            rc = -1;
    if (rc == 0)
        rc = steep_enclave_info_verify(data, len, sigs, n_sigs, keys, n_keys);
    if (rc == 0)
        rc = steep_enclave_info_parse(options->enclave_info_path ? options->enclave_info_path
                                                                 : "enclave_info",
                                      data, len, &attested->enclave_info);
    for (size_t i = 0; i < n_keys && keys; i++)
        EVP_PKEY_free(keys[i]);
    for (size_t i = 0; i < n_sigs && sig_files; i++)
        steep_buf_free(&sig_files[i]);
    free(keys);
    free(sigs);
    free(sig_files);
    steep_buf_free(&info);
    return rc;
}

static int copy_settings(struct steep_attested *attested,
                         const struct steep_attested_options *options)
{
    snprintf(attested->service_name, sizeof(attested->service_name), "%s",
             options->service_name ? options->service_name : "service");
    attested->insecure_allow_simulation = options->insecure_allow_simulation;
    attested->evidence_validity = options->evidence_validity > 0 ? options->evidence_validity
                                                                 : STEEP_ATTESTED_DEFAULT_VALIDITY;
    attested->max_report_age = options->max_report_age;
    attested->verdict_cache_ttl = options->verdict_cache_ttl ? options->verdict_cache_ttl : 300;
    if (options->n_accepted_statuses) {
        attested->accepted_statuses = calloc(options->n_accepted_statuses, sizeof(char *));
        ENSURE(attested->accepted_statuses, "out of memory");
        for (size_t i = 0; i < options->n_accepted_statuses; i++)
            ENSURE(attested->accepted_statuses[i] = strdup(options->accepted_statuses[i]),
                   "out of memory");
        attested->n_accepted_statuses = options->n_accepted_statuses;
    }
    return 0;
}

static int open_verification(struct steep_attested *attested,
                             const struct steep_attested_options *options);

static int open_identity(struct steep_attested *attested,
                         const struct steep_attested_options *options)
{
    /* taken over first, so that every failure below frees them */
    if (options->hw_config) {
        attested->hw = *options->hw_config;
        memset(options->hw_config, 0, sizeof(*options->hw_config));
        attested->have_hw = true;
    }
    attested->tee = options->tee;
    GUARD(copy_settings(attested, options));
    if (attested->tee)
        return open_verification(attested, options);
    struct steep_tee_sim_options sim = {
        .exe_path = options->exe_path,
        .platform_pub_path = options->platform_public_key,
        .master_key_path = options->master_key,
        .authority_key_path = options->authority_key,
        .authority_cert_path = options->authority_cert,
    };
    if (!(attested->tee = steep_tee_open_sim(&sim)))
        return -1;
    return open_verification(attested, options);
}

static int open_verification(struct steep_attested *attested,
                             const struct steep_attested_options *options)
{
    ENSURE(options->root_ca, "no attestation root certificate (root_ca) configured");
    if (!(attested->roots = steep_tee_roots_load(options->root_ca)))
        return -1;
    GUARD(check_enclave_info(attested, options));
    GUARD(steep_attested_renew(attested));
    /* exposed from the start, at 0 until the first renewal */
    steep_metrics_count("steep_attestation_renewals_total",
                        "Renewals of the RA-TLS certificate and evidence, by result",
                        "result=\"ok\"", 0);
    ENSURE(pthread_create(&attested->thread, NULL, renewal_thread, attested) == 0,
           "cannot start the evidence renewal thread");
    attested->thread_started = true;
    return 0;
}

struct steep_attested *steep_attested_open(const struct steep_attested_options *options)
{
    struct steep_attested *attested = calloc(1, sizeof(*attested));
    if (!attested) {
        steep_tee_free(options->tee);
        if (options->hw_config)
            steep_tee_hw_config_free(options->hw_config);
        steep_error_set("out of memory");
        return NULL;
    }
    pthread_mutex_init(&attested->lock, NULL);
    pthread_cond_init(&attested->wake, NULL);
    if (open_identity(attested, options) < 0) {
        steep_error_wrap("attestation");
        steep_attested_free(attested);
        return NULL;
    }
    if (strcmp(steep_tee_backend_name(attested->tee), "sim") == 0)
        log_warn("attestation: this service's evidence is SIMULATED (sim back-end, simulated "
                 "attestation authority): it proves nothing about hardware");
    if (options->insecure_allow_simulation)
        log_warn("attestation: SIMULATED evidence is accepted from peers (allow_simulation): "
                 "development only");
    log_info("attestation: %s ready (%s back-end, evidence renewed every %d s)",
             attested->service_name, steep_tee_backend_name(attested->tee),
             attested->evidence_validity);
    return attested;
}

void steep_attested_free(struct steep_attested *attested)
{
    if (!attested)
        return;
    if (attested->thread_started) {
        pthread_mutex_lock(&attested->lock);
        attested->stop = true;
        pthread_cond_broadcast(&attested->wake);
        pthread_mutex_unlock(&attested->lock);
        pthread_join(attested->thread, NULL);
    }
    steep_attested_verifier_free_all(attested);
    X509_free(attested->cert);
    EVP_PKEY_free(attested->key);
    X509_STORE_free(attested->roots);
    steep_enclave_info_free(&attested->enclave_info);
    for (size_t i = 0; i < attested->n_accepted_statuses; i++)
        free(attested->accepted_statuses[i]);
    free(attested->accepted_statuses);
    steep_tee_free(attested->tee);
    if (attested->have_hw)
        steep_tee_hw_config_free(&attested->hw);
    pthread_cond_destroy(&attested->wake);
    pthread_mutex_destroy(&attested->lock);
    free(attested);
}

struct steep_tee *steep_attested_tee(struct steep_attested *attested)
{
    return attested->tee;
}

int steep_attested_seal_key(struct steep_attested *attested, const char *label,
                            uint8_t key[STEEP_TEE_SEAL_KEY_LEN])
{
    return steep_tee_seal_key(attested->tee, STEEP_TEE_SEAL_SIGNER, label, key);
}

int steep_attested_server_tls(struct steep_attested *attested, const char *const *inbound,
                              size_t n_inbound, struct steep_tls_config *out)
{
    memset(out, 0, sizeof(*out));
    out->credentials = credentials;
    out->credentials_arg = attested;
    if (n_inbound == 0)
        return 0; /* one-way: no client certificate requested */
    struct steep_attested_verifier *verifier =
        steep_attested_verifier_new(attested, inbound, n_inbound);
    if (!verifier)
        return -1;
    out->verify_peer = steep_attested_verify_peer;
    out->verify_arg = verifier;
    out->require_peer_cert = true;
    return 0;
}

int steep_attested_client_tls(struct steep_attested *attested, const char *peer_service,
                              struct steep_tls_config *out)
{
    memset(out, 0, sizeof(*out));
    struct steep_attested_verifier *verifier =
        steep_attested_verifier_new(attested, &peer_service, 1);
    if (!verifier)
        return -1;
    out->credentials = credentials;
    out->credentials_arg = attested;
    out->verify_peer = steep_attested_verify_peer;
    out->verify_arg = verifier;
    return 0;
}
