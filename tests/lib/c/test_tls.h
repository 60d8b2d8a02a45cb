/*
 * Test-only TLS identity for in-process servers of any area's tests: a
 * fresh self-signed P-256 certificate (CN localhost). Clients in such tests
 * verify nothing (struct steep_tls_config zeroed); attestation is tested in
 * tests/tee.
 */
#ifndef STEEP_TESTS_LIB_TEST_TLS_H
#define STEEP_TESTS_LIB_TEST_TLS_H

#include "rpc/rpc.h"

/* Fills tls with a credentials callback serving a new self-signed cert. */
int test_tls_server_identity(struct steep_tls_config *tls);
void test_tls_server_identity_free(struct steep_tls_config *tls);

#endif
