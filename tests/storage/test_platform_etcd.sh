#!/usr/bin/env bash
# A platform on etcd (steep up --backend etcd: a local three-member etcd
# cluster, the storage service on it): a task runs end to end through the
# frontend; etcd holds the platform's records sealed (key names only, no
# plaintext); with one etcd member killed (-9) the platform keeps serving
# (quorum of two, the client fails over) and a second task runs; with two
# killed the storage service answers UNAVAILABLE (management still turns it
# into INTERNAL for its own callers), and once one is back tasks run again;
# after a restart of every process the state is still there.
. "$(dirname "$0")/../lib/platform.sh"
PLATFORM_BACKEND=etcd platform_start 1 2
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }
etcdctl_() {
  ETCDCTL_API=3 /usr/bin/etcdctl --endpoints="https://127.0.0.1:$((PORT_BASE + 10010)),https://127.0.0.1:$((PORT_BASE + 10012))" \
    --cacert "$STEEP_DIR/etcd/ca.pem" --cert "$STEEP_DIR/etcd/client.pem" \
    --key "$STEEP_DIR/etcd/client.key" --command-timeout=5s "$@"
}
run_echo() { # MESSAGE -> prints the result
  local function task
  function=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin \
               --overwritable-arg message)
  task=$("$STEEP" task create --user admin --function "$function" --executor builtin \
           --args "{\"message\":\"$1\"}")
  "$STEEP" task invoke "$task" --user admin >/dev/null
  "$STEEP" task result "$task" --user admin --wait 30
  echo "$task" >"$platform_tmp/last-task"
}

grep -q 'backend = "etcd"' "$STEEP_DIR/steep.toml" && ok "steep.toml names the etcd back-end" \
  || fail "steep.toml names the etcd back-end" "$(cat "$STEEP_DIR/steep.toml")"
"$STEEP" user login admin --password teaclave >/dev/null
out=$(run_echo "hello from etcd" 2>&1)
[ "$out" = "hello from etcd" ] && ok "a task runs end to end on etcd" \
  || fail "a task runs end to end on etcd" "$out"

task=$(cat "$platform_tmp/last-task")
keys=$(etcdctl_ get --prefix steep/storage/ --keys-only 2>&1)
grep -q "^steep/storage/u$task\$" <<<"$keys" && ok "the task record is in etcd" \
  || fail "the task record is in etcd" "$keys"
etcdctl_ get --prefix steep/ --print-value-only >"$platform_tmp/values" 2>&1
if [ -s "$platform_tmp/values" ] && ! grep -aq "hello from etcd\|builtin-echo" "$platform_tmp/values"; then
  ok "etcd holds only sealed values"
else
  fail "etcd holds only sealed values" "$(grep -ac "hello from etcd\|builtin-echo" "$platform_tmp/values") plaintext hits"
fi

kill -9 "$(cat "$STEEP_DIR/run/etcd-1.pid")"
out=$(run_echo "one member down" 2>&1)
[ "$out" = "one member down" ] && ok "with one etcd member killed a task still runs" \
  || fail "with one etcd member killed a task still runs" "$out"

# Quorum lost (two of three members down): a clear UNAVAILABLE, then the
# platform serves again once a member is back (the restarted member is
# recorded in DIR/run so `steep down` stops it).
kill -9 "$(cat "$STEEP_DIR/run/etcd-2.pid")"
out=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin 2>&1) \
  && rc=0 || rc=$?
# The storage service answers UNAVAILABLE (management, its caller, decides
# what its own callers see).
if [ $rc != 0 ] && grep -qE "storage (Put|Batch): UNAVAILABLE" "$STEEP_DIR/logs/management.log"; then
  ok "without etcd quorum the storage service answers UNAVAILABLE"
else
  fail "without etcd quorum the storage service answers UNAVAILABLE (exit $rc)" "$out
$(grep -i 'unavailable' "$STEEP_DIR/logs/storage.log" | tail -n 2)"
fi
(cd "$STEEP_DIR" && exec setsid /usr/bin/etcd --config-file "$STEEP_DIR/etcd/etcd-2.yaml" \
   >>"$STEEP_DIR/logs/etcd-2.log" 2>&1 </dev/null) &
echo $! >"$STEEP_DIR/run/etcd-2.pid"
for _ in $(seq 50); do etcdctl_ endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
out=$(run_echo "quorum is back" 2>&1)
[ "$out" = "quorum is back" ] && ok "once quorum is back the platform serves again" \
  || fail "once quorum is back the platform serves again" "$out"

"$STEEP" down --dir "$STEEP_DIR" >/dev/null
"$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" >/dev/null 2>&1 \
  || fail "the platform restarts on its etcd state" "$(tail -n 5 "$STEEP_DIR/logs/supervisor.log")"
out=$("$STEEP" task result "$task" --user admin 2>&1)
[ "$out" = "hello from etcd" ] && ok "after a restart the first task's result is still there" \
  || fail "after a restart the first task's result is still there" "$out"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
