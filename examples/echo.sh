#!/usr/bin/env bash
# The smallest task: builtin-echo returns its argument. One user (admin),
# no data. Teaclave's builtin_echo example on the CLI.
. "$(dirname "$0")/lib.sh"
message=${1:-Hello, Teaclave!}
admin_login
function_id=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin \
  --description "Native Echo Function" --overwritable-arg message)
task_id=$("$STEEP" task create --user admin --function "$function_id" --executor builtin \
  --args "{\"message\": \"$message\"}")
"$STEEP" task invoke "$task_id" --user admin >/dev/null
result=$("$STEEP" task result "$task_id" --user admin --wait 120) || die "task did not finish"
say "function return: $result"
[ "$result" = "$message" ] || die "expected '$message'"
