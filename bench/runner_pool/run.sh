#!/usr/bin/env bash
# Pre-started runners (issue 15 item 2, [execution] runner_pool) on a whole
# platform: bench/e2e's builtin-echo create -> result p50/p99 at 1 client
# and tasks/s at 32 clients, with the pool off (runner_pool = 0, every task
# starts its runner) and on (runner_pool = POOL), interleaved on one
# platform directory restarted between rounds, so the ratios are same-run.
#   BENCH_SECONDS (8 per level), BENCH_ROUNDS (2), BENCH_POOLS ("0 2"), BENCH_SLOTS (8)
set -euo pipefail
cd "$(dirname "$0")/../.."
export STEEP_BIN=${STEEP_BUILD_DIR:-$PWD/build}/bin
. tests/lib/platform.sh
slots=${BENCH_SLOTS:-8}
pools=${BENCH_POOLS:-"0 2"}
platform_start 2 "$slots"
conf=$STEEP_DIR/steep.toml
restart_with() {
  "$STEEP" down --dir "$STEEP_DIR" > /dev/null
  sed -i '/^runner_pool = /d' "$conf"
  echo "runner_pool = $1" >> "$conf" # [execution] is the file's last section
  "$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --executors 2 --slots "$slots" \
    --port-base "$PORT_BASE" --files-port "$FILES_PORT" --restarts 0 --insecure-test-payloads \
    > "$STEEP_DIR/up-again.log" 2>&1 || { cat "$STEEP_DIR/up-again.log" >&2; exit 1; }
}
echo "platform: 2 execution nodes x $slots slots, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for round in $(seq "${BENCH_ROUNDS:-2}"); do
  for pool in $pools; do
    restart_with "$pool"
    sleep 1 # the pools fill
    "$STEEP_BIN/bench_e2e" "${BENCH_SECONDS:-8}" 1 32 |
      awk -v p="$pool" -v r="$round" '$1 == 1 || $1 == 32 {print r, p, $1, $2, $3, $4}' >> "$out"
  done
done
# Memory of the idle pre-started runners of one node (the last pool size),
# once the pool is full again: each runner is a child of the node in its own
# PID namespace (two NSpid entries; the Python zygote has one) and its worker.
sleep 2
node=$("$STEEP" status --dir "$STEEP_DIR" --json | /usr/bin/python3 -c \
  "import json,sys;print(next(s['pid'] for s in json.load(sys.stdin)['services'] if s['name']=='execution-1'))")
for kind in task-runner python-runner; do
  pss=0 count=0
  for child in $(pgrep -P "$node"); do
    grep -q "steep-$kind" "/proc/$child/cmdline" 2>/dev/null || continue
    [ "$(awk '/^NSpid:/ {print NF - 1}' "/proc/$child/status")" = 2 ] || continue
    count=$((count + 1))
    for p in $child $(pgrep -P "$child"); do
      kb=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
      pss=$((pss + ${kb:-0}))
    done
  done
  echo "idle pre-started steep-$kind runners of execution-1 (runner_pool = ${pools##* }):" \
    "$count, PSS $pss KiB in all (supervisor + worker each)"
done
echo "round runner_pool clients tasks/s p50_ms p99_ms"
cat "$out"
# Same-run ratios of the medians over rounds: pool on / pool off.
awk 'function med(a, n,  i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
       if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } return a[int((n + 1) / 2)] }
     { k = $2 " " $3; n[k]++; tps[k, n[k]] = $4; p50[k, n[k]] = $5 }
     END { for (k in n) { split("", a); split("", b)
             for (i = 1; i <= n[k]; i++) { a[i] = tps[k, i]; b[i] = p50[k, i] }
             mt[k] = med(a, n[k]); mp[k] = med(b, n[k])
             printf "median (lower middle) runner_pool %s clients %s: %.1f tasks/s, p50 %.2f ms\n", \
               substr(k, 1, index(k, " ") - 1), substr(k, index(k, " ") + 1), mt[k], mp[k] }
           for (k in n) { split(k, f, " "); if (f[1] != 0 && (("0 " f[2]) in n))
             printf "ratio pool %s / pool 0 at %s clients: p50 %.2f, tasks/s %.2f\n", f[1], f[2], \
               mp[k] / mp["0 " f[2]], mt[k] / mt["0 " f[2]] } }' "$out" | sort
