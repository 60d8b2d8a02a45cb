#!/usr/bin/env bash
# What steep-execution.service allows is enough for the sandbox: a platform
# without execution nodes is started, then one node is started by hand the
# way its unit confines it, with setpriv: the capability bounding set read
# from packaging/systemd/steep-execution.service.in (so the unit and this
# test cannot drift) and no_new_privs. The node's CapBnd and NoNewPrivs are
# checked in /proc, then a builtin-echo task completes and a crashing test
# function fails with the sandbox's reason.
. "$(dirname "$0")/../lib/platform.sh"
unit=${STEEP_SOURCE_DIR:?}/packaging/systemd/steep-execution.service.in
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ -n "$caps" ] || { echo "no CapabilityBoundingSet in $unit"; exit 1; }
grep -qx "NoNewPrivileges=yes" "$unit" || { echo "the unit no longer sets NoNewPrivileges"; exit 1; }
bounding=-all
for c in $caps; do bounding="$bounding,+$(tr '[:upper:]' '[:lower:]' <<<"${c#CAP_}")"; done
platform_start 0 1
node_pid=""
trap 'status=$?; [ $status = 0 ] || platform_logs; [ -z "$node_pid" ] || kill "$node_pid" 2>/dev/null;
      platform_stop; exit $status' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

setpriv --bounding-set "$bounding" --inh-caps -all --no-new-privs \
  "$STEEP_BIN/steep-execution" --config "$STEEP_DIR/steep.toml" >"$STEEP_DIR/logs/confined-node.log" 2>&1 &
node_pid=$!
for _ in $(seq 100); do grep -q "serving scheduler" "$STEEP_DIR/logs/confined-node.log" && break; sleep 0.1; done

# The kernel's view of the node: exactly the unit's bound, no new privileges.
want=0
for c in $caps; do
  n=$(grep -E "^#define ${c}[[:space:]]" /usr/include/linux/capability.h | awk '{print $3}')
  [ -n "$n" ] || { fail "unknown capability $c"; continue; }
  want=$((want | (1 << n)))
done
got=$((16#$(awk '/^CapBnd:/ {print $2}' "/proc/$node_pid/status")))
[ "$got" = "$want" ] && ok "the node's bounding set is the unit's ($caps)" \
  || fail "CapBnd $(printf %x "$got"), wanted $(printf %x "$want")"
[ "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$node_pid/status")" = 1 ] && ok "no_new_privs set" \
  || fail "no_new_privs not set"

"$STEEP" user login admin --password teaclave >/dev/null
run() { # NAME ARGS_JSON [overwritable arg] -> "rc output"
  local fid task out rc
  fid=$("$STEEP" function register --user admin --name "$1" --executor-type builtin ${3:+--overwritable-arg "$3"})
  task=$("$STEEP" task create --user admin --function "$fid" --executor builtin --args "$2")
  "$STEEP" task invoke "$task" --user admin >/dev/null
  out=$("$STEEP" task result "$task" --user admin --wait 30 2>&1) && rc=0 || rc=$?
  echo "$rc $out"
}
out=$(run builtin-echo '{"message": "confined"}' message)
[ "$out" = "0 confined" ] && ok "builtin-echo on the confined node" || fail "echo" "$out"
out=$(run test-crash '{}')
grep -q "^1 .*function crashed: signal 11" <<<"$out" && ok "a crashing function fails only its task" \
  || fail "test-crash" "$out"
# While a task runs, its runner (a descendant of the node) is shut in: its
# own network, mount, PID and user namespaces... at least network and mount
# (the user namespace can be turned off for tests), and a root without the
# host's files.
descendants() { local c; for c in $(ps -o pid= --ppid "$1"); do echo "$c"; descendants "$c"; done; }
fid=$("$STEEP" function register --user admin --name test-sleep --executor-type builtin --overwritable-arg ms)
task=$("$STEEP" task create --user admin --function "$fid" --executor builtin --args '{"ms": 6000}')
"$STEEP" task invoke "$task" --user admin >/dev/null
node_net=$(readlink "/proc/$node_pid/ns/net") node_mnt=$(readlink "/proc/$node_pid/ns/mnt")
runner="" seen=""
for _ in $(seq 100); do
  for p in $(descendants "$node_pid"); do
    [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$STEEP_BIN/steep-task-runner" ] || continue
    seen="$seen $p"
    net=$(readlink "/proc/$p/ns/net" 2>/dev/null || true) mnt=$(readlink "/proc/$p/ns/mnt" 2>/dev/null || true)
    if [ -n "$net" ] && [ "$net" != "$node_net" ] && [ -n "$mnt" ] && [ "$mnt" != "$node_mnt" ]; then
      runner=$p; break
    fi
  done
  [ -n "$runner" ] && break
  sleep 0.1
done
if [ -n "$runner" ]; then
  ok "the runner has its own network and mount namespaces"
  if [ -e /etc/passwd ] && [ -d "/proc/$runner/root/" ] && [ ! -e "/proc/$runner/root/etc/passwd" ]; then
    ok "the runner's root is not the host's"
  else
    fail "runner root" "$(ls "/proc/$runner/root/" 2>&1 | head)"
  fi
else
  fail "no confined runner under the node (runners seen:${seen:- none})" "$(for p in $(descendants "$node_pid"); do
    echo "$p $(readlink "/proc/$p/exe" 2>&1) $(readlink "/proc/$p/ns/net" 2>&1)"; done)"
fi
"$STEEP" task result "$task" --user admin --wait 30 >/dev/null || fail "the sleeping task did not complete"
kill "$node_pid" && wait "$node_pid" 2>/dev/null && rc=0 || rc=$?
node_pid=""
[ "$rc" = 0 ] && ok "the node stops cleanly on SIGTERM" || fail "node exit status $rc"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
