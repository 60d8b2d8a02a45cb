#!/usr/bin/env bash
# Is my password among the leaked ones? user0 brings a password (inline, as
# an aes-gcm-128 data: URL), user1 brings the leaked list; neither sees the
# other's data. Teaclave's builtin_password_check example.
. "$(dirname "$0")/lib.sh"
example_inputs
admin_login
ensure_user pwc_user0 password0 DataOwner pwc0
ensure_user pwc_user1 password1 DataOwner pwc1
function_id=$("$STEEP" function register --user admin --name builtin-password-check \
  --executor-type builtin --public --input password --input exposed_passwords)
task_id=$("$STEEP" task create --user pwc_user0 --function "$function_id" \
  --input password=pwc_user0 --input exposed_passwords=pwc_user1)
# The password travels inline: an aes-gcm-128 data: URL (as in Teaclave's example).
password=$("$STEEP" data input --user pwc_user0 "$(cat "$EXAMPLE_DIR/password.url")" \
  --scheme aes-gcm-128 --key "$(example_key password)" --iv "$(cat "$EXAMPLE_DIR/password.iv")" \
  --cmac "$(example_cmac password)")
exposed=$("$STEEP" data input --user pwc_user1 "$FILES_URL/example-inputs/exposed_passwords.enc" \
  --scheme teaclave-file-128 --key "$(example_key exposed_passwords)" --cmac "$(example_cmac exposed_passwords)")
"$STEEP" task assign "$task_id" --user pwc_user0 --input "password=$password" >/dev/null
"$STEEP" task assign "$task_id" --user pwc_user1 --input "exposed_passwords=$exposed" >/dev/null
"$STEEP" task approve "$task_id" --user pwc_user0 >/dev/null
"$STEEP" task approve "$task_id" --user pwc_user1 >/dev/null
"$STEEP" task invoke "$task_id" --user pwc_user0 >/dev/null
result=$("$STEEP" task result "$task_id" --user pwc_user1 --wait 120) || die "task did not finish"
say "password exposed: $result"
[ "$result" = "true" ] || die "expected true"
