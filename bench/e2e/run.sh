#!/usr/bin/env bash
# builtin-echo, CreateTask → result, on a `steep up` platform with 2 execution
# nodes: p50/p99 latency and tasks/s at 1 and 32 concurrent clients.
# Reference point: Teaclave's 3 s heartbeat poll makes its mean pickup alone 1.5 s.
# Slots per node: BENCH_SLOTS (default 8: a builtin task mostly waits on
# fsyncs and its sandbox's start, so more slots than cores keep them busy).
cd "$(dirname "$0")/../.."
export STEEP_BIN=${STEEP_BUILD_DIR:-$PWD/build}/bin
. tests/lib/platform.sh
slots=${BENCH_SLOTS:-8}
platform_start 2 "$slots"
echo "platform: 2 execution nodes x $slots slots, $(nproc) cores"
"$STEEP_BIN/bench_e2e" "${BENCH_SECONDS:-10}" 1 32
echo "reference: Teaclave's executor polls every 3 s (mean pickup delay alone: 1500 ms)"
for name in storage access-control authentication management scheduler frontend execution-1; do
  pid=$("$STEEP" status --dir "$STEEP_DIR" --json | /usr/bin/python3 -c "import json,sys;print(next((s['pid'] for s in json.load(sys.stdin)['services'] if s['name']=='$name'),0))")
  [ "$pid" != 0 ] && printf 'idle RSS %-16s %6d KiB\n' "$name" "$(awk '/VmRSS/{print $2}' /proc/$pid/status)"
done
