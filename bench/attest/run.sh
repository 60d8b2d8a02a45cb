#!/usr/bin/env bash
# Mutually attested TLS handshakes per second vs plain OpenSSL TLS 1.3
# mutual handshakes (P-256), same process, same run; plus evidence
# generation and uncached verification times. Builds nothing: uses
# $STEEP_BUILD_DIR (default build/) /bin/bench_attest.
# Then the verification of real hardware evidence (bench_attest_hw), and the
# attestation authority's Endorse and ReleaseKey per call (bench_attest_broker).
#   SECONDS_PER_RUN (default 3)
set -euo pipefail
build=${STEEP_BUILD_DIR:-build}
bin="$build/bin/bench_attest"
[ -x "$bin" ] || { echo "missing $bin: build first (ninja -C $build bench_attest)"; exit 1; }
echo "== attested TLS handshakes (sim back-end: SIMULATED evidence) =="
STEEP_LOG=warn "$bin" "${SECONDS_PER_RUN:-3}"
hw="$build/bin/bench_attest_hw"
[ -x "$hw" ] || { echo "missing $hw: build first (ninja -C $build bench_attest_hw)"; exit 1; }
echo "== hardware evidence verification (real SGX/TDX/SNP vectors, collateral cached) =="
"$hw" "${SECONDS_PER_RUN:-3}"
broker="$build/bin/bench_attest_broker"
[ -x "$broker" ] || { echo "missing $broker: build first (ninja -C $build bench_attest_broker; test builds only)"; exit 1; }
echo "== attestation authority: Endorse and ReleaseKey per call vs verification only =="
STEEP_LOG=warn "$broker" "${BROKER_CALLS:-400}"
