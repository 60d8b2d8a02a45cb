/*
 * Shared set-up for the attestation tests: a temporary directory with a
 * SIMULATED authority, a platform key, a master key, and helpers to make
 * evidence and certificates (honest or forged) and policies.
 */
#ifndef STEEP_TESTS_TEE_TEST_UTIL_H
#define STEEP_TESTS_TEE_TEST_UTIL_H

#include <openssl/x509.h>

#include "tee/authority.h"
#include "tee/tee.h"
#include "tee/verify.h"

struct tee_fixture {
    char dir[256];
    char authority_dir[300];
    char signing_key[400], signing_cert[400], root_cert[400];
    char platform_pub[400], master_key[400];
    struct steep_authority *authority;
    X509_STORE *roots;
};

/* Creates everything under a fresh temporary directory (aborts on failure). */
void tee_fixture_init(struct tee_fixture *fixture);
void tee_fixture_free(struct tee_fixture *fixture);
/* The [api_endpoints] and [internal_endpoints] tables of a steep.toml with
 * every service on its default loopback port. */
extern const char tee_fixture_endpoints[];
/* A path inside the fixture directory. */
const char *tee_fixture_path(const struct tee_fixture *fixture, const char *name, char *out,
                             size_t size);
/* A sim TEE measuring exe_path (NULL: this test executable). */
struct steep_tee *tee_fixture_open(const struct tee_fixture *fixture, const char *exe_path);
/* A policy trusting the fixture's root and accepting one (name, identity). */
void tee_fixture_policy(const struct tee_fixture *fixture, struct steep_tee_policy *policy,
                        struct steep_tee_enclave_attr *attr, const char *name,
                        const struct steep_tee_identity *identity);
/* Reads a whole file (aborts on failure); free() the result. */
uint8_t *tee_read_all(const char *path, size_t *len);
/* $STEEP_SHARED_DIR/fixtures/teaclave/<name> */
const char *tee_shared_fixture(const char *name, char *out, size_t size);
void tee_remove_tree(const char *dir);

#endif
