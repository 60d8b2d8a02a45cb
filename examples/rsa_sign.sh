#!/usr/bin/env bash
# Signing without handing over the key: rsa_user1 owns an encrypted RSA key,
# rsa_user2 asks for a signature of "test data"; the key never leaves the
# TEE. Teaclave's builtin_rsa_sign example.
. "$(dirname "$0")/lib.sh"
example_inputs
admin_login
ensure_user rsa_user1 password1 DataOwner rsa1
ensure_user rsa_user2 password2 DataOwner rsa2
function_id=$("$STEEP" function register --user admin --name builtin-rsa-sign \
  --executor-type builtin --public --overwritable-arg data --input rsa_key)
task_id=$("$STEEP" task create --user rsa_user2 --function "$function_id" \
  --args '{"data": "test data"}' --input rsa_key=rsa_user1)
key=$("$STEEP" data input --user rsa_user1 "$FILES_URL/example-inputs/rsakey.enc" \
  --scheme teaclave-file-128 --key "$(example_key rsakey)" --cmac "$(example_cmac rsakey)")
"$STEEP" task assign "$task_id" --user rsa_user1 --input "rsa_key=$key" >/dev/null
"$STEEP" task approve "$task_id" --user rsa_user1 >/dev/null
"$STEEP" task approve "$task_id" --user rsa_user2 >/dev/null
"$STEEP" task invoke "$task_id" --user rsa_user2 >/dev/null
signature=$("$STEEP" task result "$task_id" --user rsa_user2 --wait 120) || die "task did not finish"
say "signature: $signature"
# openssl signed the same data with the same key (PKCS#1 v1.5 is deterministic).
[ "$signature" = "$(cat "$EXAMPLE_DIR/rsakey.expected")" ] || die "signature differs from openssl's"
