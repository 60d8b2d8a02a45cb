#!/usr/bin/env bash
# The execution service inside a real platform (steep up: every service,
# two execution nodes with one slot each, the real scheduler): a hostile
# function fails only its own task with the sandbox's reason, cancel kills
# the running task, and kill -9 of a node mid-task leaves the other node
# serving while the scheduler fails the lost task after its executor
# timeout (shortened to 3 s here).
. "$(dirname "$0")/../lib/platform.sh"
platform_start 2 1
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
# Restart once with a short executor timeout (the config is kept on restart).
"$STEEP" down --dir "$STEEP_DIR" >/dev/null
config=$STEEP_DIR/steep.toml
printf '\n[scheduler]\nexecutor_timeout_secs = 3\n' >> "$config"
"$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" >/dev/null
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

"$STEEP" user login admin --password teaclave >/dev/null
register() { # NAME [overwritable args...]
  local name=$1; shift
  local args=() a
  for a in "$@"; do args+=(--overwritable-arg "$a"); done
  "$STEEP" function register --user admin --name "$name" --executor-type builtin "${args[@]}"
}
start_task() { # FUNCTION_ID ARGS_JSON -> task id
  local task
  task=$("$STEEP" task create --user admin --function "$1" --executor builtin --args "$2")
  "$STEEP" task invoke "$task" --user admin >/dev/null
  echo "$task"
}
# expect_result NAME TASK STATUS PATTERN: `steep task result --wait` status and text.
expect_result() {
  local out rc
  out=$("$STEEP" task result "$2" --user admin --wait 30 2>&1) && rc=0 || rc=$?
  if [ "$rc" = "$3" ] && grep -qE "$4" <<<"$out"; then ok "$1"; else
    fail "$1 (exit $rc, wanted $3 /$4/)" "$out"; fi
}
# The execution node log that mentions the task (its uuid), or nothing.
node_running() {
  local uuid=${1#task-} log
  for log in "$STEEP_DIR"/logs/execution-*.log; do
    grep -q "running task $uuid" "$log" && { basename "$log" .log; return 0; }
  done
  return 1
}
wait_running() { # TASK -> node name
  local i
  for i in $(seq 100); do node_running "$1" && return 0; sleep 0.1; done
  return 1
}

echo_id=$(register builtin-echo message)
crash_id=$(register test-crash)
sleep_id=$(register test-sleep ms)

# A crashing function fails its own task; the platform carries on.
crash=$(start_task "$crash_id" '{}')
expect_result "crash fails its task with the signal" "$crash" 1 "function crashed: signal 11 \(SIGSEGV\)"
echo_task=$(start_task "$echo_id" '{"message": "after the crash"}')
expect_result "echo after a crash" "$echo_task" 0 "^after the crash$"

# Cancel of a running task: the heartbeat Stop kills only that process.
sleeper=$(start_task "$sleep_id" '{"ms": 60000}')
if node=$(wait_running "$sleeper"); then
  started=$(date +%s)
  "$STEEP" task cancel "$sleeper" --user admin >/dev/null
  expect_result "cancel ends the running task" "$sleeper" 1 "[Cc]ancel"
  [ $(($(date +%s) - started)) -lt 20 ] && ok "cancel is prompt" || fail "cancel took too long"
else
  fail "sleeping task never ran"
fi

# kill -9 of the node running a task; the other node keeps serving.
sleeper=$(start_task "$sleep_id" '{"ms": 60000}')
if node=$(wait_running "$sleeper"); then
  pid=$(cat "$STEEP_DIR/run/$node.pid")
  kill -9 "$pid"
  expect_result "a task lost with its node fails after the executor timeout" "$sleeper" 1 \
    "Executor Timeout"
  echo_task=$(start_task "$echo_id" '{"message": "still serving"}')
  expect_result "the other node keeps serving" "$echo_task" 0 "^still serving$"
else
  fail "sleeping task never ran"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
