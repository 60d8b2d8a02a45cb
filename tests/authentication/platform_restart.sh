#!/usr/bin/env bash
# steep-authentication as a process inside a whole platform (steep up):
# the DataOwnerManager fix and the access-control matrix seen through the
# CLI, tokens that survive a restart of the platform, and a token revoked
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
