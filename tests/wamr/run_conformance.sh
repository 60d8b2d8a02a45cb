#!/usr/bin/env bash
# WebAssembly core specification tests through the wasm executor's engine
# (conformance.py). Without arguments: every non-SIMD .wast of
# ../shared/fixtures/wasm-testsuite (`make conformance`); with arguments:
# those files' base names (the ctest subset).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
suite=${STEEP_SHARED_DIR:-$repo/../shared}/fixtures/wasm-testsuite
export STEEP_SOURCE_DIR=${STEEP_SOURCE_DIR:-$repo} STEEP_BUILD_DIR=${STEEP_BUILD_DIR:-$repo/build}
[ -f "$STEEP_BUILD_DIR/lib/libsteep_wamr_engine.a" ] ||
  cmake --build "$STEEP_BUILD_DIR" --target steep_wamr_engine >/dev/null
files=()
if [ $# -gt 0 ]; then
  for name in "$@"; do files+=("$suite/$name.wast"); done
else
  for f in "$suite"/*.wast; do
    case $(basename "$f") in simd*) continue ;; esac
    files+=("$f")
  done
fi
exec /usr/bin/python3 "$repo/tests/wamr/conformance.py" "${files[@]}"
