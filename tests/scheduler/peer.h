/*
 * A test or benchmark process speaking to a platform's internal endpoints
 * as one of its services: the sim back-end measuring that service's
 * executable (so the peer's pinning from enclave_info accepts it), with
 * the platform's keys from DIR/steep.toml. Test-only: it needs the
 * platform's simulated authority key.
 */
#ifndef STEEP_TESTS_SCHEDULER_PEER_H
#define STEEP_TESTS_SCHEDULER_PEER_H

#include "core/config.h"
#include "rpc/rpc.h"
#include "tee/attested.h"

/* Opens the identity of service_name ("teaclave_execution_service") by
 * measuring $STEEP_BIN/<exe> ("steep-execution"). */
struct steep_attested *peer_open(const struct steep_config *config, const char *service_name,
                                 const char *exe);
/* A client to endpoint, pinned to peer_service. */
struct steep_rpc_client *peer_client(struct steep_attested *attested,
                                     const struct steep_config *config,
                                     enum steep_endpoint endpoint, const char *peer_service);

#endif
