#!/usr/bin/env bash
# Scheduler dispatch on a `steep up` platform with no real execution nodes:
# fake slots (4 nodes x 4 slots) in bench_scheduler measure InvokeTask ->
# slot latency (p50/p99) and staged tasks dispatched per second, and, in
# the same run, a Teaclave-style executor polling every 3 s as reference.
# Builds nothing: uses $STEEP_BUILD_DIR (default build/).
#   bench/scheduler/run.sh [LATENCY_TASKS (300)] [THROUGHPUT_TASKS (1000)] [REFERENCE_TASKS (6)]
cd "$(dirname "$0")/../.."
export STEEP_BIN=${STEEP_BUILD_DIR:-$PWD/build}/bin
. tests/lib/platform.sh
platform_start 0 1
"$STEEP_BIN/bench_scheduler" "${1:-300}" "${2:-1000}" "${3:-6}"
