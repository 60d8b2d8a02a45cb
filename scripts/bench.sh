#!/usr/bin/env bash
# `make bench`: every benchmark under bench/*/run.sh, one after another.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export STEEP_BUILD_DIR=${STEEP_BUILD_DIR:-$repo/build}
status=0
for run in "$repo"/bench/*/run.sh; do
  [ -x "$run" ] || continue
  echo "=== $(basename "$(dirname "$run")") ==="
  "$run" || { echo "bench: $run failed"; status=1; }
done
exit $status
