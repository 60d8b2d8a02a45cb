#!/usr/bin/env bash
# Cluster benchmark (issue 17): durable Put/s and Get/s from 64 client
# threads on the storage engine, on the embedded LevelDB and on a
# three-member etcd cluster on this machine (tests/lib/etcd.sh: loopback,
# TLS, its own temporary data), with the etcd/LevelDB ratio of the same run.
# Then the time for a platform on that etcd back-end (steep up --backend
# etcd, three scheduler replicas: tests/lib/scheduler_replicas.sh) to serve
# again after the scheduler leader is killed -9: from the kill to the result
# of an echo task invoked right after it (budget 5 s), against the same
# task's round trip on the healthy platform (median of 5) as the reference.
# As root, then over three "hosts" (network namespaces, tests/lib/hosts.sh:
# every service on each, state on a three-member etcd, one member per
# host): echo tasks/s (bench_e2e from host 3, 16 clients) with execution
# nodes on 1 and then on 3 hosts (the hosts share this machine's cores),
# and the time to serve again after the scheduler leader's host (host 1)
# dies whole; then, on a fresh three-host platform where host 3's services
# use host 2's storage replica first, the time to serve again after host 2
# dies whole (budget 2 s): the first echo task that completes through host
# 3 after the death, retried while calls fail.
# Builds nothing; uses $STEEP_BUILD_DIR (default: build/).
# usage: bench/cluster/run.sh [seconds per figure (2)] [threads (64)]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${STEEP_BUILD_DIR:-$root/build}"
exe="$build/bin/bench_cluster"
seconds=${1:-2} threads=${2:-64}
[ -x "$exe" ] || { echo "bench/cluster: $exe not found; build first (make build)" >&2; exit 1; }
. "$root/tests/lib/etcd.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/steep-bench-cluster-XXXXXX")
trap 'etcd_cluster_stop; rm -rf "$work"' EXIT
leveldb=$("$exe" leveldb "$seconds" "$threads" "$work/leveldb")
etcd_cluster_start "$work/etcd" 3
export STEEP_TEST_ETCD_ENDPOINTS=$ETCD_ENDPOINTS STEEP_TEST_ETCD_CA=$ETCD_CA
export STEEP_TEST_ETCD_CERT=$ETCD_CERT STEEP_TEST_ETCD_KEY=$ETCD_KEY
etcd=$("$exe" etcd "$seconds" "$threads")
echo "$leveldb"
echo "etcd-3-members ${etcd#etcd }"
field() { sed -E "s/.*$1=([0-9]+).*/\1/" <<<"$2"; }
awk -v lp="$(field put_per_s "$leveldb")" -v lg="$(field get_per_s "$leveldb")" \
    -v ep="$(field put_per_s "$etcd")" -v eg="$(field get_per_s "$etcd")" \
    'BEGIN { printf "ratio etcd/leveldb: put %.3f get %.3f\n", ep / lp, eg / lg }'

# ---- the scheduler leader killed -9 ----
etcd_cluster_stop
(
  export STEEP_BUILD_DIR=$build STEEP_SHARED_DIR=${STEEP_SHARED_DIR:-$root/../shared}
  . "$root/tests/lib/platform.sh"
  . "$root/tests/lib/scheduler_replicas.sh"
  replica_pids=()
  PLATFORM_BACKEND=etcd platform_start 1 2 >/dev/null
  trap 'scheduler_replicas_stop; platform_stop' EXIT
  scheduler_replicas_start
  for _ in $(seq 100); do [ -n "$(scheduler_leader_log)" ] && break; sleep 0.1; done
  leader=$(scheduler_leader_log)
  [ "$(wc -w <<<"$leader")" = 1 ] || { echo "bench/cluster: no single scheduler leader" >&2; exit 1; }
  "$STEEP" user login admin --password teaclave >/dev/null
  function=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin \
               --overwritable-arg message)
  now_ms() { date +%s%3N; }
  echo_task() { # MESSAGE: create, invoke, wait for the result
    local task
    task=$("$STEEP" task create --user admin --function "$function" --executor builtin \
             --args "{\"message\":\"$1\"}")
    "$STEEP" task invoke "$task" --user admin >/dev/null
    [ "$("$STEEP" task result "$task" --user admin --wait 30)" = "$1" ]
  }
  trips=()
  for i in 1 2 3 4 5; do
    t=$(now_ms); echo_task "healthy $i"; trips+=($(( $(now_ms) - t )))
  done
  trip=$(printf '%s\n' "${trips[@]}" | sort -n | sed -n 3p)
  kill -9 "$(scheduler_leader_pid "$leader")"
  killed=$(now_ms)
  echo_task "after the kill"
  again=$(( $(now_ms) - killed ))
  new=$(scheduler_leader_log | grep -vxF "$leader" | xargs -r -n1 basename | paste -sd, -)
  echo "scheduler-leader-killed serve_again_ms=$again task_round_trip_ms=$trip budget_ms=5000 new_leader=${new:-none}"
  awk -v a="$again" -v t="$trip" 'BEGIN { printf "ratio serve-again/round-trip: %.1f\n", a / t }'
)

# ---- three hosts (root only) ----
if [ "$(id -u)" != 0 ]; then
  echo "hosts: not root, the three-host figures are skipped"
  exit 0
fi
(
  export STEEP_BUILD_DIR=$build STEEP_SHARED_DIR=${STEEP_SHARED_DIR:-$root/../shared}
  . "$root/tests/lib/platform.sh"
  . "$root/tests/lib/etcd.sh"
  . "$root/tests/lib/hosts.sh"
  platform_start 1 8 >/dev/null
  trap 'hosts_cleanup; platform_stop' EXIT
  "$STEEP" down --dir "$STEEP_DIR" >/dev/null
  hosts_network && hosts_etcd && hosts_configs $'[scheduler]\nleader_lease_secs = 2'
  hosts_start 1
  for _ in $(seq 100); do grep -q "scheduler: leading" "$STEEP_DIR/logs/h1-scheduler.log" && break; sleep 0.1; done
  for i in 2 3; do hosts_start "$i" storage access-control authentication management scheduler frontend; done
  port_base=$(sed -n 's/^port_base //p' "$STEEP_DIR/platform.state")
  e2e() { ip netns exec "${hosts[2]}" env STEEP_DIR="$STEEP_DIR" STEEP_AUTH_ADDRESS=localhost:$port_base \
            STEEP_FRONTEND_ADDRESS=localhost:$((port_base + 1)) "$STEEP_BIN/bench_e2e" "$seconds" 16 \
            | awk '$1 == 16 { print $2 }'; }
  for _ in $(seq 60); do hosts_cli user login admin --password teaclave >/dev/null 2>&1 && break; sleep 0.5; done
  one=$(e2e)
  hosts_start 2 execution
  hosts_start 3 execution
  sleep 2
  three=$(e2e)
  echo "hosts echo tasks/s: 1 execution host $one, 3 execution hosts $three (one machine's $(nproc) cores)"
  awk -v a="$one" -v b="$three" 'BEGIN { if (a > 0) printf "ratio 3 hosts/1 host: %.2f\n", b / a }'
  function=$(hosts_cli function register --user admin --name builtin-echo --executor-type builtin \
               --overwritable-arg message)
  now_ms() { date +%s%3N; }
  killed=$(now_ms)
  hosts_kill 1
  task=$(hosts_cli task create --user admin --function "$function" --executor builtin \
           --args '{"message":"after the host died"}')
  hosts_cli task invoke "$task" --user admin >/dev/null
  out=$(hosts_cli task result "$task" --user admin --wait 30)
  again=$(( $(now_ms) - killed ))
  [ "$out" = "after the host died" ] || { echo "hosts: the task after the kill: $out" >&2; exit 1; }
  echo "hosts scheduler-leader-host-killed serve_again_ms=$again budget_ms=5000"
)
(
  export STEEP_BUILD_DIR=$build STEEP_SHARED_DIR=${STEEP_SHARED_DIR:-$root/../shared}
  . "$root/tests/lib/platform.sh"
  . "$root/tests/lib/etcd.sh"
  . "$root/tests/lib/hosts.sh"
  platform_start 1 2 >/dev/null
  trap 'hosts_cleanup; platform_stop' EXIT
  "$STEEP" down --dir "$STEEP_DIR" >/dev/null
  hosts_network && hosts_etcd && hosts_configs $'[scheduler]\nleader_lease_secs = 2'
  # host 3's storage clients: host 2's replica first, then 3's, then 1's
  n=$HOSTS_NET
  sed -i "/^storage = {/ { s|https://$n.3:|@@|; s|https://$n.2:|https://$n.3:|; s|@@|https://$n.2:| }" \
    "$STEEP_DIR/host-3.toml"
  grep -q "^storage = .*advertised_address = \"https://$n.2:" "$STEEP_DIR/host-3.toml" \
    || { echo "hosts: could not point host 3 at host 2's storage" >&2; exit 1; }
  for i in 1 2 3; do hosts_start "$i"; done
  for _ in $(seq 60); do hosts_cli user login admin --password teaclave >/dev/null 2>&1 && break; sleep 0.5; done
  function=$(hosts_cli function register --user admin --name builtin-echo --executor-type builtin \
               --overwritable-arg message)
  echo_task() { # MESSAGE WAIT_S
    local task
    task=$(hosts_cli task create --user admin --function "$function" --executor builtin \
             --args "{\"message\":\"$1\"}" 2>/dev/null) || return 1
    hosts_cli task invoke "$task" --user admin >/dev/null 2>&1 || return 1
    [ "$(hosts_cli task result "$task" --user admin --wait "$2" 2>/dev/null)" = "$1" ]
  }
  echo_task warm 30 || { echo "hosts: no task ran before the storage host died" >&2; exit 1; }
  now_ms() { date +%s%3N; }
  killed=$(now_ms)
  hosts_kill 2
  served=0
  for attempt in $(seq 30); do
    if echo_task "after storage host $attempt" 10; then served=1; break; fi
  done
  again=$(( $(now_ms) - killed ))
  [ $served = 1 ] || { echo "hosts: no task ran after the storage host died" >&2; exit 1; }
  echo "hosts storage-replica-host-killed serve_again_ms=$again budget_ms=2000 attempts=$attempt"
)
