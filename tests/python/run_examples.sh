#!/usr/bin/env bash
# Teaclave's MesaPy examples (teaclave-functions.md §5.2) through a whole
# platform, as a user runs them with the CLI: echo, optional files,
# logistic regression (train, then predict on the training task's
# outputs), the deadloop cancel flow, and the MesaPy file API.
. "$(dirname "$0")/lib.sh"
python_platform 1 2 "heartbeat_ms = 250"
fixtures=$FILES_DIR/fixtures/functions/py_logistic_reg
run_id=$(date +%s%N)
out=$FILES_DIR/outputs/$run_id
mkdir -p "$out"
cmac() { "$STEEP" file cmac --scheme teaclave-file-128 --key "$ZERO_KEY" "$1"; }
input() { # URL CMAC -> data id
  "$STEEP" data input --user admin "$1" --scheme teaclave-file-128 --key "$ZERO_KEY" --cmac "$2"
}
output() { "$STEEP" data output --user admin "$1" --scheme teaclave-file-128 --key "$ZERO_KEY"; }
files_task() { # FUNCTION ARGS [--input name=id | --output name=id]... -> task id
  local function=$1 args=$2 create=() assign=()
  shift 2
  while [ $# -gt 0 ]; do
    create+=("$1" "${2%%=*}=admin"); assign+=("$1" "$2"); shift 2
  done
  local task
  task=$("$STEEP" task create --user admin --function "$function" --executor mesapy --args "$args" \
    "${create[@]}")
  "$STEEP" task assign "$task" --user admin "${assign[@]}" >/dev/null
  "$STEEP" task approve "$task" --user admin >/dev/null
  "$STEEP" task invoke "$task" --user admin >/dev/null
  echo "$task"
}

# mesapy_echo.py
echo_id=$(register_python mesapy-echo "$payloads/echo.py" --overwritable-arg message)
task=$(start_task "$echo_id" '{"message": "Hello, Teaclave!"}')
expect_result "mesapy echo returns its argument" "$task" 0 "^Hello, Teaclave!$"

# argv: Teaclave's flat [k1, v1, ...] in sorted key order; strings raw,
# other values as compact JSON text.
argv_id=$(register_python argv "$payloads/argv.py" --overwritable-arg b --overwritable-arg a \
  --overwritable-arg c)
task=$(start_task "$argv_id" '{"b": 4, "a": "x y", "c": {"z": 1, "y": [true, 0.1, "é"]}}')
expect_result "argv is flat and sorted" "$task" 0 \
  "^$(literal "['a', 'x y', 'b', '4', 'c', '{\"y\":[true,0.1,\"é\"],\"z\":1}']")$"

# mesapy_optional_files.py: no inputs; train.enc; train.enc with a stale cmac.
optional_id=$(register_python mesapy-optional "$payloads/optional_files.py" \
  --input input_data1:optional --input input_data2:optional --input input_data3:optional)
task=$(start_task "$optional_id" '{}')
expect_result "optional input absent" "$task" 0 "^input_data1 does not exist$"
train_url=$FILES_URL/fixtures/functions/py_logistic_reg/train.enc
train_cmac=$(cmac "$fixtures/train.enc")
task=$(files_task "$optional_id" '{}' --input "input_data1=$(input "$train_url" "$train_cmac")")
expect_result "optional input present: its first line" "$task" 0 "^$(literal "$(head -n1 "$fixtures/train.txt")")$"
stale=$([ "${train_cmac:0:1}" = 0 ] && echo 1 || echo 0)${train_cmac:1}
task=$(files_task "$optional_id" '{}' --input "input_data1=$(input "$train_url" "$stale")")
expect_result "optional input with a stale cmac cannot be opened" "$task" 0 \
  "^input_data1 does not exist$"

# mesapy_logistic_reg.py: train, then predict with the training task's outputs.
train_id=$(register_python mesapy-logistic-reg-train "$payloads/logistic_reg.py" \
  --arg operation=train --arg train_file=input_train --arg params_saved=output_params \
  --arg scaler_saved=output_scaler --input input_train --output output_params \
  --output output_scaler)
predict_id=$(register_python mesapy-logistic-reg-predict "$payloads/logistic_reg.py" \
  --arg operation=predict --arg predict_file=input_predict --arg params_saved=input_params \
  --arg scaler_saved=input_scaler --input input_predict --input input_params \
  --input input_scaler)
params=$(output "$FILES_URL/outputs/$run_id/params.out")
scaler=$(output "$FILES_URL/outputs/$run_id/scaler.out")
train=$(files_task "$train_id" '{}' --input "input_train=$(input "$train_url" "$train_cmac")" \
  --output "output_params=$params" --output "output_scaler=$scaler")
expect_result "logistic regression: training" "$train" 0 "^Training is finished!$"
predict_url=$FILES_URL/fixtures/functions/py_logistic_reg/predict.enc
predict=$(files_task "$predict_id" '{}' \
  --input "input_predict=$(input "$predict_url" "$(cmac "$fixtures/predict.enc")")" \
  --input "input_params=$("$STEEP" data from-output "$params" --user admin)" \
  --input "input_scaler=$("$STEEP" data from-output "$scaler" --user admin)")
expected=$(cat "$fixtures/py_result.txt")
expect_result "logistic regression: Predict result: $expected" "$predict" 0 "^$(literal "$expected")$"

# The MesaPy file API, on the training text (raw input) and an output.
api_id=$(register_python mesapy-file-api "$payloads/file_api.py" --input input --output output)
text_input=$("$STEEP" data input --user admin "$FILES_URL/fixtures/functions/py_logistic_reg/train.txt" \
  --scheme raw --cmac "$ZERO_KEY" 2>/dev/null || true)
if [ -n "$text_input" ]; then
  api_out=$(output "$FILES_URL/outputs/$run_id/api.out")
  task=$(files_task "$api_id" '{}' --input "input=$text_input" --output "output=$api_out")
  result=$("$STEEP" task result "$task" --user admin --wait 60 2>&1) || true
  lines=$(wc -l < "$fixtures/train.txt")
  first=$(head -n1 "$fixtures/train.txt")
  for want in "mode r: Teaclave Not Supported" "mode w: Teaclave Not Supported" \
              "mode ab: Teaclave Not Supported" "unknown id: fileio_init: teaclave_ffi_error" \
              "seek: UnsupportedOperation" "lines: $lines" "first: $first" \
              "closed: I/O operation on closed file"; do
    grep -qxF -- "$want" <<<"$result" && ok "file API: $want" || fail "file API: $want" "$result"
  done
  plain=$platform_tmp/api.txt
  "$STEEP" file decrypt --scheme teaclave-file-128 --key "$ZERO_KEY" "$out/api.out" "$plain" \
    >/dev/null 2>&1 || true
  [ "$(cat "$plain" 2>/dev/null)" = "copied $(head -c16 "$fixtures/train.txt")" ] &&
    ok "file API: the output is encrypted and holds what was written" ||
    fail "file API: output" "$(cat "$plain" 2>&1)"
else
  fail "file API: cannot register a raw input"
fi

# mesapy_deadloop_cancel.py: cancel once the task is seen Running.
deadloop_id=$(register_python mesapy-deadloop "$payloads/deadloop.py")
task=$(start_task "$deadloop_id" '{}')
for i in $(seq 100); do [ "$(task_status "$task")" = Running ] && break; sleep 0.1; done
if [ "$(task_status "$task")" = Running ]; then
  ok "deadloop task seen Running"
  started=$(date +%s)
  "$STEEP" task cancel "$task" --user admin >/dev/null
  expect_result "deadloop: Task Canceled by the user" "$task" 1 "Task Canceled by the user"
  [ $(($(date +%s) - started)) -lt 15 ] && ok "cancel is prompt" || fail "cancel took too long"
  task=$(start_task "$echo_id" '{"message": "still serving"}')
  expect_result "the node keeps serving after the cancel" "$task" 0 "^still serving$"
else
  fail "deadloop task never seen Running" "$(task_status "$task")"
fi
finish
