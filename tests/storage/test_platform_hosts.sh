#!/bin/bash
# Hosts, for real (issue 17 item 4, the platform): three "hosts" are network
# namespaces joined by veth links to a bridge in a fourth (the switch) on
# the private subnet 10.213.1.0/24, all made by this test and removed when
# it ends; nothing but these namespaces and loopback is ever contacted.
# Every host runs one etcd member and every service of the platform
# (storage, access control, authentication, management, scheduler,
# frontend, an execution node) with its host's address in its
# configuration, each service listing the other hosts' replicas
# (internal_endpoints.NAME.replica_addresses); the schedulers elect a
# leader through etcd. Host 1 starts first, so its scheduler leads. A
# two-party task (two data owners' inputs and approvals) runs through host
# 3's frontend; then a stream of echo tasks runs through host 3's frontend while host 1 dies
# whole (every process in its namespace killed -9, then its link down):
# the platform keeps serving through the other two hosts, every task ends
# terminal with its own result, each ran at most once over every host's
# execution log (a run cut short by host 1's death fails "Executor Timeout"
# and never runs again: durable starts, on with etcd; a claim host 1 never
# acknowledged runs once on another host), and tasks invoked
# after the death all Finish, and a two-party task runs on the two hosts
# left. Root only (ip netns).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/platform.sh"
. "$here/../lib/etcd.sh"
. "$here/../lib/hosts.sh"
[ "$(id -u)" = 0 ] || { echo "FAILED  test_platform_hosts needs root (network namespaces)"; exit 1; }
net=$HOSTS_NET
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }
die()  { fail "$@"; exit 1; }

# Keys, enclave_info, policies and a configuration from `steep up`; the
# loopback platform is stopped at once and only its files are used.
platform_start 1 2
trap 'status=$?; [ $status = 0 ] || for f in "$STEEP_DIR"/logs/h*-*.log; do echo "--- $f"; tail -n 15 "$f"; done >&2
      hosts_cleanup; platform_stop; exit $status' EXIT
"$STEEP" down --dir "$STEEP_DIR" >/dev/null
hosts_network || die "the network of three hosts"
hosts_etcd || die "the etcd cluster"
ok "three hosts, one etcd member each"
hosts_configs $'[scheduler]\nleader_lease_secs = 2\nexecutor_timeout_secs = 10' || die "the host configurations"
start_host() { hosts_start "$@"; }
cli() { hosts_cli "$@"; }
start_host 1
for _ in $(seq 100); do grep -q "scheduler: leading" "$STEEP_DIR/logs/h1-scheduler.log" 2>/dev/null && break; sleep 0.1; done
grep -q "scheduler: leading" "$STEEP_DIR/logs/h1-scheduler.log" && ok "host 1's scheduler leads" \
  || fail "host 1's scheduler leads" "$(tail -n 5 "$STEEP_DIR/logs/h1-scheduler.log")"
start_host 2
start_host 3

for _ in $(seq 60); do cli user login admin --password teaclave >/dev/null 2>&1 && break; sleep 0.5; done
out=$(cli user login admin --password teaclave 2>&1) && ok "the admin logs in through host 3" \
  || die "the admin logs in through host 3" "$out"
function=$(cli function register --user admin --name builtin-echo --executor-type builtin \
             --overwritable-arg message 2>&1) || die "a function is registered" "$function"
tasks=() messages=() after=()
start_task() { # N: create and invoke "task N"
  local task
  task=$(cli task create --user admin --function "$function" --executor builtin \
           --args "{\"message\":\"task $1\"}") || return 1
  cli task invoke "$task" --user admin >/dev/null || return 1
  tasks+=("$task") messages+=("task $1")
}
out=$(start_task 0 2>&1 && cli task result "${tasks[0]}" --user admin --wait 30 2>&1) || true
[ "$out" = "task 0" ] && ok "a task runs on the three hosts" || fail "a task runs on the three hosts" "$out"

# Multi-party: alice and bob each assign an input and approve; the file is
# read over file:// (the hosts share this file system, not a network).
for u in alice bob; do
  cli user register "$u" --role DataOwner --attribute "${u:0:1}" --password pw --user admin >/dev/null
  cli user login "$u" --password pw >/dev/null
done
two_fn=$(cli function register --user admin --name builtin-echo --executor-type builtin --public \
           --overwritable-arg message --input a --input b)
raw_url="file://$FILES_DIR/fixtures/functions/password_check/password.txt"
in_a=$(cli data input "$raw_url" --scheme raw --cmac 00000000000000000000000000000000 --user alice)
in_b=$(cli data input "$raw_url" --scheme raw --cmac 00000000000000000000000000000000 --user bob)
two_party() { # MESSAGE: prints the task id after invoking it
  local t
  t=$(cli task create --user alice --function "$two_fn" --args "{\"message\":\"$1\"}" \
        --input a=alice --input b=bob) || return 1
  cli task assign "$t" --input a="$in_a" --user alice >/dev/null && \
    cli task assign "$t" --input b="$in_b" --user bob >/dev/null && \
    cli task approve "$t" --user alice >/dev/null && cli task approve "$t" --user bob >/dev/null && \
    cli task invoke "$t" --user alice >/dev/null && echo "$t"
}
t=$(two_party "two parties" 2>&1) && out=$(cli task result "$t" --user bob --wait 30 2>&1) || out=$t
[ "$out" = "two parties" ] && ok "a two-party task runs on the three hosts" \
  || fail "a two-party task runs on the three hosts" "$out"

errors=""
for n in $(seq 1 20); do
  if [ "$n" = 6 ]; then
    # host 1 dies whole: every process in it, then its link
    hosts_kill 1
    killed=$SECONDS
  fi
  [ "$n" -lt 6 ] || after+=("task $n")
  start_task "$n" >>"$STEEP_DIR/logs/invoke.log" 2>&1 || errors+="task $n could not be invoked; "
done
[ -z "$errors" ] && ok "every task was accepted while host 1 died" \
  || fail "every task was accepted while host 1 died" "$errors
$(tail -n 5 "$STEEP_DIR/logs/invoke.log")"

bad="" not_finished=""
declare -A finished=()
for i in "${!tasks[@]}"; do
  out=$(cli task result "${tasks[$i]}" --user admin --wait 20 2>&1) || true
  [ "$out" = "${messages[$i]}" ] && finished[${tasks[$i]}]=1
  if [ "$out" != "${messages[$i]}" ]; then
    not_finished+="${tasks[$i]} (${messages[$i]}): $out; "
    # Terminal anyway: a task that ran on host 1 fails "Executor Timeout".
    grep -qi "executor timeout" <<<"$out" || bad+="${tasks[$i]} (${messages[$i]}): $out; "
    for a in ${after[@]+"${after[@]}"}; do
      [ "$a" = "${messages[$i]}" ] && bad+="${messages[$i]} was invoked after host 1 died: $out; "
    done
  fi
done
[ -z "$bad" ] && ok "every task is terminal; the ones invoked after the death Finished (${not_finished:-all Finished})" \
  || fail "every task is terminal; the ones invoked after the death Finished" "$bad"
t=$(two_party "two parties after" 2>&1) && out=$(cli task result "$t" --user bob --wait 20 2>&1) || out=$t
[ "$out" = "two parties after" ] && ok "a two-party task runs on the two hosts left" \
  || fail "a two-party task runs on the two hosts left" "$out"
# Once: no task runs twice over all three hosts, and every task that
# Finished ran somewhere. A run on host 1 that its death cut short (or
# whose result died with it) was acknowledged in its task record before it
# started ("started", durable starts: on with etcd), so the new leader fails
# it "Executor Timeout" instead of giving it back (recovery.c); only a claim
# host 1 never acknowledged is given back and runs on another host.
dups="" dead_runs=0
for t in "${tasks[@]}"; do
  id=${t#task-}
  alive=$(cat "$STEEP_DIR"/logs/h[23]-execution.log | grep -c "running task \(task-\)\?$id " || true)
  dead=$(grep -c "running task \(task-\)\?$id " "$STEEP_DIR/logs/h1-execution.log" || true)
  runs=$((alive + dead))
  [ "$runs" -le 1 ] || dups+="$t: $alive runs on hosts 2-3, $dead on host 1; "
  [ -z "${finished[$t]:-}" ] || [ "$runs" = 1 ] || dups+="$t Finished but ran $runs times; "
  dead_runs=$((dead_runs + dead))
done
[ -z "$dups" ] && ok "no task ran twice on any host, none ran again after host 1 died ($dead_runs ran on host 1)" \
  || fail "no task ran twice on any host" "$dups"
leaders=$(grep -l "scheduler: leading" "$STEEP_DIR"/logs/h[23]-scheduler.log 2>/dev/null | xargs -r -n1 basename | paste -sd, -)
[ -n "$leaders" ] && ok "a scheduler on another host took over ($leaders)" \
  || fail "a scheduler on another host took over"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
