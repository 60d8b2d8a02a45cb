#!/usr/bin/env bash
# builtin-echo, CreateTask → result, on one `steep up` platform with 2
# execution nodes: p50/p99 latency and tasks/s at 1 and 32 concurrent
# clients, CPU ms per task summed over every service process, synced writes
# per task (the storage service's fdatasync/fsync calls, counted by perf),
# and, as the same-run reference, the raw fdatasync latency of the
# platform's data directory: p50 at 1 client reads as a multiple of it.
# Reference point: Teaclave's 3 s heartbeat poll makes its mean pickup alone 1.5 s.
# Slots per node: BENCH_SLOTS (default 8: a builtin task mostly waits on
# fsyncs and its sandbox's start, so more slots than cores keep them busy).
# BENCH_DURABLE_START=true|false: [scheduler] durable_start for the run
# (default: the platform's, off on LevelDB); the scheduler is restarted
# with it before the timed phase.
cd "$(dirname "$0")/../.."
export STEEP_BIN=${STEEP_BUILD_DIR:-$PWD/build}/bin
. tests/lib/platform.sh
slots=${BENCH_SLOTS:-8}
[ -n "${BENCH_DURABLE_START:-}" ] && export PLATFORM_RESTARTS=1
platform_start 2 "$slots"
trap platform_stop EXIT
echo "platform: 2 execution nodes x $slots slots, $(nproc) cores"
pid_of() {
  "$STEEP" status --dir "$STEEP_DIR" --json | /usr/bin/python3 -c "import json,sys;print(next((s['pid'] for s in json.load(sys.stdin)['services'] if s['name']=='$1'),0))"
}
if [ -n "${BENCH_DURABLE_START:-}" ]; then
  printf '\n[scheduler]\ndurable_start = %s\n' "$BENCH_DURABLE_START" >>"$STEEP_DIR/steep.toml"
  log=$(ls "$STEEP_DIR"/logs/*scheduler*.log | head -1)
  seen=$(grep -c "durable starts" "$log" || true)
  kill "$(pid_of scheduler)"
  for _ in $(seq 100); do
    if [ "$(grep -c "durable starts" "$log" || true)" -gt "$seen" ]; then break; fi
    sleep 0.1
  done
  echo "scheduler restarted: $(grep -o 'durable starts [a-z]*' "$log" | tail -1)"
  sleep 2 # execution nodes find it again
fi
names="storage access-control authentication management scheduler frontend execution-1 execution-2"
pids=""
for name in $names; do
  pid=$(pid_of "$name")
  [ "$pid" != 0 ] && pids="$pids $name:$pid"
done
export BENCH_PIDS="$pids"
if command -v perf >/dev/null && perf stat -e syscalls:sys_enter_fdatasync -- true >/dev/null 2>&1; then
  export BENCH_SYNC_PID=$(pid_of storage)
else
  echo "perf with syscall tracepoints unavailable: synced writes not counted"
fi
"$STEEP_BIN/bench_e2e" --fsync "$STEEP_DIR/data" 300
"$STEEP_BIN/bench_e2e" "${BENCH_SECONDS:-10}" 1 32
echo "reference: Teaclave's executor polls every 3 s (mean pickup delay alone: 1500 ms)"
# Whether tasks found a pre-started runner ([execution] runner_pool) or
# had to start their own on their path, over the whole run.
for node in execution-1 execution-2; do
  "$STEEP" metrics --dir "$STEEP_DIR" "$node" 2>/dev/null |
    awk -v n="$node" '/^steep_runner_pool_tasks_total/ {
      match($0, /outcome="[a-z]+"/); o = substr($0, RSTART + 9, RLENGTH - 10); c[o] += $2 }
      END { printf "runner pool %s: %d tasks served by a pre-started runner, %d started their own\n",
                   n, c["served"], c["missed"] }'
done
for name in $names; do
  pid=$(pid_of "$name")
  [ "$pid" != 0 ] && printf 'idle RSS %-16s %6d KiB\n' "$name" "$(awk '/VmRSS/{print $2}' /proc/$pid/status)"
done
