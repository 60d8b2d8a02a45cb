#!/usr/bin/env bash
# Benchmark of Steep's gRPC layer: unary Echo/Say over TLS 1.3 + ALPN h2 on
# loopback, h2load as the load generator, against our server (rpc-echo-server)
# and, as the reference, a gRPC C++ server of the same method
# (rpc-bench-grpc-server, Debian libgrpc++). Builds nothing: it uses
# $STEEP_BUILD_DIR (default build/). Prints RPC/s, p50/p99 latency and the
# ratio ours/reference for: 1 stream, 100 concurrent streams on one
# connection, 16 connections x 10 streams. The "Steep inline" column is the
# same method registered with steep_rpc_server_add_inline (handler on the
# event loop, no worker pool), as storage's Get is.
#   BENCH_REQUESTS=N scales the request counts (default 100000).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${STEEP_BUILD_DIR:-$root/build}
bin=$build/bin
requests=${BENCH_REQUESTS:-100000}
for tool in h2load openssl; do
  command -v $tool >/dev/null || { echo "bench/rpc: $tool is missing (scripts/install-deps.sh)"; exit 1; }
done
[ -x "$bin/rpc-echo-server" ] || { echo "bench/rpc: build first ($bin/rpc-echo-server missing)"; exit 1; }

work=$(mktemp -d)
servers=()
cleanup() {
  for fd in "${servers[@]}"; do eval "exec $fd>&-"; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost 2>/dev/null
# One framed EchoRequest{message: "hello"}.
printf '\x00\x00\x00\x00\x07\x0a\x05hello' > "$work/request.bin"

# start_server NAME FD COMMAND...: runs it with stdin on a fifo held open by FD
# (closing FD stops it); sets port_NAME.
start_server() {
  local name=$1 fd=$2; shift 2
  mkfifo "$work/$name.in"
  "$@" < "$work/$name.in" > "$work/$name.out" 2>"$work/$name.err" &
  eval "exec $fd>\"$work/$name.in\""
  servers+=("$fd")
  for _ in $(seq 100); do
    grep -q '^PORT ' "$work/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  local port
  port=$(awk '/^PORT /{print $2}' "$work/$name.out")
  [ -n "$port" ] || { echo "bench/rpc: $name did not start"; cat "$work/$name.err"; exit 1; }
  eval "port_$name=$port"
}

# measure PORT N CONNECTIONS STREAMS -> "rps p50_us p99_us failed"
measure() {
  local port=$1 n=$2 c=$3 m=$4
  rm -f "$work/log"
  local out
  out=$(h2load -n "$n" -c "$c" -m "$m" -t 1 --log-file="$work/log" -d "$work/request.bin" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "https://127.0.0.1:$port/steep_test.Echo/Say" 2>&1)
  local rps failed
  rps=$(echo "$out" | awk '/^finished in/{gsub(",", "", $4); print $4}')
  failed=$(echo "$out" | awk '/^requests:/{print $2 - $8}')
  local latencies
  latencies=$(awk -F'\t' '{print $3}' "$work/log" | sort -n | awk '{a[NR]=$1} END {
      if (NR == 0) { print "0 0"; exit }
      p50 = a[int((NR - 1) * 0.50) + 1]; p99 = a[int((NR - 1) * 0.99) + 1]; print p50, p99 }')
  echo "$rps $latencies $failed"
}

start_server ours 7 "$bin/rpc-echo-server" --cert "$work/cert.pem" --key "$work/key.pem"
# The same method registered inline (handler on the event loop, no pool).
start_server inline 9 "$bin/rpc-echo-server" --cert "$work/cert.pem" --key "$work/key.pem" --inline
have_reference=0
if [ -x "$bin/rpc-bench-grpc-server" ]; then
  start_server grpc 8 "$bin/rpc-bench-grpc-server" "$work/cert.pem" "$work/key.pem"
  have_reference=1
else
  echo "bench/rpc: rpc-bench-grpc-server not built (needs libgrpc++-dev, protobuf-compiler-grpc): no reference"
fi

workloads=("1 stream:1:1:$((requests / 5))"
           "100 streams, 1 connection:1:100:$requests"
           "16 connections x 10 streams:16:10:$requests")
printf '%-30s | %-30s | %-30s | %-30s | %s\n' "workload" "Steep RPC/s  p50  p99 (us)" \
  "Steep inline RPC/s p50 p99" "gRPC C++ RPC/s  p50  p99 (us)" "ratio RPC/s"
for workload in "${workloads[@]}"; do
  IFS=: read -r label c m n <<<"$workload"
  measure "$port_ours" 2000 "$c" "$m" >/dev/null # warm-up
  read -r ours_rps ours_p50 ours_p99 ours_failed < <(measure "$port_ours" "$n" "$c" "$m")
  measure "$port_inline" 2000 "$c" "$m" >/dev/null
  read -r in_rps in_p50 in_p99 in_failed < <(measure "$port_inline" "$n" "$c" "$m")
  fast=$(printf '%10.0f %6s %6s' "$in_rps" "$in_p50" "$in_p99")
  [ "$in_failed" = 0 ] || fast="$fast (failed: $in_failed)"
  ref="-"; ratio="-"
  if [ $have_reference = 1 ]; then
    measure "$port_grpc" 2000 "$c" "$m" >/dev/null
    read -r ref_rps ref_p50 ref_p99 ref_failed < <(measure "$port_grpc" "$n" "$c" "$m")
    ref=$(printf '%10.0f %6s %6s' "$ref_rps" "$ref_p50" "$ref_p99")
    ratio=$(awk -v a="$ours_rps" -v b="$ref_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    [ "$ref_failed" = 0 ] || ref="$ref (failed: $ref_failed)"
  fi
  mine=$(printf '%10.0f %6s %6s' "$ours_rps" "$ours_p50" "$ours_p99")
  [ "$ours_failed" = 0 ] || mine="$mine (failed: $ours_failed)"
  printf '%-30s | %-30s | %-30s | %-30s | %s\n' "$label" "$mine" "$fast" "$ref" "$ratio"
done
