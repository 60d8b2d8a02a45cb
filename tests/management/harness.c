/*
 * The test harness (harness.h): storage engine in a temporary directory and
 * the policy engine in-process.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "policy/policy.h"
#include "store/store.h"

static const uint8_t test_key[STEEP_STORE_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};

static void die(const char *what)
{
    fprintf(stderr, "harness: %s: %s\n", what, steep_error_get());
    abort();
}

void harness_store_open(struct harness_store *h)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(h->dir, sizeof h->dir, "%s/steep-mgmt-test-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(h->dir))
        die("mkdtemp");
    if (steep_store_open(h->dir, test_key, STEEP_STORE_CREATE, &h->store) != STEEP_STORE_OK)
        die("open store");
}

void harness_store_restart(struct harness_store *h)
{
    steep_store_close(h->store);
    if (steep_store_open(h->dir, test_key, 0, &h->store) != STEEP_STORE_OK)
        die("reopen store");
}

void harness_store_close(struct harness_store *h)
{
    steep_store_close(h->store);
    h->store = NULL;
    char command[400];
    snprintf(command, sizeof command, "rm -rf '%s'", h->dir);
    if (system(command) != 0)
        fprintf(stderr, "harness: could not remove %s\n", h->dir);
}

static int kv_get(void *ctx, const char *key, struct steep_buf *value)
{
    struct harness_store *h = ctx;
    return steep_store_get(h->store, key, strlen(key), value);
}

static int kv_put(void *ctx, const char *key, const void *value, size_t len)
{
    struct harness_store *h = ctx;
    return steep_store_put(h->store, key, strlen(key), value, len);
}

static int kv_remove(void *ctx, const char *key)
{
    struct harness_store *h = ctx;
    return steep_store_delete(h->store, key, strlen(key));
}

static int kv_cas(void *ctx, struct steep_store_cas *cas)
{
    struct harness_store *h = ctx;
    return steep_store_compare_and_swap(h->store, cas);
}

static int kv_keys(void *ctx, const char *prefix, steep_store_scan_fn fn, void *arg)
{
    struct harness_store *h = ctx;
    char full[256];
    snprintf(full, sizeof full, "%s-", prefix);
    return steep_store_scan(h->store, full, strlen(full), fn, arg);
}

static int kv_batch(void *ctx, const struct steep_store_op *ops, size_t n)
{
    struct harness_store *h = ctx;
    return steep_store_batch(h->store, ops, n);
}

struct steep_kv harness_kv(struct harness_store *h)
{
    struct steep_kv kv = {h, kv_get, kv_put, kv_remove, kv_cas, kv_keys, NULL, kv_batch, NULL};
    return kv;
}

void *harness_policy_load(void)
{
    struct steep_policy *policy = steep_policy_new();
    const char *source = getenv("STEEP_SOURCE_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/policies/tasks.policy", source ? source : ".");
    if (!policy || steep_policy_add_file(policy, path) < 0 || steep_policy_finish(policy) < 0)
        die("load policies/tasks.policy");
    return policy;
}

void harness_policy_free(void *policy)
{
    steep_policy_free(policy);
}

int harness_authorize(void *policy, const char *request, const struct steep_acs_field *fields,
                      size_t nfields, const struct steep_acs_fact *facts, size_t nfacts,
                      bool *accept, char *reason, size_t reason_len)
{
    /* Same layouts: {name, value} and {term, values, nvalues}. */
    return steep_policy_decide(policy, request, (const struct steep_policy_field *)fields, nfields,
                               (const struct steep_policy_fact *)facts, nfacts, accept, reason,
                               reason_len);
}
