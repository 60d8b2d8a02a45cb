#!/usr/bin/env bash
# Three banks find the customers they share and the sum of what those
# customers hold, without any bank (or the platform operator) seeing another
# bank's data. Teaclave's builtin_private_join_and_compute example, on the CLI:
# user0..user2 each bring an encrypted customer list; user3 creates the task;
# every participant approves; user3 invokes; each bank decrypts its result.
. "$(dirname "$0")/lib.sh"

example_inputs
mkdir -p "$FILES_DIR/outputs"

admin_login
for i in 0 1 2 3; do ensure_user "pjc_user$i" "password$i" DataOwner "bank$i"; done

say "admin registers the public function builtin-private-join-and-compute"
function_id=$("$STEEP" function register --user admin --name builtin-private-join-and-compute \
  --executor-type builtin --public --description "Private join and compute" \
  --overwritable-arg num_user \
  --input input_data0 --input input_data1 --input input_data2 \
  --output output_data0 --output output_data1 --output output_data2)

say "pjc_user3 creates the task"
task_id=$("$STEEP" task create --user pjc_user3 --function "$function_id" --executor builtin \
  --args '{"num_user": 3}' \
  --input input_data0=pjc_user0 --input input_data1=pjc_user1 --input input_data2=pjc_user2 \
  --output output_data0=pjc_user0 --output output_data1=pjc_user1 --output output_data2=pjc_user2)
echo "  $task_id"

run_id=$(date +%s%N)
declare -a out_key
for i in 0 1 2; do
  user=pjc_user$i
  out_key[$i]=$(openssl rand -hex 16)  # each bank's own key for its result
  input=$("$STEEP" data input --user "$user" "$FILES_URL/example-inputs/bank$i.enc" \
    --scheme teaclave-file-128 --key "$(example_key "bank$i")" --cmac "$(example_cmac "bank$i")")
  output=$("$STEEP" data output --user "$user" "$FILES_URL/outputs/$run_id/user${i}_output.enc" \
    --scheme teaclave-file-128 --key "${out_key[$i]}")
  "$STEEP" task assign "$task_id" --user "$user" \
    --input "input_data$i=$input" --output "output_data$i=$output" >/dev/null
  say "$user registered bank$i.enc ($(wc -l <"$EXAMPLE_DIR/bank$i.txt") customers) and assigned it"
done
for i in 0 1 2 3; do "$STEEP" task approve "$task_id" --user "pjc_user$i" >/dev/null; done
say "every participant approved; pjc_user3 invokes"
"$STEEP" task invoke "$task_id" --user pjc_user3 >/dev/null
summary=$("$STEEP" task result "$task_id" --user pjc_user3 --wait 120) || die "task did not finish"
say "function returned: $summary"
[ "$summary" = "3 users join the task in total." ] || die "unexpected summary: $summary"

for i in 0 1 2; do
  out=$FILES_DIR/outputs/$run_id/user${i}_output.enc
  plain=$(mktemp -d)/user${i}_output.txt
  "$STEEP" file decrypt --scheme teaclave-file-128 --key "${out_key[$i]}" "$out" "$plain" >/dev/null
  say "pjc_user$i decrypts its result:"
  sed 's/^/    /' "$plain"
  # The platform's answer against the one awk computed from the plaintexts.
  sort "$plain" | cmp -s - "$EXAMPLE_DIR/bank.expected" \
    || die "pjc_user$i got an unexpected result (expected $(tr '\n' ';' <"$EXAMPLE_DIR/bank.expected"))"
  rm -rf "$(dirname "$plain")"
done
say "OK: the three banks share $(wc -l <"$EXAMPLE_DIR/bank.expected") customers"
