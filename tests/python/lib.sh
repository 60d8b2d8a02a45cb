# Shared by the Python executor's platform tests: a platform with the
# given nodes/slots, restarted once with the [execution] settings given
# (appended: [execution] is the config's last table), and small helpers.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/platform.sh"
payloads=$(cd "$(dirname "${BASH_SOURCE[0]}")/payloads" && pwd)
ZERO_KEY=00000000000000000000000000000000
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

python_platform() { # NODES SLOTS [CONFIG LINES...]
  local nodes=$1 slots=$2; shift 2
  platform_start "$nodes" "$slots"
  trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
  if [ $# -gt 0 ]; then
    "$STEEP" down --dir "$STEEP_DIR" >/dev/null
    printf '%s\n' "$@" >> "$STEEP_DIR/steep.toml"
    "$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" >/dev/null
  fi
  "$STEEP" user login admin --password teaclave >/dev/null
}

register_python() { # NAME PAYLOAD [function options...] -> function id
  local name=$1 payload=$2; shift 2
  "$STEEP" function register --user admin --name "$name" --executor-type python \
    --payload "$payload" "$@"
}
start_task() { # FUNCTION_ID ARGS_JSON [EXECUTOR] -> task id
  local task
  task=$("$STEEP" task create --user admin --function "$1" --executor "${3:-mesapy}" --args "$2")
  "$STEEP" task invoke "$task" --user admin >/dev/null
  echo "$task"
}
# expect_result NAME TASK STATUS PATTERN: `steep task result --wait` status and text.
expect_result() {
  local out rc
  out=$("$STEEP" task result "$2" --user admin --wait 60 2>&1) && rc=0 || rc=$?
  if [ "$rc" = "$3" ] && grep -qE -- "$4" <<<"$out"; then ok "$1"; else
    fail "$1 (exit $rc, wanted $3 /$4/)" "$out"; fi
}
# A regular expression matching TEXT literally.
literal() { sed 's/[][\.*^$(){}?+|/]/\\&/g' <<<"$1"; }
task_status() { "$STEEP" task get "$1" --user admin | awk '$1 == "status" {print $2}'; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; }
