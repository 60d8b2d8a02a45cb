#!/usr/bin/env bash
# Mutually attested TLS handshakes per second vs plain OpenSSL TLS 1.3
# mutual handshakes (P-256), same process, same run; plus evidence
# generation and uncached verification times. Builds nothing: uses
# $STEEP_BUILD_DIR (default build/) /bin/bench_attest.
#   SECONDS_PER_RUN (default 3)
set -euo pipefail
build=${STEEP_BUILD_DIR:-build}
bin="$build/bin/bench_attest"
[ -x "$bin" ] || { echo "missing $bin: build first (ninja -C $build bench_attest)"; exit 1; }
echo "== attested TLS handshakes (sim back-end: SIMULATED evidence) =="
STEEP_LOG=warn "$bin" "${SECONDS_PER_RUN:-3}"
