#!/usr/bin/env bash
# Frontend benchmark: starts a local platform (steep up, every service, on
# free ports, in a temporary directory), then measures authenticated round
# trips (1 and 32 clients, p50/p99 against the 1 ms p50 budget) and logins.
# Builds nothing; uses $STEEP_BUILD_DIR (default: build/).
# usage: bench/frontend/run.sh [seconds per figure (2)]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export STEEP_BUILD_DIR="${STEEP_BUILD_DIR:-$root/build}"
exe="$STEEP_BUILD_DIR/bin/bench_frontend"
if [ ! -x "$exe" ]; then
    echo "bench/frontend: $exe not found; build first (make build)" >&2
    exit 1
fi
. tests/lib/platform.sh
platform_start 1 1
trap platform_stop EXIT
"$exe" "${1:-2}"
