/*
 * The etcd cluster a storage test runs against, from the environment that
 * test_store_etcd.sh sets (tests/lib/etcd.sh starts the cluster):
 * STEEP_TEST_ETCD_ENDPOINTS (comma-separated), STEEP_TEST_ETCD_CA,
 * STEEP_TEST_ETCD_CERT, STEEP_TEST_ETCD_KEY. Header-only, for the few tests
 * that use it.
 */
#ifndef STEEP_TESTS_STORAGE_STORE_ETCD_ENV_H
#define STEEP_TESTS_STORAGE_STORE_ETCD_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/etcd.h"
#include "store/store.h"

static inline bool test_etcd_enabled(void)
{
    const char *endpoints = getenv("STEEP_TEST_ETCD_ENDPOINTS");
    return endpoints && *endpoints;
}

/* A key prefix no other test (or run) uses. */
static inline char *test_etcd_prefix(const char *tag)
{
    static int counter;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "test/%s-%ld-%d/", tag, (long)getpid(), ++counter);
    return strdup(prefix);
}

static inline int test_etcd_config(struct steep_etcd_config *config, char **copy,
                                   const char *endpoints[STEEP_ETCD_MAX_ENDPOINTS])
{
    *copy = strdup(getenv("STEEP_TEST_ETCD_ENDPOINTS"));
    size_t n = 0;
    for (char *save = NULL, *e = strtok_r(*copy, ",", &save); e && n < STEEP_ETCD_MAX_ENDPOINTS;
         e = strtok_r(NULL, ",", &save))
        endpoints[n++] = e;
    *config = (struct steep_etcd_config){.endpoints = endpoints,
                                         .n_endpoints = n,
                                         .ca_file = getenv("STEEP_TEST_ETCD_CA"),
                                         .cert_file = getenv("STEEP_TEST_ETCD_CERT"),
                                         .key_file = getenv("STEEP_TEST_ETCD_KEY")};
    return 0;
}

static inline int test_etcd_open(const char *prefix, const uint8_t *key, int flags,
                                 struct steep_store **out)
{
    struct steep_etcd_config config;
    const char *endpoints[STEEP_ETCD_MAX_ENDPOINTS];
    char *copy = NULL;
    test_etcd_config(&config, &copy, endpoints);
    int rc = steep_store_open_etcd(&config, prefix, key, flags, out);
    free(copy);
    return rc;
}

#endif
