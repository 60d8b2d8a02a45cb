#!/usr/bin/env bash
# Management and scheduler through the public API, as several users, on a
# whole platform (steep up): single-party echo; two- and three-party tasks
# where invoke fails before the last approval and succeeds after; a fusion
# output; optional input, quota, allowlist, disable, delete; bad inputs through
# the frontend; cancel while Created, while queued and while running (the
# sandbox is killed, the node keeps serving); restart of every service
# mid-flow with nothing lost or duplicated; an execution node that dies
# mid-task -> Failed "Runtime Error: Executor Timeout" after the (short,
# configured) timeout.
. "$(dirname "$0")/../lib/platform.sh"
platform_start 1 2
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }
expect() {
  local name=$1 status=$2 pattern=$3; shift 4
  local out rc
  out=$("$@" 2>&1) && rc=0 || rc=$?
  if [ "$rc" = "$status" ] && grep -qE "$pattern" <<<"$out"; then ok "$name"; else
    fail "$name (exit $rc, wanted $status /$pattern/)" "$out"; fi
}
json_field() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get(sys.argv[1], ""))' "$1"; }
status_of() { "$STEEP" task get "$1" --user "$2" --json | json_field status; }
# wait_status TASK USER STATUS SECONDS: polls until the status is reached.
wait_status() {
  local deadline=$((SECONDS + $4)) s
  while :; do
    s=$(status_of "$1" "$2")
    [ "$s" = "$3" ] && return 0
    [ $SECONDS -ge $deadline ] && { echo "status $s, wanted $3" >&2; return 1; }
    sleep 0.1
  done
}

# The RPC surfaces of scheduler and management, called as their peers.
if out=$("$STEEP_BIN/rpc_checks" 2>&1); then ok "rpc checks: $(grep -c '^ok' <<<"$out") calls"; else
  fail "rpc checks" "$out"; fi
"$STEEP" user login admin --password teaclave >/dev/null
for u in alice:a bob:b carol:c; do
  "$STEEP" user register "${u%%:*}" --role DataOwner --attribute "${u##*:}" --password pw --user admin >/dev/null
  "$STEEP" user login "${u%%:*}" --password pw >/dev/null
done
"$STEEP" user register fo --role FunctionOwner --password pw --user admin >/dev/null
"$STEEP" user login fo --password pw >/dev/null

# ---- single party ----
echo_fn=$("$STEEP" function register --user fo --name builtin-echo --executor-type builtin --public --overwritable-arg message)
t1=$("$STEEP" task create --user alice --function "$echo_fn" --args '{"message":"hello steep"}')
expect "single party: invoke without approval"  0 "" -- "$STEEP" task invoke "$t1" --user alice
expect "single party: result"                   0 "^hello steep$" -- "$STEEP" task result "$t1" --user alice --wait 20
expect "single party: Finished"                 0 "^Finished$" -- status_of "$t1" alice

# ---- two parties: invoke fails before the second approval ----
raw_url="$FILES_URL/fixtures/functions/password_check/password.txt"
two_fn=$("$STEEP" function register --user fo --name builtin-echo --executor-type builtin --public \
  --overwritable-arg message --input a --input b)
in_a=$("$STEEP" data input "$raw_url" --scheme raw --cmac 00000000000000000000000000000000 --user alice)
in_b=$("$STEEP" data input "$raw_url" --scheme raw --cmac 00000000000000000000000000000000 --user bob)
t2=$("$STEEP" task create --user alice --function "$two_fn" --args '{"message":"two"}' --input a=alice --input b=bob)
expect "two parties: bob may not assign alice's file" 1 "PERMISSION_DENIED" -- "$STEEP" task assign "$t2" --input a="$in_a" --user bob
expect "two parties: carol is no participant"   1 "PERMISSION_DENIED" -- "$STEEP" task get "$t2" --user carol
"$STEEP" task assign "$t2" --input a="$in_a" --user alice >/dev/null
expect "two parties: approve before all data"   1 "failed to approve task" -- "$STEEP" task approve "$t2" --user alice
"$STEEP" task assign "$t2" --input b="$in_b" --user bob >/dev/null
"$STEEP" task approve "$t2" --user alice >/dev/null
expect "two parties: approving twice"           1 "failed to approve task" -- "$STEEP" task approve "$t2" --user alice
expect "two parties: invoke before bob approved" 1 "failed to invoke task" -- "$STEEP" task invoke "$t2" --user alice
expect "two parties: state unchanged"           0 "^DataAssigned$" -- status_of "$t2" bob
"$STEEP" task approve "$t2" --user bob >/dev/null
expect "two parties: only the creator invokes"  1 "PERMISSION_DENIED" -- "$STEEP" task invoke "$t2" --user bob
expect "two parties: invoke after both approved" 0 "" -- "$STEEP" task invoke "$t2" --user alice
expect "two parties: result"                    0 "^two$" -- "$STEEP" task result "$t2" --user bob --wait 20

# ---- three parties; a fusion output ----
three_fn=$("$STEEP" function register --user fo --name builtin-echo --executor-type builtin --public \
  --overwritable-arg message --input a --input b --input c)
in_c=$("$STEEP" data input "$raw_url" --scheme raw --cmac 00000000000000000000000000000000 --user carol)
t3p=$("$STEEP" task create --user bob --function "$three_fn" --args '{"message":"three"}' \
  --input a=alice --input b=bob --input c=carol)
"$STEEP" task assign "$t3p" --input a="$in_a" --user alice >/dev/null
"$STEEP" task assign "$t3p" --input b="$in_b" --user bob >/dev/null
"$STEEP" task assign "$t3p" --input c="$in_c" --user carol >/dev/null
"$STEEP" task approve "$t3p" --user alice >/dev/null
"$STEEP" task approve "$t3p" --user bob >/dev/null
expect "three parties: invoke before carol approved" 1 "failed to invoke task" -- "$STEEP" task invoke "$t3p" --user bob
"$STEEP" task approve "$t3p" --user carol >/dev/null
"$STEEP" task invoke "$t3p" --user bob >/dev/null
expect "three parties: result"       0 "^three$" -- "$STEEP" task result "$t3p" --user carol --wait 20
fused=$("$STEEP" data fusion --owner alice --owner bob --user alice)
expect "fusion output needs the caller among its owners" 1 "PERMISSION_DENIED" -- "$STEEP" data fusion --owner alice --owner bob --user carol
expect "no input from an output not yet written" 1 "invalid output file" -- "$STEEP" data from-output "$fused" --user bob
expect "fusion output owners"        0 "alice" -- "$STEEP" data get "$fused" --user bob

# ---- optional input, quota, disable and delete ----
opt_fn=$("$STEEP" function register --user fo --name builtin-echo --executor-type builtin --public \
  --overwritable-arg message --input a --input extra:optional --quota 1)
t_opt=$("$STEEP" task create --user alice --function "$opt_fn" --args '{"message":"optional"}' --input a=alice)
"$STEEP" task assign "$t_opt" --input a="$in_a" --user alice >/dev/null
"$STEEP" task invoke "$t_opt" --user alice >/dev/null
expect "optional input left out"     0 "^optional$" -- "$STEEP" task result "$t_opt" --user alice --wait 20
t_quota=$("$STEEP" task create --user alice --function "$opt_fn" --args '{"message":"again"}' --input a=alice)
"$STEEP" task assign "$t_quota" --input a="$in_a" --user alice >/dev/null
expect "quota used up"               1 "function quota has been used up" -- "$STEEP" task invoke "$t_quota" --user alice
expect "usage stats"                 0 "1" -- "$STEEP" function usage "$opt_fn" --user alice
private_fn=$("$STEEP" function register --user fo --name builtin-echo --executor-type builtin --allow bob)
expect "allow-listed user sees it"   0 "$private_fn" -- "$STEEP" function list --user bob
expect "others may not read it"      1 "PERMISSION_DENIED" -- "$STEEP" function get "$private_fn" --user carol
"$STEEP" function disable "$private_fn" --user fo >/dev/null
if "$STEEP" function list --user bob | grep -q "$private_fn"; then fail "disabled function still listed"; else ok "disabled function no longer listed"; fi
"$STEEP" function delete "$opt_fn" --user fo >/dev/null
expect "deleted function is gone"    1 "invalid function id" -- "$STEEP" function get "$opt_fn" --user alice

# ---- bad input through the frontend ----
expect "malformed task id"        1 "invalid task id" -- "$STEEP" task get task-123 --user alice
expect "wrong prefix"             1 "invalid task id" -- "$STEEP" task approve "${in_a/input-/task-}" --user alice
expect "arguments not matching"   1 "invalid task" -- "$STEEP" task create --user alice --function "$echo_fn" --args '{"msg":"x"}'
expect "undeclared data name"     1 "invalid task" -- "$STEEP" task create --user alice --function "$two_fn" --args '{"message":"x"}' --input a=alice --input b=bob --input c=carol

# ---- cancel: created, queued/running ----
t3=$("$STEEP" task create --user alice --function "$echo_fn" --args '{"message":"x"}')
expect "cancel Created"           0 "" -- "$STEEP" task cancel "$t3" --user alice
expect "canceled at once"         1 "Task canceled" -- "$STEEP" task result "$t3" --user alice
expect "cancel terminal"          1 "failed to cancel task, reason" -- "$STEEP" task cancel "$t3" --user alice
sleep_fn=$("$STEEP" function register --user fo --name test-sleep --executor-type builtin --public --overwritable-arg ms)
t4=$("$STEEP" task create --user alice --function "$sleep_fn" --args '{"ms":60000}')
"$STEEP" task invoke "$t4" --user alice >/dev/null
wait_status "$t4" alice Running 20 && ok "sleeping task runs" || fail "sleeping task runs"
expect "bob may not cancel"       1 "PERMISSION_DENIED" -- "$STEEP" task cancel "$t4" --user bob
start=$(date +%s%N)
"$STEEP" task cancel "$t4" --user alice >/dev/null
wait_status "$t4" alice Canceled 5 && ok "running task Canceled" || fail "running task Canceled"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -lt 1500 ] && ok "canceled within a second ($elapsed_ms ms)" || fail "cancel took $elapsed_ms ms"
expect "cancel reason"            1 "Task Canceled by the user" -- "$STEEP" task result "$t4" --user alice
for _ in $(seq 30); do grep -q "scheduler says Stop" "$STEEP_DIR"/logs/execution-1.log && break; sleep 0.1; done
grep -q "scheduler says Stop" "$STEEP_DIR"/logs/execution-1.log && ok "the slot got Stop and killed the sandbox" \
  || fail "no Stop reached the slot"
t5=$("$STEEP" task create --user alice --function "$echo_fn" --args '{"message":"after cancel"}')
"$STEEP" task invoke "$t5" --user alice >/dev/null
expect "the node keeps serving after a cancel" 0 "^after cancel$" -- "$STEEP" task result "$t5" --user alice --wait 20

# ---- restart of every service mid-flow ----
restart() {
  "$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" --executors 1 --slots 2 >/dev/null 2>&1
}
kill_node() { kill -9 -- "-$(cat "$STEEP_DIR/run/execution-1.pid")"; }   # the node and its sandboxes
t6=$("$STEEP" task create --user alice --function "$two_fn" --args '{"message":"restarted"}' --input a=alice --input b=bob)
"$STEEP" task assign "$t6" --input a="$in_a" --user alice >/dev/null
restart && ok "restart 1 (between two assignments)" || fail "restart 1"
"$STEEP" task assign "$t6" --input b="$in_b" --user bob >/dev/null
"$STEEP" task approve "$t6" --user alice >/dev/null
"$STEEP" task approve "$t6" --user bob >/dev/null
"$STEEP" task invoke "$t6" --user alice >/dev/null
expect "two-party task across a restart"   0 "^restarted$" -- "$STEEP" task result "$t6" --user bob --wait 20
t8=$("$STEEP" task create --user alice --function "$echo_fn" --args '{"message":"staged across restart"}')
# Nobody to run it: it waits Staged. (Not kill -9 of the node: the
# supervisor would start it again within 250 ms and it would run the task.)
"$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" --executors 0 >/dev/null 2>&1 \
  && ok "restart without execution nodes" || fail "restart without execution nodes"
"$STEEP" task invoke "$t8" --user alice >/dev/null
sleep 0.5
expect "staged while no node runs" 0 "^Staged$" -- status_of "$t8" alice
restart && ok "restart 2 (task staged)" || fail "restart 2"
expect "staged task survives the restart"  0 "^staged across restart$" -- "$STEEP" task result "$t8" --user alice --wait 20
runs=$(cat "$STEEP_DIR"/logs/execution-*.log | grep -c "running task ${t8#task-}" || true)
[ "$runs" = 1 ] && ok "ran exactly once" || fail "ran $runs times"

# ---- an execution node dies mid-task ----
printf '\n[scheduler]\nexecutor_timeout_secs = 2\n' >>"$STEEP_DIR/steep.toml"
restart && ok "restart with a 2 s executor timeout" || fail "restart 3"
t7=$("$STEEP" task create --user alice --function "$sleep_fn" --args '{"ms":60000}')
"$STEEP" task invoke "$t7" --user alice >/dev/null
wait_status "$t7" alice Running 20 || true
kill_node
wait_status "$t7" alice Failed 10 && ok "dead node's task Failed" || fail "dead node's task Failed"
expect "timeout reason"           1 "Runtime Error: Executor Timeout" -- "$STEEP" task result "$t7" --user alice

# No sanitizer report from the services under test (ASan builds).
if grep -lE "AddressSanitizer|LeakSanitizer|runtime error:" "$STEEP_DIR"/logs/management.log \
     "$STEEP_DIR"/logs/scheduler.log >/dev/null 2>&1; then
  fail "sanitizer report in the management or scheduler log" \
    "$(grep -hE -A5 "AddressSanitizer|LeakSanitizer|runtime error:" "$STEEP_DIR"/logs/{management,scheduler}.log | head -40)"
else ok "no sanitizer report from management or scheduler"; fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
