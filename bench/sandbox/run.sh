#!/usr/bin/env bash
# Sandbox start cost: builtin-echo through steep_sandbox_run (p50/p99) and a
# bare posix_spawn of /bin/true as the same-run reference.
#   bench/sandbox/run.sh [RUNS (200)]
cd "$(dirname "$0")/../.."
build=${STEEP_BUILD_DIR:-$PWD/build}
STEEP_BUILD_DIR=$build exec "$build/bin/bench_sandbox" "${1:-200}"
