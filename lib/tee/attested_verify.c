/*
 * The verification hook handed to lib/rpc (steep_tls_verify_fn) and its
 * verdict cache.
 *
 * A verifier accepts the measurements of a set of service names from the
 * audited enclave_info. An accepted certificate's SHA-256 is remembered
 * with the accepted name until min(now + verdict_cache_ttl, report time +
 * max report age), so a peer that reconnects is not re-verified each time;
 * refusals are never cached. The cache is per verifier because the
 * accepted set differs per endpoint.
 */
#include "tee/attested_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"

void steep_attested_policy(const struct steep_attested *attested,
                           const struct steep_tee_enclave_attr *accepted, size_t n_accepted,
                           struct steep_tee_policy *policy)
{
    memset(policy, 0, sizeof(*policy));
    policy->roots = attested->roots;
    policy->max_report_age = attested->max_report_age;
    policy->accepted_statuses = (const char *const *)attested->accepted_statuses;
    policy->n_accepted_statuses = attested->n_accepted_statuses;
    policy->accepted = accepted;
    policy->n_accepted = n_accepted;
    policy->insecure_allow_simulated_evidence = attested->insecure_allow_simulation;
    if (attested->have_hw)
        steep_tee_hw_config_apply(&attested->hw, policy);
}

struct steep_attested_verifier *steep_attested_verifier_new(struct steep_attested *attested,
                                                            const char *const *names,
                                                            size_t n_names)
{
    struct steep_attested_verifier *verifier = calloc(1, sizeof(*verifier));
    if (verifier)
        verifier->accepted = calloc(n_names, sizeof(*verifier->accepted));
    if (!verifier || !verifier->accepted) {
        free(verifier);
        steep_error_set("out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n_names; i++) {
        const struct steep_tee_enclave_attr *attr =
            steep_enclave_info_find(&attested->enclave_info, names[i]);
        if (!attr) {
            free(verifier->accepted);
            free(verifier);
            steep_error_set("enclave_info has no entry for peer service '%s' (build every "
                            "service, then regenerate and re-sign enclave_info)",
                            names[i]);
            return NULL;
        }
        verifier->accepted[i] = *attr;
    }
    verifier->n_accepted = n_names;
    verifier->owner = attested;
    pthread_mutex_init(&verifier->lock, NULL);
    pthread_mutex_lock(&attested->lock);
    verifier->next = attested->verifiers;
    attested->verifiers = verifier;
    pthread_mutex_unlock(&attested->lock);
    return verifier;
}

void steep_attested_verifier_free_all(struct steep_attested *attested)
{
    struct steep_attested_verifier *verifier = attested->verifiers;
    while (verifier) {
        struct steep_attested_verifier *next = verifier->next;
        pthread_mutex_destroy(&verifier->lock);
        free(verifier->accepted);
        free(verifier);
        verifier = next;
    }
    attested->verifiers = NULL;
}

static int cert_hash(X509 *cert, uint8_t out[32])
{
    unsigned int len = 32;
    return X509_digest(cert, EVP_sha256(), out, &len) == 1 ? 0 : -1;
}

static bool cache_lookup(struct steep_attested_verifier *verifier, const uint8_t hash[32],
                         time_t now, char *name, size_t name_len)
{
    bool found = false;
    pthread_mutex_lock(&verifier->lock);
    for (size_t i = 0; i < STEEP_VERDICT_CACHE_SIZE && !found; i++) {
        struct verdict_cache_entry *entry = &verifier->cache[i];
        if (entry->expires > now && memcmp(entry->cert_hash, hash, 32) == 0) {
            snprintf(name, name_len, "%s", entry->name);
            found = true;
        }
    }
    if (found)
        verifier->hits++;
    else
        verifier->misses++;
    pthread_mutex_unlock(&verifier->lock);
    return found;
}

static void cache_store(struct steep_attested_verifier *verifier, const uint8_t hash[32],
                        time_t expires, const char *name)
{
    pthread_mutex_lock(&verifier->lock);
    struct verdict_cache_entry *entry = &verifier->cache[verifier->cache_next];
    verifier->cache_next = (verifier->cache_next + 1) % STEEP_VERDICT_CACHE_SIZE;
    memcpy(entry->cert_hash, hash, 32);
    entry->expires = expires;
    snprintf(entry->name, sizeof(entry->name), "%s", name);
    pthread_mutex_unlock(&verifier->lock);
}

/* A refusal counted by reason (issue 18, item 4): the verifier's message
 * mapped onto a fixed set of words, so the label set stays bounded. */
static void count_refusal(const char *why)
{
    static const struct {
        const char *needle, *reason;
    } reasons[] = {{"stale", "stale"},          {"future", "future"},
                   {"quote status", "status"},  {"measurement", "measurement"},
                   {"simulated", "simulation"}, {"key binding", "key_binding"},
                   {"signature", "signature"},  {"certificate", "certificate"}};
    const char *reason = "invalid";
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (strstr(why, reasons[i].needle)) {
            reason = reasons[i].reason;
            break;
        }
    char labels[48];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    steep_metrics_count("steep_attestation_refusals_total",
                        "Peers whose attestation was refused, by reason", labels, 1);
}

int steep_attested_verify_peer(void *arg, X509 *leaf, STACK_OF(X509) * chain, char *peer_name,
                               size_t peer_name_len, char *reason, size_t reason_len)
{
    struct steep_attested_verifier *verifier = arg;
    struct steep_attested *attested = verifier->owner;
    time_t now = time(NULL);
    uint8_t hash[32];
    bool use_cache = attested->verdict_cache_ttl > 0 && cert_hash(leaf, hash) == 0;
    if (use_cache && cache_lookup(verifier, hash, now, peer_name, peer_name_len))
        return 0;

    struct steep_tee_policy policy;
    struct steep_tee_verdict verdict;
    steep_attested_policy(attested, verifier->accepted, verifier->n_accepted, &policy);
    policy.now = now;
    if (steep_tee_verify_cert(leaf, &policy, &verdict) < 0) {
        snprintf(reason, reason_len, "peer attestation refused: %s", steep_error_get());
        count_refusal(steep_error_get());
        return -1;
    }
    snprintf(peer_name, peer_name_len, "%s", verdict.name);
    if (use_cache) {
        int64_t max_age = attested->max_report_age > 0 ? attested->max_report_age
                                                       : STEEP_TEE_DEFAULT_MAX_REPORT_AGE;
        time_t expires = now + attested->verdict_cache_ttl;
        if (verdict.report_time + max_age < expires)
            expires = verdict.report_time + max_age;
        cache_store(verifier, hash, expires, verdict.name);
    }
    return 0;
}

void steep_attested_verdict_cache_stats(struct steep_attested *attested, unsigned long *hits,
                                        unsigned long *misses)
{
    *hits = *misses = 0;
    pthread_mutex_lock(&attested->lock);
    for (struct steep_attested_verifier *v = attested->verifiers; v; v = v->next) {
        pthread_mutex_lock(&v->lock);
        *hits += v->hits;
        *misses += v->misses;
        pthread_mutex_unlock(&v->lock);
    }
    pthread_mutex_unlock(&attested->lock);
}
