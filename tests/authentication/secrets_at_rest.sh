#!/usr/bin/env bash
# Secrets at rest on a real platform (steep up; issue 14, item 17):
#  - no service dumps core: started under `ulimit -c unlimited`, every
#    service runs with RLIMIT_CORE 0, and authentication, killed with
#    SIGSEGV after logins, leaves no core file (before the fix it wrote one
#    holding the password and tokens); its key pages are MADV_DONTDUMP ("dd"
#    in smaps);
#  - nothing under the platform directory is readable by group or others,
#    and `steep up` takes those bits off what an older version left;
#  - the raw storage files (the authentication user LevelDB and storage's)
#    hold neither a user id nor Teaclave's uuidv5 of it in any key.
. "$(dirname "$0")/../lib/platform.sh"
fail() { echo "FAIL: $*"; exit 1; }
ulimit -c unlimited
pattern=$(cat /proc/sys/kernel/core_pattern)
platform_start 0 1 || fail "steep up"
dir=$STEEP_DIR
S=$STEEP
id=zq-secret-owner-7f3a
password=Pw-Zq-Secret-91x
$S user login admin --password teaclave >/dev/null || fail "admin login"
$S user register "$id" --role FunctionOwner --password "$password" >/dev/null || fail "register"
$S user login "$id" --password "$password" >/dev/null || fail "login"
# a function of the user makes management write its per-user record
$S function register --user "$id" --name echo --executor-type builtin >/dev/null ||
  fail "function register"
$S function list --user "$id" >/dev/null || fail "function list"

# -- core dumps
services=(authentication storage management frontend scheduler access_control)
checked=0
for pidfile in "$dir"/run/*.pid; do
  name=$(basename "$pidfile" .pid)
  pid=$(cat "$pidfile")
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  case $exe in */steep-*) ;; *) continue ;; esac
  case $(basename "$exe") in steep-authentication | steep-storage | steep-management | \
    steep-frontend | steep-scheduler | steep-access-control | steep-execution) ;;
  *) continue ;; esac
  limit=$(awk '/^Max core file size/ {print $5 " " $6}' "/proc/$pid/limits")
  [ "$limit" = "0 0" ] || fail "$name (pid $pid) may dump core: core limit $limit"
  checked=$((checked + 1))
done
[ "$checked" -ge "${#services[@]}" ] || fail "checked the core limit of $checked services only"
auth_pid=$(cat "$dir/run/authentication.pid")
dontdump=$(awk '/^Size:/ {size = $2} /^VmFlags:/ && / dd( |$)/ {print size " kB"}' \
  "/proc/$auth_pid/smaps")
[ -n "$dontdump" ] || fail "authentication has no MADV_DONTDUMP mapping for its keys"
cwd=$(readlink "/proc/$auth_pid/cwd")
# SIGQUIT: its default action dumps core, and no sanitizer catches it
kill -QUIT "$auth_pid"
for _ in $(seq 50); do kill -0 "$auth_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$auth_pid" 2>/dev/null && fail "authentication survived SIGQUIT"
sleep 0.5
case $pattern in
  /* | \|*) echo "note: core_pattern '$pattern' writes elsewhere; core limits checked only" ;;
  *)
    cores=$(find "$cwd" "$dir" -maxdepth 2 -name 'core*' -type f 2>/dev/null || true)
    if [ -n "$cores" ]; then
      for c in $cores; do grep -c -a -F "$password" "$c" | sed "s|^|$c: password copies: |"; done
      fail "authentication dumped core: $cores"
    fi
    ;;
esac
grep -q "killed by signal 3" "$dir/logs/supervisor.log" ||
  fail "the supervisor did not see authentication die of SIGQUIT"

# -- modes
loose=$(find "$dir" ! -type l -perm /077 -printf '%m %p\n')
[ -z "$loose" ] || fail "group/other may read:
$loose"
# an older version's modes are tightened by the next `steep up`
"$S" down --dir "$dir" >/dev/null 2>&1 || fail "steep down"
chmod 0755 "$dir" "$dir/logs" && chmod 0644 "$dir/logs/storage.log" "$dir/steep.toml"
"$S" up --dir "$dir" >/dev/null 2>&1 || fail "steep up again"
loose=$(find "$dir" ! -type l -perm /077 -printf '%m %p\n')
[ -z "$loose" ] || fail "after a restart, group/other may read:
$loose"
$S user login "$id" --password "$password" >/dev/null || fail "login after the restart"

# -- user ids in storage keys
uuid5=$(/usr/bin/python3 -c 'import sys, uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, sys.argv[1]))' "$id")
hits=$(grep -rlaF -e "$id" -e "$uuid5" "$dir/data" || true)
[ -z "$hits" ] || fail "a user id (or its uuidv5 $uuid5) is stored in plaintext in: $hits"
echo "ok: $checked services without core dumps, no loose modes, no user id in storage"
