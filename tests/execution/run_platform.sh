#!/usr/bin/env bash
# The execution service inside a real platform (steep up: every service,
# two execution nodes with one slot each, the real scheduler): a hostile
# function fails only its own task with the sandbox's reason, cancel kills
# the running task, and kill -9 of a node mid-task leaves the other node
# serving while the scheduler fails the lost task after its executor
# timeout (shortened to 4 s here).
. "$(dirname "$0")/../lib/platform.sh"
platform_start 2 1
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
# Restart once with a short executor timeout and frequent heartbeats (the
# config is kept on restart; [execution] is its last table).
"$STEEP" down --dir "$STEEP_DIR" >/dev/null
config=$STEEP_DIR/steep.toml
printf 'heartbeat_ms = 250\n\n[scheduler]\nexecutor_timeout_secs = 4\n' >> "$config"
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
# Built-ins with encrypted inputs over HTTP, through the whole platform.
key128=000102030405060708090a0b0c0d0e0f
key256=${key128}${key128}
iv=0a0b0c0d0e0f101112131415
zero=00000000000000000000000000000000
fixtures=$FILES_DIR/fixtures/functions
out=$FILES_DIR/outputs/execution
mkdir -p "$out"
input() { # URL SCHEME KEY IV CMAC -> data id
  "$STEEP" data input --user admin "$1" --scheme "$2" --key "$3" ${4:+--iv "$4"} --cmac "$5"
}
output() { # URL SCHEME KEY IV -> data id
  "$STEEP" data output --user admin "$1" --scheme "$2" --key "$3" ${4:+--iv "$4"}
}
run_files_task() { # FUNCTION_ID ARGS INPUTS(name=id ...) -- OUTPUTS(name=id ...) -> task id
  local function=$1 args=$2 create=() assign=() spec
  shift 2
  local kind=--input
  for spec in "$@"; do
    if [ "$spec" = "--" ]; then kind=--output; continue; fi
    create+=("$kind" "${spec%%=*}=admin")
    assign+=("$kind" "$spec")
  done
  local task
  task=$("$STEEP" task create --user admin --function "$function" --executor builtin --args "$args" \
    "${create[@]}")
  "$STEEP" task assign "$task" --user admin "${assign[@]}" >/dev/null
  "$STEEP" task approve "$task" --user admin >/dev/null
  "$STEEP" task invoke "$task" --user admin >/dev/null
  echo "$task"
}

# ordered-set-join: teaclave-file-128 fixtures in, aes-gcm-256 out.
join_id=$("$STEEP" function register --user admin --name builtin-ordered-set-join \
  --executor-type builtin --overwritable-arg left_column --overwritable-arg right_column \
  --overwritable-arg ascending --overwritable-arg drop \
  --input input_data1 --input input_data2 --output output_result)
in1=$(input "$FILES_URL/fixtures/functions/ordered_set_join/join0.csv.enc" teaclave-file-128 "$zero" "" \
  "$("$STEEP" file cmac --scheme teaclave-file-128 --key "$zero" "$fixtures/ordered_set_join/join0.csv.enc")")
in2=$(input "$FILES_URL/fixtures/functions/ordered_set_join/join1.csv.enc" teaclave-file-128 "$zero" "" \
  "$("$STEEP" file cmac --scheme teaclave-file-128 --key "$zero" "$fixtures/ordered_set_join/join1.csv.enc")")
res=$(output "$FILES_URL/outputs/execution/joined.gcm" aes-gcm-256 "$key256" "$iv")
join=$(run_files_task "$join_id" '{"left_column": 0, "right_column": 0, "ascending": true, "drop": true}' \
  input_data1="$in1" input_data2="$in2" -- output_result="$res")
expect_result "ordered-set-join over HTTP" "$join" 0 "^120 records$"
"$STEEP" file decrypt --scheme aes-gcm-256 --key "$key256" --iv "$iv" "$out/joined.gcm" "$out/joined.txt" >/dev/null 2>&1 &&
  [ "$(sed -e 's/[[:space:]]*$//' "$out/joined.txt")" = "$(sed -e 's/[[:space:]]*$//' "$fixtures/gbdt_training/train.txt")" ] &&
  ok "joined output decrypts to the expected table" || fail "joined output"

# ordered-set-intersect: aes-gcm-128 inputs made here, teaclave-file-128 outputs.
psi_id=$("$STEEP" function register --user admin --name builtin-ordered-set-intersect \
  --executor-type builtin --overwritable-arg order --input input_data1 --input input_data2 \
  --output output_result1 --output output_result2)
for i in 0 1; do
  cmac[$i]=$("$STEEP" file encrypt --scheme aes-gcm-128 --key "$key128" --iv "$iv" \
    "$fixtures/ordered_set_intersect/psi$i.txt" "$out/psi$i.gcm" | sed -n 's/^cmac //p')
  psi_in[$i]=$(input "$FILES_URL/outputs/execution/psi$i.gcm" aes-gcm-128 "$key128" "$iv" "${cmac[$i]}")
  psi_out[$i]=$(output "$FILES_URL/outputs/execution/psi_result$i.enc" teaclave-file-128 "$key128" "")
done
psi=$(run_files_task "$psi_id" '{"order": "ascending"}' input_data1="${psi_in[0]}" \
  input_data2="${psi_in[1]}" -- output_result1="${psi_out[0]}" output_result2="${psi_out[1]}")
expect_result "ordered-set-intersect with aes-gcm inputs" "$psi" 0 "^3 common items$"
"$STEEP" file decrypt --scheme teaclave-file-128 --key "$key128" "$out/psi_result1.enc" "$out/psi_result1.txt" >/dev/null 2>&1 &&
  [ "$(cat "$out/psi_result1.txt")" = 01101 ] && ok "intersect output decrypts" || fail "intersect output"

# builtin_online_decrypt: no files.
decrypt_id=$(register builtin_online_decrypt key nonce encrypted_data algorithm)
decrypt=$(start_task "$decrypt_id" '{"key": "aqUdgZ0lJnuz9yiPkoDxMw==", "nonce": "AAECAwQFBgcICQoL", "encrypted_data": "OqMscYqxk1CshHQZulTrrDlJjS/v6BE/clWJyTerUw==", "algorithm": "aes128gcm"}')
expect_result "online decrypt" "$decrypt" 0 "^Hello Teaclave!$"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
