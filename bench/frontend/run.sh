#!/usr/bin/env bash
# Frontend benchmark: starts a local platform (steep up, every service, on
# free ports, in a temporary directory), then measures authenticated round
# trips (1 and 32 clients, p50/p99 against the 1 ms p50 budget) and logins.
# Same-run reference (issue 15): one fdatasync of the platform's data
# directory plus one loopback RPC (Steep's rpc-echo-server, 1 stream, TLS
# 1.3 + h2, by h2load): a frontend round trip needs at least one of each
# (its durable audit entry, and the hop to a service), so the 1-client p50
# is also printed as a multiple of their sum.
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
work=$(mktemp -d)
echo_fd_open=0
cleanup() {
  [ $echo_fd_open = 1 ] && exec 7>&-
  wait 2>/dev/null || true
  rm -rf "$work"
  platform_stop
}
trap cleanup EXIT

# The floor: fdatasync of 4 KiB in the data directory (bench_e2e --fsync).
fsync_p50=""
if [ -x "$STEEP_BUILD_DIR/bin/bench_e2e" ]; then
  line=$("$STEEP_BUILD_DIR/bin/bench_e2e" --fsync "$STEEP_DIR/data" 300)
  echo "$line"
  fsync_p50=$(echo "$line" | sed -n 's/.*p50 \([0-9.]*\) ms.*/\1/p')
fi
# One loopback RPC on an established TLS connection.
rpc_p50=""
if command -v h2load >/dev/null && command -v openssl >/dev/null &&
   [ -x "$STEEP_BUILD_DIR/bin/rpc-echo-server" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost 2>/dev/null
  printf '\x00\x00\x00\x00\x07\x0a\x05hello' > "$work/request.bin"
  mkfifo "$work/echo.in"
  "$STEEP_BUILD_DIR/bin/rpc-echo-server" --cert "$work/cert.pem" --key "$work/key.pem" \
    < "$work/echo.in" > "$work/echo.out" 2>"$work/echo.err" &
  exec 7>"$work/echo.in"
  echo_fd_open=1
  for _ in $(seq 100); do grep -q '^PORT ' "$work/echo.out" 2>/dev/null && break; sleep 0.1; done
  port=$(awk '/^PORT /{print $2}' "$work/echo.out")
  if [ -n "$port" ]; then
    h2load -n 3000 -c 1 -m 1 -t 1 --log-file="$work/log" -d "$work/request.bin" \
      -H 'content-type: application/grpc' -H 'te: trailers' \
      "https://127.0.0.1:$port/steep_test.Echo/Say" >/dev/null 2>&1 || true
    # h2load logs microseconds per request; the first 500 warm up.
    rpc_p50=$(awk -F'\t' 'NR > 500 {print $3}' "$work/log" 2>/dev/null | sort -n |
              awk '{a[NR]=$1} END { if (NR) printf "%.3f", a[int((NR - 1) * 0.5) + 1] / 1000 }')
    [ -n "$rpc_p50" ] && echo "loopback RPC (rpc-echo-server, 1 stream): p50 $rpc_p50 ms"
  fi
fi
"$exe" "${1:-2}" | tee "$work/frontend.out"
p50=$(awk '/clients=1 /{for (i = 1; i <= NF; i++) if ($i == "p50") {print $(i + 1); exit}}' \
      "$work/frontend.out")
if [ -n "$fsync_p50" ] && [ -n "$rpc_p50" ] && [ -n "$p50" ]; then
  awk -v p="$p50" -v f="$fsync_p50" -v r="$rpc_p50" 'BEGIN {
    printf "1-client p50 %.3f ms = %.2f x (one fdatasync %.3f ms + one loopback RPC %.3f ms)\n",
           p, p / (f + r), f, r }'
fi
