#!/usr/bin/env bash
# The steep CLI's error paths and the launcher's lifecycle, against a real
# platform: every failure is a clear message and a meaningful exit status.
. "$(dirname "$0")/../lib/platform.sh"
platform_start 1 2
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

# expect NAME STATUS PATTERN -- command...: exit status and stderr/stdout text.
expect() {
  local name=$1 status=$2 pattern=$3; shift 4
  local out rc
  out=$("$@" 2>&1) && rc=0 || rc=$?
  if [ "$rc" = "$status" ] && grep -qE "$pattern" <<<"$out"; then ok "$name"; else
    fail "$name (exit $rc, wanted $status /$pattern/)" "$out"; fi
}

expect "wrong password is refused"            1 "UNAUTHENTICATED"  -- "$STEEP" user login admin --password wrong
expect "login as admin"                       0 "logged in as admin" -- "$STEEP" user login admin --password teaclave
expect "unknown task id"                      1 "INVALID_ARGUMENT|invalid task" -- "$STEEP" task get task-00000000-0000-0000-0000-000000000000 --user admin
expect "malformed function id"                1 "invalid function id" -- "$STEEP" function get not-an-id --user admin
expect "unknown command"                      2 "unknown task command" -- "$STEEP" task frobnicate x
expect "unknown option"                       2 "unknown option --frob" -- "$STEEP" task get x --frob 1
expect "unreadable payload file"              2 "cannot open|No such file" -- "$STEEP" function register --user admin --name f --executor-type builtin --payload /nonexistent/payload
expect "unreadable file to encrypt"           1 "cannot|No such file" -- "$STEEP" file encrypt --scheme aes-gcm-128 --key 00000000000000000000000000000000 --iv 000000000000000000000000 /nonexistent /tmp/out.enc
expect "bad key length"                       2 "key|16" -- "$STEEP" file encrypt --scheme aes-gcm-128 --key 0011 --iv 000000000000000000000000 /etc/hostname /tmp/out.enc
expect "user without a credential"            1 "no credential for nobody" -- "$STEEP" function list --user nobody
expect "not a platform directory"             2 "not a platform directory" -- "$STEEP" function list --dir /nonexistent

# Tampered ciphertext is refused and leaves no plaintext behind.
work=$platform_tmp/work; mkdir -p "$work"
printf 'secret numbers\n' > "$work/plain.txt"
"$STEEP" file encrypt --scheme aes-gcm-256 --key "$(printf '11%.0s' {1..32})" --iv "$(printf '22%.0s' {1..12})" "$work/plain.txt" "$work/c.enc" >/dev/null
printf '\x00' | dd of="$work/c.enc" bs=1 seek=3 conv=notrunc 2>/dev/null
expect "tampered ciphertext is refused"       1 "authentic|tag|verif" -- "$STEEP" file decrypt --scheme aes-gcm-256 --key "$(printf '11%.0s' {1..32})" --iv "$(printf '22%.0s' {1..12})" "$work/c.enc" "$work/out.txt"
[ ! -e "$work/out.txt" ] && ok "no plaintext is left after a failed decryption" || fail "plaintext left behind"

# The launcher: status, restart with the same data, down, then "server down".
expect "status reports every service"         0 "frontend +running" -- "$STEEP" status --dir "$STEEP_DIR"
"$STEEP" user register carol --role DataOwner --attribute c --password pw1 --user admin >/dev/null
function_id=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin --overwritable-arg message)
"$STEEP" up --dir "$STEEP_DIR" >/dev/null 2>&1 && ok "steep up again restarts the same platform" || fail "restart"
expect "users survive a restart"              0 "logged in as carol" -- "$STEEP" user login carol --password pw1
expect "tokens survive a restart"             0 "builtin-echo" -- "$STEEP" function get "$function_id" --user admin
"$STEEP" down --dir "$STEEP_DIR" >/dev/null
expect "server down is reported as unreachable" 3 "UNAVAILABLE" -- "$STEEP" function get "$function_id" --user admin
expect "status after down"                    1 "stopped" -- "$STEEP" status --dir "$STEEP_DIR"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
