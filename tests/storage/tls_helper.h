/*
 * Test-only TLS identity for in-process storage servers: a fresh
 * self-signed P-256 certificate. Clients in these tests verify nothing
 * (struct steep_tls_config zeroed); attestation is tested separately.
 */
#ifndef STEEP_TESTS_STORAGE_TLS_HELPER_H
#define STEEP_TESTS_STORAGE_TLS_HELPER_H

#include "rpc/rpc.h"

/* Fills tls with a credentials callback serving a new self-signed cert. */
int test_tls_server_identity(struct steep_tls_config *tls);
void test_tls_server_identity_free(struct steep_tls_config *tls);

#endif
