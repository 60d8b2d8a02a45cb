#!/usr/bin/env bash
# Body hoarding (issue 14 item 4) against a real platform's frontend, as the
# issue measured it: 12 connections x 40 streams of GetFunction announcing
# 4 MiB, 1 MiB sent, never ended, held 25 s (past the 20 s receive timeout).
# Figures: p50 of `steep function list` (a whole CLI call: process, TLS
# handshake with attestation, frontend, authentication, access control,
# management) before/during/after, and the frontend's RSS baseline / peak /
# after. Called by run.sh; needs the build's steep binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export STEEP_BUILD_DIR=${STEEP_BUILD_DIR:-$root/build}
cd "$root"
. tests/lib/platform.sh
platform_start 0 1 >/dev/null
S=$STEEP_BIN/steep
$S user login admin --password teaclave >/dev/null
pid=$(cat "$STEEP_DIR/run/frontend.pid")
rss() { awk -v k="$1:" '$1 == k {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
p50() { # ms of `steep function list`, median of 15
  local i t0 t1 times=()
  for i in $(seq 15); do
    t0=$(date +%s%N); $S function list --user admin >/dev/null; t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] / 1000}'
}
base_rss=$(rss VmRSS); base=$(p50)
"$STEEP_BIN/rpc-attack" hoard --port $((PORT_BASE + 1)) --connections 12 --streams 40 \
  --announce 4194304 --send 1048576 --hold-ms 25000 \
  --path /teaclave_frontend_service_proto.TeaclaveFrontend/GetFunction >"$platform_tmp/attack.out" &
attack=$!
sleep 6; during=$(p50)
wait $attack
after=$(p50); sleep 0.5
peak=$(rss VmHWM); after_rss=$(rss VmRSS)
awk -v b="$base" -v d="$during" -v a="$after" -v br="$base_rss" -v pk="$peak" -v ar="$after_rss" \
    -v attack="$(cat "$platform_tmp/attack.out")" 'BEGIN {
  printf "frontend hoard: p50 ms before %.1f during %.1f (x%.2f) after %.1f (x%.2f); ", b, d, d / b, a, a / b
  printf "frontend RSS MiB base %.1f peak %.1f (x%.2f) after %.1f; attack: %s\n", br, pk, pk / br, ar, attack }'
