#!/usr/bin/env bash
# Durability: populate through the public API, kill -9 every process of the
# platform, lower the scheduler's executor timeout, `steep up` again, verify.
# Runs inside run_on_platform.sh (STEEP, STEEP_DIR exported).
set -uo pipefail
here=$(dirname "$0")
state=$STEEP_DIR/durability-state.json
log=$STEEP_DIR/durability.out
step() { echo "$@" | tee -a "$log"; }
finish() {
  local ok bad
  ok=$(grep -c '^ok' "$log") bad=$(grep -c '^FAILED' "$log")
  echo "$ok passed, $bad failed (whole durability test)"
  [ "$bad" = 0 ] && [ "$ok" -gt 0 ]
  exit $?
}
: >"$log"
/usr/bin/python3 "$here/durability.py" populate "$state" 2>&1 | tee -a "$log"
[ -f "$state" ] || { step "FAILED  populate wrote no state"; finish; }

# A writer keeps registering while the crash hits (records acknowledged
# to it must survive).
/usr/bin/python3 "$here/durability.py" writer "$state" >"$STEEP_DIR/writer.out" 2>&1 &
writer=$!
sleep 1.5
# Processes the services started (a running task's sandbox) must not outlive them.
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
children=""
for pidfile in "$STEEP_DIR"/run/*.pid; do children="$children $(descendants "$(cat "$pidfile")")"; done
killed=0
for pidfile in "$STEEP_DIR"/run/*.pid; do
  kill -9 "$(cat "$pidfile")" 2>/dev/null && killed=$((killed + 1))
done
for pidfile in "$STEEP_DIR"/run/*.pid; do
  for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
done
[ "$killed" -ge 8 ] && step "ok      kill -9 of $killed processes" \
  || step "FAILED  only $killed processes to kill -9 (expected 7 services and the file server)"
sleep 1
touch "$state.stop"
wait "$writer"
survivors=""
for p in $children; do
  [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && survivors="$survivors $p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
done
[ -z "$survivors" ] && step "ok      none of the $(echo $children | wc -w) child processes outlives its killed service" \
  || step "FAILED  child processes outlive their killed service:$survivors"
"$STEEP" status --dir "$STEEP_DIR" >/dev/null 2>&1 \
  && step "FAILED  steep status still says everything runs after kill -9" \
  || step "ok      steep status notices the killed platform"
printf '\n[scheduler]\nexecutor_timeout_secs = 3\n' >>"$STEEP_DIR/steep.toml"
if "$STEEP" up --dir "$STEEP_DIR" >"$STEEP_DIR/up-after-kill.log" 2>&1; then
  step "ok      steep up after kill -9"
else
  step "FAILED  steep up after kill -9: $(cat "$STEEP_DIR/up-after-kill.log")"
  finish
fi
/usr/bin/python3 "$here/durability.py" verify "$state" 2>&1 | tee -a "$log"
/usr/bin/python3 "$here/durability.py" verify-inflight "$state" 2>&1 | tee -a "$log"
finish
