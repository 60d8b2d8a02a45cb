/* `steep-tee serve`: a one-way RA-TLS test server (SIMULATED evidence). */
#ifndef STEEP_TOOLS_STEEP_TEE_SERVE_H
#define STEEP_TOOLS_STEEP_TEE_SERVE_H

#include "tee/tee.h"

/* Serves TLS handshakes (ALPN h2) on listen until SIGTERM/SIGINT; prints
 * "listening on port N" once bound. The certificate is renewed when older
 * than validity seconds (0: 3600). */
int steep_tee_serve(struct steep_tee *tee, const char *listen, int validity);

#endif
