#!/usr/bin/env bash
# Two parties learn which of their (hashed) entries they have in common and
# nothing else: builtin-ordered-set-intersect. user0 creates and invokes the
# task; both bring data, approve, and read their own result file.
. "$(dirname "$0")/lib.sh"
example_inputs
run_id=$(date +%s%N)
mkdir -p "$FILES_DIR/outputs/$run_id"
admin_login
ensure_user psi_user0 password0 DataOwner psi0
ensure_user psi_user1 password1 DataOwner psi1

function_id=$("$STEEP" function register --user admin --name builtin-ordered-set-intersect \
  --executor-type builtin --public --overwritable-arg order \
  --input input_data1 --input input_data2 --output output_result1 --output output_result2)
task_id=$("$STEEP" task create --user psi_user0 --function "$function_id" \
  --args '{"order": "ascending"}' \
  --input input_data1=psi_user0 --input input_data2=psi_user1 \
  --output output_result1=psi_user0 --output output_result2=psi_user1)
declare -a out_key
for i in 0 1; do
  n=$((i + 1))
  out_key[$i]=$(openssl rand -hex 16)
  input=$("$STEEP" data input --user "psi_user$i" "$FILES_URL/example-inputs/psi$i.enc" \
    --scheme teaclave-file-128 --key "$(example_key "psi$i")" --cmac "$(example_cmac "psi$i")")
  output=$("$STEEP" data output --user "psi_user$i" "$FILES_URL/outputs/$run_id/output_psi$i.enc" \
    --scheme teaclave-file-128 --key "${out_key[$i]}")
  "$STEEP" task assign "$task_id" --user "psi_user$i" --input "input_data$n=$input" \
    --output "output_result$n=$output" >/dev/null
done
# Approval needs every piece of data assigned first.
for i in 0 1; do "$STEEP" task approve "$task_id" --user "psi_user$i" >/dev/null; done
"$STEEP" task invoke "$task_id" --user psi_user0 >/dev/null
result=$("$STEEP" task result "$task_id" --user psi_user1 --wait 120) || die "task did not finish"
say "both users see: $result"
common=$(cat "$EXAMPLE_DIR/psi.common")
[ "$result" = "$common common items" ] || die "expected '$common common items'"
for i in 0 1; do
  plain=$(mktemp -d)/output_psi$i.txt
  "$STEEP" file decrypt --scheme teaclave-file-128 --key "${out_key[$i]}" \
    "$FILES_DIR/outputs/$run_id/output_psi$i.enc" "$plain" >/dev/null
  got=$(cat "$plain")
  say "psi_user$i's membership bits: $got"
  [ "$got" = "$(cat "$EXAMPLE_DIR/psi$i.expected")" ] || die "psi_user$i expected $(cat "$EXAMPLE_DIR/psi$i.expected")"
  rm -rf "$(dirname "$plain")"
done
