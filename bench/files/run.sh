#!/usr/bin/env bash
# File crypto and ordered-set-intersect benchmark (builds nothing).
# Uses $STEEP_BUILD_DIR (default build/) /bin/bench_files.
#   SIZE_MB (default 1024), LINES (default 10000000)
set -euo pipefail
build=${STEEP_BUILD_DIR:-build}
bin="$build/bin/bench_files"
[ -x "$bin" ] || { echo "missing $bin: build first (ninja -C $build bench_files)"; exit 1; }
size_mb=${SIZE_MB:-1024}
lines=${LINES:-10000000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/steep-bench-files-XXXXXX")
trap 'rm -rf "$dir"' EXIT

echo "== file crypto, ${size_mb} MiB =="
out=$("$bin" convert "$dir" "$size_mb")
echo "$out"
echo "== openssl speed -evp aes-256-gcm (16 KiB blocks) =="
ref=$(openssl speed -seconds 2 -bytes 16384 -evp aes-256-gcm 2>/dev/null | awk '/^AES-256-GCM|^aes-256-gcm/ {print $NF}' | tr -d k)
echo "openssl aes-256-gcm: ${ref} kB/s"
ours=$(echo "$out" | awk '/^aes-gcm-256/ {print $(NF-1)}')
tf=$(echo "$out" | awk '/^teaclave-file-128/ {print $(NF-1)}')
awk -v o="$ours" -v t="$tf" -v r="$ref" 'BEGIN {
  rm = r / 1000.0;
  printf "reference: %.1f MB/s (one AES-GCM pass)\n", rm;
  printf "aes-gcm-256 decrypt+re-encrypt: %.1f MB/s = %.2fx reference (two AES-GCM passes per byte: %.2fx per pass; budget >= 0.5x)\n", o, o / rm, 2 * o / rm;
  printf "teaclave-file-128 decrypt+re-encrypt: %.1f MB/s = %.2fx reference (AES-128 per node + CMAC key derivation)\n", t, t / rm;
}'
echo "== builtin-ordered-set-intersect =="
"$bin" intersect "$dir" "$lines"
