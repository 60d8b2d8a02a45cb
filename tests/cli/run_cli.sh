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
  if [ "$rc" = "$status" ] && grep -qE -e "$pattern" <<<"$out"; then ok "$name"; else
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

# JSON output is built by a JSON library: a hostile user id (quotes, a
# backslash, a newline, a tab, non-ASCII) and a hostile description come back
# byte for byte when the output is parsed by Python's json module.
py=/usr/bin/python3
hostile=$(printf 'ev"il\\ us\ner\t\xc3\xa9\xe2\x82\xac')
json_field() { "$py" -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1:]: v=v[int(k)] if isinstance(v,list) else v[k]
sys.stdout.write(v if isinstance(v,str) else json.dumps(v))' "$@"; }
out=$("$STEEP" user register "$hostile" --role DataOwner --attribute a --password pw --user admin --json)
[ "$(json_field user <<<"$out")" = "$hostile" ] && ok "hostile user id round-trips through user register --json" \
  || fail "user register --json" "$out"
out=$("$STEEP" user list --user admin --json)
"$py" -c 'import json,sys; sys.exit(0 if sys.argv[1] in json.loads(sys.stdin.read()) else 1)' "$hostile" <<<"$out" \
  && ok "hostile user id round-trips through user list --json" || fail "user list --json" "$out"
fid=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin \
      --description "$hostile" --allow "$hostile" --arg "k\"ey=v\\al" --json | json_field function_id)
out=$("$STEEP" function get "$fid" --user admin --json)
[ "$(json_field description <<<"$out")" = "$hostile" ] && [ "$(json_field user_allowlist 0 <<<"$out")" = "$hostile" ] \
  && [ "$(json_field arguments 0 key <<<"$out")" = 'k"ey' ] && [ "$(json_field arguments 0 default_value <<<"$out")" = 'v\al' ] \
  && ok "function get --json escapes every string" || fail "function get --json" "$out"

# steep attest: --json parsed; $STEEP_DIR names the platform as for every command.
frontend=localhost:$((PORT_BASE + 1))
out=$("$STEEP" attest "$frontend" --json) && rc=0 || rc=$?
[ $rc = 0 ] && [ "$(json_field accepted <<<"$out")" = true ] && [ "$(json_field evidence simulated <<<"$out")" = true ] \
  && [ "$(json_field accepted_as <<<"$out")" = teaclave_frontend_service ] \
  && [ "$(json_field evidence mr_enclave <<<"$out" | tr -d 0-9a-f | wc -c)" = 0 ] \
  && ok "attest --json (through \$STEEP_DIR) is accepted and parses" || fail "attest --json (exit $rc)" "$out"
expect "attest reads the platform from \$STEEP_DIR" 0 "verdict: +ACCEPTED as teaclave_frontend_service" -- "$STEEP" attest "$frontend"
expect "attest: a \$STEEP_DIR that is no platform" 2 "not a platform directory" -- env STEEP_DIR=/nonexistent "$STEEP" attest "$frontend"

# The launcher: status, restart with the same data, down, then "server down".
expect "status reports every service"         0 "frontend +running" -- "$STEEP" status --dir "$STEEP_DIR"
# Colour only on a terminal: piped output is plain; under a pty it is styled.
esc=$(printf '\033')
out=$("$STEEP" status --dir "$STEEP_DIR")
[[ "$out" != *"$esc"* ]] && ok "no escape sequences when stdout is a pipe" || fail "escapes in piped status" "$out"
out=$(script -qec "'$STEEP' status --dir '$STEEP_DIR'" /dev/null </dev/null)
[[ "$out" == *"$esc[32mrunning"* ]] && ok "colour when stdout is a terminal" || fail "no colour on a pty" "$out"
"$STEEP" user register carol --role DataOwner --attribute c --password pw1 --user admin >/dev/null
function_id=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin --overwritable-arg message)
"$STEEP" up --dir "$STEEP_DIR" >/dev/null 2>&1 && ok "steep up again restarts the same platform" || fail "restart"
expect "users survive a restart"              0 "logged in as carol" -- "$STEEP" user login carol --password pw1
expect "tokens survive a restart"             0 "builtin-echo" -- "$STEEP" function get "$function_id" --user admin
"$STEEP" down --dir "$STEEP_DIR" >/dev/null
expect "server down is reported as unreachable" 3 "UNAVAILABLE" -- "$STEEP" function get "$function_id" --user admin
expect "status after down"                    1 "stopped" -- "$STEEP" status --dir "$STEEP_DIR"

# Usage errors are found before any connection: with the platform down they
# are exit 2 with a precise message, never 3 (unreachable).
expect "down: unknown sub-command"            2 "unknown task command 'frobnicate'" -- "$STEEP" task frobnicate x --user admin
expect "down: missing operand"                2 "task get: expected one TASK id, got 0" -- "$STEEP" task get --user admin
expect "down: extra operand"                  2 "function get: expected a function id, got 2" -- "$STEEP" function get a b --user admin
expect "down: operand where none is taken"    2 "user list: takes no operand, got 'x'" -- "$STEEP" user list x --user admin
expect "down: option of another sub-command"  2 "unknown option --role" -- "$STEEP" user login admin --role PlatformAdmin
expect "down: missing required option"        2 "user register: --role is required" -- "$STEEP" user register bob --password p --user admin
expect "down: option without its value"       2 "option --limit needs a value" -- "$STEEP" audit query --user admin --limit
expect "down: bad --limit"                    2 "--limit x is not a number" -- "$STEEP" audit query --user admin --limit x
expect "down: bad --quota"                    2 "--quota lots is not a number" -- "$STEEP" function register --user admin --name f --executor-type builtin --quota lots
expect "down: bad --wait"                     2 "--wait -1 is not a number of seconds" -- "$STEEP" task result t --user admin --wait -1
expect "down: data input needs --cmac"        2 "data input: --cmac is required" -- "$STEEP" data input http://x/y --scheme raw --user admin
expect "down: no sub-command"                 2 "user: a command is needed" -- "$STEEP" user
expect "down: attest without HOST:PORT"       2 "attest: HOST:PORT is needed" -- "$STEEP" attest
expect "down: extra QUERY words"             2 "audit query: expected at most one QUERY, got 2" -- "$STEEP" audit query a b --user admin
expect "down: a good command is unreachable"  3 "UNAVAILABLE" -- "$STEEP" user list --user admin
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
