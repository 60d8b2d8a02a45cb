#!/usr/bin/env bash
# Storage benchmark: durable Put/s and Get/s over RPC with 1, 16 and 64
# clients against raw in-process LevelDB (sync Puts, plain Gets).
# Builds nothing; uses $STEEP_BUILD_DIR (default: build/).
# usage: bench/storage/run.sh [seconds per figure (1)] [data dir parent ($TMPDIR or /tmp)]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${STEEP_BUILD_DIR:-$root/build}"
exe="$build/bin/bench_storage"
if [ ! -x "$exe" ]; then
    echo "bench/storage: $exe not found; build first (make build)" >&2
    exit 1
fi
exec "$exe" "${1:-1}" "${2:-${TMPDIR:-/tmp}}"
