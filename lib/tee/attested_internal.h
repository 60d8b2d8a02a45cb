/*
 * Private state shared by attested.c (identity, renewal),
 * attested_verify.c (peer verification and verdict cache) and
 * attested_config.c.
 */
#ifndef STEEP_TEE_ATTESTED_INTERNAL_H
#define STEEP_TEE_ATTESTED_INTERNAL_H

#include <pthread.h>

#include "tee/attested.h"

#define STEEP_VERDICT_CACHE_SIZE 64

struct verdict_cache_entry {
    uint8_t cert_hash[32];
    time_t expires;
    char name[STEEP_TEE_NAME_MAX];
};

/* One verification hook: a set of accepted peers and its verdict cache. */
struct steep_attested_verifier {
    struct steep_attested *owner;
    struct steep_tee_enclave_attr *accepted;
    size_t n_accepted;
    pthread_mutex_t lock;
    struct verdict_cache_entry cache[STEEP_VERDICT_CACHE_SIZE];
    size_t cache_next;
    unsigned long hits, misses; /* guarded by lock */
    struct steep_attested_verifier *next;
};

struct steep_attested {
    char service_name[STEEP_TEE_NAME_MAX];
    struct steep_tee *tee;
    X509_STORE *roots;
    struct steep_enclave_info enclave_info;
    char **accepted_statuses;
    size_t n_accepted_statuses;
    bool insecure_allow_simulation;
    int evidence_validity;
    int64_t max_report_age;
    int verdict_cache_ttl;
    bool have_hw;
    struct steep_tee_hw_config hw; /* collateral for peers' raw hardware evidence */

    pthread_mutex_t lock; /* guards cert, key, generation, stop, verifiers */
    pthread_cond_t wake;
    X509 *cert;
    EVP_PKEY *key;
    unsigned generation;
    bool stop;
    bool thread_started;
    pthread_t thread;
    struct steep_attested_verifier *verifiers;
};

/* Fills a policy for the verifier's accepted set (attested_verify.c). */
void steep_attested_policy(const struct steep_attested *attested,
                           const struct steep_tee_enclave_attr *accepted, size_t n_accepted,
                           struct steep_tee_policy *policy);
int steep_attested_verify_peer(void *arg, X509 *leaf, STACK_OF(X509) * chain, char *peer_name,
                               size_t peer_name_len, char *reason, size_t reason_len);
struct steep_attested_verifier *steep_attested_verifier_new(struct steep_attested *attested,
                                                            const char *const *names,
                                                            size_t n_names);
void steep_attested_verifier_free_all(struct steep_attested *attested);

#endif
