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
# Files go to $TMPDIR, else /dev/shm when it has room for three copies (so
# the figures measure crypto, not the disk), else /tmp.
base=${TMPDIR:-}
if [ -z "$base" ]; then
  base=/tmp
  if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt $((size_mb * 1024 * 3 + 65536)) ]; then
    base=/dev/shm
  fi
fi
dir=$(mktemp -d "$base/steep-bench-files-XXXXXX")
trap 'rm -rf "$dir"' EXIT

echo "== file crypto, ${size_mb} MiB in $base (load: $(cut -d' ' -f1-3 /proc/loadavg)) =="
out=$("$bin" convert "$dir" "$size_mb")
echo "$out" | grep -v ^RESULT
echo "== openssl speed -evp aes-256-gcm (16 KiB blocks, CPU-time based like openssl's default) =="
ref=$(openssl speed -seconds 2 -bytes 16384 -evp aes-256-gcm 2>/dev/null | awk '/^AES-256-GCM|^aes-256-gcm/ {print $NF}' | tr -d k)
echo "openssl aes-256-gcm: ${ref} kB/s"
echo "$out" | awk -v r="$ref" '/^RESULT/ {
  rm = r / 1000.0;
  printf "%s decrypt+re-encrypt: wall %.1f MB/s, %.2fx reference per CPU second (user+sys, includes tmpfs I/O), %.2fx per user CPU second\n", $2, $3, $4 / rm, $5 / rm;
}
END { printf "reference: openssl %.1f MB/s for one AES-GCM pass; decrypt+re-encrypt makes two passes per byte (budget for aes-gcm >= 0.5x)\n", r / 1000.0 }'
echo "== builtin-ordered-set-intersect =="
"$bin" intersect "$dir" "$lines"
