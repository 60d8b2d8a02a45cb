/*
 * Test support for the RPC layer: throwaway P-256 identities, a verify hook
 * that accepts a list of common names, and the Echo service handler shared
 * by the unit-level integration tests, the interop programs and the bench.
 */
#ifndef STEEP_TESTS_RPC_SUPPORT_H
#define STEEP_TESTS_RPC_SUPPORT_H

#include <pthread.h>

#include "echo.pb-c.h"
#include "rpc/rpc.h"

#define ECHO_SAY "/steep_test.Echo/Say"

/* A certificate + key that the credentials callback hands out; replaceable
 * at run time (renewal). */
struct test_identity {
    pthread_mutex_t lock;
    X509 *cert;
    EVP_PKEY *key;
    int handshakes; /* times the credentials callback ran */
};

/* Self-signed P-256 for common_name, SAN localhost + 127.0.0.1. */
int test_identity_generate(struct test_identity *identity, const char *common_name);
int test_identity_load(struct test_identity *identity, const char *cert_path, const char *key_path);
int test_identity_write(const struct test_identity *identity, const char *cert_path,
                        const char *key_path);
void test_identity_free(struct test_identity *identity);
int test_identity_credentials(void *arg, X509 **cert, EVP_PKEY **key);

/* Accepts a leaf whose CN is in names (NULL-terminated); peer name = CN. */
struct test_verifier {
    const char *names[8];
    int calls;
};
int test_verifier_check(void *arg, X509 *leaf, STACK_OF(X509) * chain, char *peer_name,
                        size_t peer_name_len, char *reason, size_t reason_len);

/* The Echo service: see echo.proto. */
void test_echo_say(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg);

#endif
