#!/usr/bin/env bash
# Long polls (issue 14 item 7) against a real platform, as the issue made
# them: one user holds HOLDS concurrent GetTask calls with steep-wait-ms
# 5000 (on a task that never finishes: no executors) while another user's
# `steep function list` (a whole CLI call: process, attested TLS, frontend,
# authentication, access control, management) is timed before, during and
# after. Prints p50s with ratios to the same-run baseline, the held calls
# answered OK and refused RESOURCE_EXHAUSTED (the frontend's per-user
# limit, [frontend] max_holds_per_user), and the baseline / peak RSS and
# the threads during the attack of frontend, management and storage.
#
# A second round (the internal hops, management and storage) restarts the
# platform with [rpc] max_workers = WORKERS, so the 64 holds the frontend
# admits outnumber every service's handler threads: a hop that spent a
# thread per wait would stall the probe there.
#
#   longpoll.sh [HOLDS] [--workers N] [--test]
#     HOLDS: default 1100. --workers: the second round's ceiling (default
#     16; 0: no second round). --test: exit 1 unless the legitimate p50
#     stays within 2x (+ 20 ms) in each round and the holds beyond the
#     limit were refused.
# Called by run.sh; needs the build's steep binaries and rpc-attack.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export STEEP_BUILD_DIR=${STEEP_BUILD_DIR:-$root/build}
holds=1100 test=0 workers=16
while [ $# -gt 0 ]; do
  case $1 in --test) test=1 ;; --workers) workers=$2; shift ;; *) holds=$1 ;; esac
  shift
done
cd "$root"
. tests/lib/platform.sh
platform_start 0 1 >/dev/null
S=$STEEP_BIN/steep
$S user login admin --password teaclave >/dev/null
$S user register probe --role PlatformAdmin --password pw-probe --user admin >/dev/null
$S user login probe --password pw-probe >/dev/null
fid=$($S function register --user admin --name builtin-echo --executor-type builtin --overwritable-arg message)
tid=$($S task create --user admin --function "$fid" --executor builtin --args '{"message": "held"}')
token=$(cat "$(find "$STEEP_HOME/credentials" -type f -name admin | head -n 1)")
pid_of() { cat "$STEEP_DIR/run/$1.pid"; }
status_of() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$(pid_of "$1")/status"; }
rss() { status_of "$1" "$2" | awk '{printf "%.1f", $1 / 1024}'; }
p50() { # ms of `steep function list` as probe, median of 15
  local i t0 t1 times=()
  for i in $(seq 15); do
    t0=$(date +%s%N); $S function list --user probe >/dev/null; t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] / 1000}'
}
run_round() { # LABEL: one attack, measured and (--test) checked
  local s line attack_line ok exhausted base during after attack
  services="frontend management storage"
  declare -A base_rss during_threads
  for s in $services; do base_rss[$s]=$(rss "$s" VmRSS); done
  base=$(p50)
  connections=$(((holds + 249) / 250))
  "$STEEP_BIN/rpc-attack" hold --port $((PORT_BASE + 1)) --connections "$connections" \
    --streams $(((holds + connections - 1) / connections)) --hold-ms 9000 --get-task "$tid" \
    --meta id=admin --meta "token=$token" --meta steep-wait-ms=5000 >"$platform_tmp/attack.out" &
  attack=$!
  sleep 1.5
  for s in $services; do during_threads[$s]=$(status_of "$s" Threads); done
  during=$(p50)
  wait $attack
  after=$(p50)
  attack_line=$(cat "$platform_tmp/attack.out")
  line="longpoll ($1): $holds held GetTask by one user; probe p50 ms before $base during $during"
  line+=" (x$(awk -v a="$during" -v b="$base" 'BEGIN {printf "%.2f", a / b}')) after $after"
  line+=" (x$(awk -v a="$after" -v b="$base" 'BEGIN {printf "%.2f", a / b}'));"
  for s in $services; do
    line+=" $s RSS MiB ${base_rss[$s]} peak $(rss "$s" VmHWM) threads ${during_threads[$s]};"
  done
  echo "$line attack: $attack_line"
  if [ $test = 1 ]; then
    ok=$(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$attack_line")
    exhausted=$(sed -E 's/.* exhausted=([0-9]+).*/\1/' <<<"$attack_line")
    awk -v b="$base" -v d="$during" 'BEGIN {exit !(d <= 2 * b + 20)}' \
      || { echo "FAIL: probe p50 $during ms during vs $base ms before"; exit 1; }
    [ "$ok" -le 64 ] && [ $((ok + exhausted)) = "$holds" ] \
      || { echo "FAIL: $ok held and $exhausted refused of $holds (limit 64 per user)"; exit 1; }
    echo "ok longpoll ($1): p50 within 2x, $ok held, $exhausted refused RESOURCE_EXHAUSTED"
  fi
}
run_round "default workers"
if [ "$workers" -gt 0 ]; then
  $S down --dir "$STEEP_DIR" >/dev/null
  printf '\n[rpc]\nmax_workers = %d\n' "$workers" >>"$STEEP_DIR/steep.toml"
  $S up --dir "$STEEP_DIR" >/dev/null
  $S user login admin --password teaclave >/dev/null
  $S user login probe --password pw-probe >/dev/null
  token=$(cat "$(find "$STEEP_HOME/credentials" -type f -name admin | head -n 1)")
  run_round "max_workers $workers"
fi
