#!/usr/bin/env bash
# The supervisor of `steep up`: kill -9 of each process of a running
# platform → it is restarted within its backoff (logged with the signal),
# `steep status` shows its new pid, a restart and every service healthy
# again (gRPC health through the admin ports), and a builtin-echo task
# completes through the whole platform afterwards. A process that keeps
# dying is restarted with a doubling backoff and given up after the limit.
. "$(dirname "$0")/../lib/platform.sh"
PLATFORM_RESTARTS=3 platform_start 1 1
trap 'status=$?; [ $status = 0 ] || { platform_logs; cat "$STEEP_DIR/logs/supervisor.log" >&2; }; platform_stop; exit $status' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }
py=/usr/bin/python3
log=$STEEP_DIR/logs/supervisor.log

"$STEEP" user login admin --password teaclave >/dev/null
echo_fn=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin --overwritable-arg message)
echo_task() {  # MESSAGE: runs builtin-echo, prints its result
  local t; t=$("$STEEP" task create --user admin --function "$echo_fn" --args "{\"message\":\"$1\"}") || return 1
  "$STEEP" task invoke "$t" --user admin >/dev/null || return 1
  "$STEEP" task result "$t" --user admin --wait 30
}
# row NAME FIELD: a field of NAME's entry in `steep status --json`.
row() {
  "$STEEP" status --json | "$py" -c 'import json,sys
d=json.load(sys.stdin); e=[s for s in d["services"] if s["name"]==sys.argv[1]]
print(json.dumps(e[0].get(sys.argv[2])) if e else "none")' "$1" "$2"
}
# all_serving: every service and node reports SERVING in `steep status --json`.
all_serving() {
  "$STEEP" status --json | "$py" -c 'import json,sys
d=[s for s in json.load(sys.stdin)["services"] if s["name"] not in ("supervisor", "files")]
sys.exit(0 if len(d) == 7 and all(s.get("health") == "SERVING" for s in d) else 1)'
}
# back NAME OLD_PID: waits (5 s) until NAME runs again under another pid.
back() {
  local i
  for i in $(seq 100); do
    [ "$(row "$1" running)" = true ] && [ "$(row "$1" pid)" != "$2" ] && return 0
    sleep 0.05
  done
  return 1
}

[ "$(echo_task before)" = before ] && ok "a task completes on the fresh platform" || fail "first task"
for name in storage access-control authentication management scheduler frontend execution-1; do
  old=$(cat "$STEEP_DIR/run/$name.pid")
  started=$(date +%s%N)
  kill -9 -- "-$old"   # the process and its session (a node's sandboxes)
  if back "$name" "$old"; then
    ok "$name is back after kill -9 in $(( ($(date +%s%N) - started) / 1000000 )) ms (pid $old -> $(row "$name" pid))"
  else
    fail "$name is not back after kill -9" "$("$STEEP" status)"; continue
  fi
  grep -q "$name (pid $old) killed by signal 9 (Killed) after .* restarting in 250 ms" "$log" \
    && ok "the supervisor logged $name's death by signal 9" || fail "no log line for $name" "$(tail -5 "$log")"
  [ "$(row "$name" restarts)" = 1 ] && ok "status counts 1 restart of $name" || fail "$name restarts: $(row "$name" restarts)"
  # healthy again: it and what it calls answer health checks (the prober runs each second)
  for _ in $(seq 60); do all_serving && break; sleep 0.1; done
  all_serving && ok "every service is healthy again after $name restarted" \
    || fail "not healthy after $name restarted" "$("$STEEP" status)"
  out=$(echo_task "after $name") && [ "$out" = "after $name" ] \
    && ok "a builtin-echo task completes after $name restarted" || fail "task after $name restarted" "$out"
done
"$STEEP" status >/dev/null && ok "steep status: everything runs again" || fail "status" "$("$STEEP" status)"

# A process that keeps dying (each death within 30 s of its start counts in
# a row; execution-1 died once above): backoff 250, 500, 1000 ms, then given
# up at the limit of 3.
for attempt in 1 2 3; do
  old=$(cat "$STEEP_DIR/run/execution-1.pid")
  kill -9 -- "-$old"
  [ $attempt = 3 ] && break
  back execution-1 "$old" || fail "execution-1 not back after death $attempt"
done
for _ in $(seq 40); do grep -q "execution-1 (pid $old) .* not restarted" "$log" && break; sleep 0.05; done
grep -q "execution-1 (pid $old) killed by signal 9 (Killed) after .* not restarted (3 restarts in a row allowed)" "$log" \
  && ok "given up after 3 restarts in a row" || fail "not given up" "$(tail -5 "$log")"
delays=$(grep -o "execution-1 (pid [0-9]*) .* restarting in [0-9]* ms" "$log" | grep -o "[0-9]* ms" | tr '\n' ' ')
[ "$delays" = "250 ms 500 ms 1000 ms " ] && ok "backoff doubles: $delays" || fail "backoff: $delays"
sleep 1.2
[ "$(row execution-1 running)" = false ] && ok "a given-up process stays down" || fail "execution-1 came back"
"$STEEP" status >/dev/null && fail "status says everything runs" || ok "steep status reports it (exit 1)"
"$STEEP" down >/dev/null
[ -z "$(ls "$STEEP_DIR/run")" ] && ok "down stops the supervisor and everything" || fail "left in run/: $(ls "$STEEP_DIR/run")"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
