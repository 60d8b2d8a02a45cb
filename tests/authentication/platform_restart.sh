#!/usr/bin/env bash
# steep-authentication as a process inside a whole platform (steep up):
# the DataOwnerManager fix, the account-takeover chain (issue 14 item 13),
# log forging (item 16) and the access-control matrix seen through the CLI, tokens that survive a restart of the platform, and a token revoked
# by a password change, the default-password warning, and an operator-chosen
# initial admin password ([authentication] admin_password_file).
. "$(dirname "$0")/../lib/platform.sh"
bin=$STEEP_BIN
fail() { echo "FAIL: $*"; for f in "$dir"/logs/authentication.log "$dir"/logs/access-control.log; do
  [ -f "$f" ] && tail -n 20 "$f"; done; exit 1; }

platform_start 0 1 || fail "steep up"
dir=$STEEP_DIR
S="$bin/steep"
$S user login admin --password teaclave >/dev/null || fail "admin login"
$S user register dom1 --role DataOwnerManager --attribute org1 --password pw-dom1 >/dev/null ||
  fail "register dom1"
$S user register do1 --role DataOwner --attribute org1 --password pw-do1 >/dev/null ||
  fail "register do1"
$S user login do1 --password pw-do1 >/dev/null || fail "do1 login"
$S user login dom1 --password pw-dom1 >/dev/null || fail "dom1 login"
# the DataOwnerManager fix
if out=$($S user update admin --role DataOwner --attribute org1 --password pwned --user dom1 2>&1); then
  fail "dom1 overwrote admin"
fi
echo "$out" | grep -q "UNAUTHENTICATED: permission denied" || fail "update admin: $out"
# the account-takeover chain of issue 14 item 13: a FunctionOwner may not
# make itself a DataOwnerManager of the victim's attribute, nor reset the victim
$S user register fo --role FunctionOwner --password pw-fo --user admin >/dev/null || fail "register fo"
$S user login fo --password pw-fo >/dev/null || fail "fo login"
if out=$($S user register evil --role DataOwnerManager --attribute org1 --password pw-evil \
  --user fo 2>&1); then fail "a FunctionOwner registered a DataOwnerManager"; fi
echo "$out" | grep -q "permission denied: only a PlatformAdmin may create a DataOwnerManager" ||
  fail "register evil: $out"
if $S user login evil --password pw-evil >/dev/null 2>&1; then fail "evil exists"; fi
if out=$($S user reset do1 --user fo 2>&1); then fail "fo reset do1"; fi
$S user login do1 --password pw-do1 >/dev/null || fail "do1 lost its password"
# the legitimate path: the admin's manager of org1 resets its DataOwner
$S user reset do1 --user dom1 >/dev/null || fail "dom1 reset do1"
$S user update do1 --role DataOwner --attribute org1 --password pw-do1 --user dom1 >/dev/null ||
  fail "dom1 update do1"
$S user login do1 --password pw-do1 >/dev/null || fail "do1 login after the reset"
# log forging (item 16): an anonymous login id cannot write a line of its own
$S user login "$(printf 'x\nFORGED user admin registered')" --password guess >/dev/null 2>&1 &&
  fail "forged login accepted"
grep -q "^FORGED" "$dir"/logs/authentication.log && fail "a forged line reached the log"
grep -qF "failed login for 'x\\nFORGED user admin registered'" "$dir"/logs/authentication.log ||
  fail "the forged id is not logged escaped"

# access control through the frontend: a DataOwner may list functions, not query the audit log
$S function list --user do1 >/dev/null || fail "do1 function list"
if out=$($S audit query --user do1 2>&1); then fail "do1 audit query allowed"; fi
echo "$out" | grep -q "PERMISSION_DENIED" || fail "audit query: $out"

# tokens survive a restart of the whole platform
"$bin/steep" down --dir "$dir" >/dev/null 2>&1 || fail "steep down"
"$bin/steep" up --dir "$dir" >/dev/null 2>&1 || fail "steep up again"
$S function list --user do1 >/dev/null || fail "do1 token lost in the restart"
$S user list --attribute org1 --user dom1 | grep -qx do1 || fail "dom1 list after restart"

# a password change revokes the old token at once
$S user passwd --password pw-do1-new --user do1 >/dev/null || fail "passwd"
if out=$($S function list --user do1 2>&1); then fail "old token still works"; fi
echo "$out" | grep -q "UNAUTHENTICATED" || fail "old token: $out"
$S user login do1 --password pw-do1-new >/dev/null || fail "login with the new password"
$S function list --user do1 >/dev/null || fail "new token"
grep -q "pw-do1" "$dir"/logs/*.log && fail "a password reached a log"
grep -q "SECURITY WARNING: user 'admin' still has the default password" \
  "$dir"/logs/authentication.log || fail "no warning about the default admin password"

# an operator-chosen initial admin password (a fresh user database)
"$bin/steep" down --dir "$dir" >/dev/null 2>&1 || fail "steep down (2)"
rm -rf "$dir"/data/authentication
printf 'Operator-Chosen-1\n' >"$dir"/admin.password
printf '\n[authentication]\nadmin_password_file = "admin.password"\n' >>"$dir"/steep.toml
: >"$dir"/logs/authentication.log
"$bin/steep" up --dir "$dir" >/dev/null 2>&1 || fail "steep up with admin_password_file"
if $S user login admin --password teaclave >/dev/null 2>&1; then fail "default password works"; fi
$S user login admin --password Operator-Chosen-1 >/dev/null || fail "initial password refused"
grep -q "Operator-Chosen-1" "$dir"/logs/*.log && fail "the admin password reached a log"
grep -q "still has the default password" "$dir"/logs/authentication.log &&
  fail "warning about a default password that is not in use"
echo "platform_restart: ok"
