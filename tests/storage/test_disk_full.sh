#!/usr/bin/env bash
# Disk full on a real platform (issue 14 item 1). The platform's directory
# lives on a small tmpfs mounted on a directory of its own in a private
# mount namespace this script makes for itself (unshare -m; the mount
# disappears with it). Not over /tmp: the checkout may live there. Work
# is done, the disk is filled with a filler file, calls are made while
# storage and authentication hit ENOSPC, the filler is removed, more work
# is acknowledged, and the platform is restarted: both stores must open
# and every acknowledged write (functions in storage, users in
# authentication's user DB) must be there.
set -euo pipefail
if [ -z "${STEEP_DISK_FULL_NS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "FAILED: needs root for a private mount namespace" >&2; exit 1; }
  STEEP_DISK_FULL_NS=$(mktemp -d /tmp/steep-disk-full.XXXXXX)
  export STEEP_DISK_FULL_NS
  status=0
  unshare --mount --propagation private bash "$0" "$@" || status=$?
  rmdir "$STEEP_DISK_FULL_NS" 2>/dev/null || true
  exit $status
fi
disk=$STEEP_DISK_FULL_NS
mount -t tmpfs -o "size=${STEEP_DISK_FULL_MIB:-32}m" steep-disk-full "$disk"
export STEEP_TEST_TMP=$disk
. "$(dirname "$0")/../lib/platform.sh"
platform_start 1 1
trap 'status=$?; [ $status = 0 ] || platform_logs; rm -f "$disk/filler"; platform_stop; exit $status' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

"$STEEP" user login admin --password teaclave >/dev/null
functions=() users=()
register_function() { # NAME -> appends the acknowledged id
  local id
  if id=$("$STEEP" function register --user admin --name "$1" --executor-type builtin 2>&1); then
    functions+=("$id"); return 0
  fi
  echo "$id"; return 1
}
register_user() { # ID [ATTRIBUTE]
  if "$STEEP" user register "$1" --role DataOwner --attribute "${2:-a}" --password "pw-$1" \
       --user admin >/dev/null 2>&1; then users+=("$1"); return 0; fi
  return 1
}
# Long ids and attributes make user records big enough that the user DB's
# log needs new pages (a write within a page tmpfs already gave succeeds).
long_attribute=$(printf 'attr%.0s' $(seq 30)) long_id=$(printf "user%.0s" $(seq 25))
for i in 1 2 3; do register_function builtin-echo >/dev/null; register_user "before$i"; done
echo "before the disk fills: ${#functions[@]} functions, ${#users[@]} users, $(df -k --output=used "$disk" | tail -1) KiB used"

# Fill the disk, then call: storage (functions, audit records) and the user DB hit ENOSPC.
dd if=/dev/zero of="$disk/filler" bs=64k status=none 2>/dev/null || true
refused=0
for i in $(seq 12); do
  register_function builtin-echo >/dev/null || refused=$((refused + 1))
  register_user "full$i-$long_id" "$long_attribute" || refused=$((refused + 1))
done
[ "$refused" -gt 0 ] && ok "writes on a full disk are refused ($refused of 24)" ||
  fail "no write failed on a full disk"
# Management answers storage failures INTERNAL without details; the storage
# log says why and when writes resume. The log shares the full disk, so its
# last lines may be cut where the space ended: any whole line will do.
why=$(grep -h "refusing writes since a write failed" "$STEEP_DIR/logs/storage.log" |
      grep "No space left on device.*resume when the disk has room" | tail -1)
grep -q "No space left on device.*resume when the disk has room" <<<"$why" &&
  ok "storage says why it refuses writes" || fail "storage says why it refuses writes" "$why"
rm -f "$disk/filler"

# Space is back: the service recovers without a restart.
after_ok=0
for i in $(seq 6); do
  register_function builtin-echo >/dev/null && after_ok=$((after_ok + 1)) || true
  register_user "after$i" && after_ok=$((after_ok + 1)) || true
done
[ "$after_ok" -eq 12 ] && ok "every write succeeds once space is back (12 of 12)" ||
  fail "writes after space came back: $after_ok of 12 succeeded"
for service in storage authentication; do
  if grep -q "a write failed" "$STEEP_DIR/logs/$service.log"; then
    grep -q "reopened on a fresh log" "$STEEP_DIR/logs/$service.log" &&
      ok "$service failed closed and reopened its store on a fresh log" ||
      fail "$service never reopened its store" "$(grep store: "$STEEP_DIR/logs/$service.log" | tail -3)"
  else
    fail "$service never hit the full disk"
  fi
done

"$STEEP" down --dir "$STEEP_DIR" >/dev/null
if "$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" \
     >"$platform_tmp/up2.log" 2>&1; then
  ok "the platform restarts after the episode"
else
  fail "the platform restarts after the episode" "$(tail -5 "$platform_tmp/up2.log"; grep -h "Corruption\|cannot open" "$STEEP_DIR"/logs/*.log | tail -3)"
  echo "$passed passed, $failed failed"; exit 1
fi
"$STEEP" user login admin --password teaclave >/dev/null
lost=0
for id in "${functions[@]}"; do
  "$STEEP" function get "$id" --user admin >/dev/null 2>&1 || { lost=$((lost + 1)); echo "lost function $id"; }
done
[ $lost = 0 ] && ok "all ${#functions[@]} acknowledged functions survive the restart" ||
  fail "$lost of ${#functions[@]} acknowledged functions lost"
lost=0
for u in "${users[@]}"; do
  "$STEEP" user login "$u" --password "pw-$u" >/dev/null 2>&1 || { lost=$((lost + 1)); echo "lost user $u"; }
done
[ $lost = 0 ] && ok "all ${#users[@]} acknowledged users log in after the restart" ||
  fail "$lost of ${#users[@]} acknowledged users lost"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
