#!/usr/bin/env bash
# `make deb`'s package, as an operator gets it: CPack builds the .deb from the
# already-built tree, `dpkg-deb -x` unpacks it into a scratch root, and a
# platform started by the unpacked `steep up` (its own services, runner,
# policies and libsteep, none from the build tree) runs a builtin-echo task.
set -euo pipefail
build=${STEEP_BUILD_DIR:?}
work=$(mktemp -d /tmp/steep-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

started=$(date +%s)
if ! out=$(cpack --config "$build/CPackConfig.cmake" -B "$work/pkg" 2>&1); then
  echo "cpack failed:"; echo "$out"; exit 1
fi
deb=$(ls "$work"/pkg/steep_*.deb)
echo "built $(basename "$deb") in $(($(date +%s) - started)) s"
root=$work/root
dpkg-deb -x "$deb" "$root"
info=$(dpkg-deb -f "$deb" Package Depends)
grep -q "^Package: steep$" <<<"$info" && grep -q "libsystemd0" <<<"$info" && grep -q "libssl3" <<<"$info" \
  && ok "control: package steep, shared-library dependencies" || fail "control fields" "$info"

# Every file an operator needs, under the GNU directories of prefix /usr.
missing=""
for f in bin/steep bin/steep-tee bin/steep-task-runner bin/steep-storage bin/steep-authentication \
         bin/steep-access-control bin/steep-management bin/steep-scheduler bin/steep-frontend \
         bin/steep-execution bin/steep-attestation-authority include/steep/steep.h \
         share/steep/policies/api.policy \
         share/steep/policies/tasks.policy share/man/man1/steep.1 share/man/man5/steep.toml.5 \
         share/man/man8/steep-services.8 share/bash-completion/completions/steep \
         lib/systemd/system/steep.target lib/systemd/system/steep-execution.service; do
  [ -e "$root/usr/$f" ] || missing="$missing $f"
done
# Every runner the build made is packaged too (steep-python-runner, ...).
for r in "$build"/bin/steep-*-runner; do
  [ -e "$r" ] && { [ -x "$root/usr/bin/$(basename "$r")" ] || missing="$missing bin/$(basename "$r")"; }
done
pc=$(find "$root/usr/lib" -name steep.pc | head -n 1)
[ -n "$pc" ] || missing="$missing steep.pc"
[ -z "$missing" ] && ok "installed files present" || fail "installed files missing:$missing"
[ -n "$pc" ] && grep -qx "prefix=/usr" "$pc" && ok "steep.pc names prefix /usr" || fail "steep.pc prefix"
grep -qx "ExecStart=/usr/bin/steep-frontend --config \${STEEP_CONFIG}" \
  "$root/usr/lib/systemd/system/steep-frontend.service" && ok "units start /usr/bin executables" \
  || fail "unit ExecStart" "$(grep ExecStart "$root/usr/lib/systemd/system/steep-frontend.service")"
# Nothing in the package refers back to the build or source tree.
if grep -rlF -e "$build" -e "${STEEP_SOURCE_DIR:?}/" "$root/usr/lib/systemd" "$root/usr/lib"/*/pkgconfig \
     "$root/usr/lib/pkgconfig" 2>/dev/null; then fail "package names the build tree"; else
  ok "no build-tree paths in units or steep.pc"; fi

# Every packaged binary that has --version runs from the scratch root (its
# libraries resolve) and reports the build tree's version.
bad=""
for b in steep steep-tee steep-authentication steep-access-control steep-storage \
         steep-management steep-scheduler steep-frontend steep-execution \
         steep-attestation-authority; do
  got=$("$root/usr/bin/$b" --version 2>&1) || got="exit $?: $got"
  [ "$got" = "$("$build/bin/$b" --version 2>&1)" ] || bad="$bad $b($got)"
done
[ -z "$bad" ] && ok "packaged binaries run and report the build's version" || fail "--version:$bad"
out=$(bash "$(dirname "$0")/check_runpath.sh" "$root/usr/bin" "$root/usr/lib" 2>&1) &&
  ok "no packaged binary searches the current directory for libraries" || fail "search paths" "$out"

# A marker in the unpacked default policy proves `steep up` copied the
# package's policies, not the source tree's.
echo "# packaged policy marker" >> "$root/usr/share/steep/policies/tasks.policy"
# Reuse the build's test keys when they exist (generating RSA keys takes seconds).
if [ -f "$build/test-platform-keys/done" ]; then cp -a "$build/test-platform-keys" "$root/usr/"; fi
export STEEP_BIN=$root/usr/bin
. "$STEEP_SOURCE_DIR/tests/lib/platform.sh"
platform_start 1 1
# After platform_start, which sets its own EXIT trap: ours also removes $work.
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; rm -rf "$work"; exit $status' EXIT

grep -q "packaged policy marker" "$STEEP_DIR/policies/tasks.policy" \
  && ok "steep up copied the packaged policies" || fail "policies not from the package"
foreign=""
for pidfile in "$STEEP_DIR"/run/*.pid; do
  name=$(basename "$pidfile" .pid)
  pid=$(cat "$pidfile")
  exe=$(readlink "/proc/$pid/exe" || true)
  [[ "$exe" == "$root/usr/bin/"* ]] || foreign="$foreign $name=$exe"
done
[ -z "$foreign" ] && ok "every process runs from the unpacked root" || fail "processes outside the package:$foreign"
# The supervisor is the unpacked `steep`, linked to libsteep through $ORIGIN.
libs=$(awk '/libsteep/ {print $6}' "/proc/$(cat "$STEEP_DIR/run/supervisor.pid")/maps" | sort -u)
if [ -n "$libs" ] && [[ "$libs" == "$root/usr/lib/"* ]]; then ok "libsteep from the package"; else
  fail "libsteep mapped from '${libs}'"; fi

"$STEEP" user login admin --password teaclave >/dev/null
fid=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin \
  --overwritable-arg message)
task=$("$STEEP" task create --user admin --function "$fid" --executor builtin \
  --args '{"message": "hello from the package"}')
"$STEEP" task invoke "$task" --user admin >/dev/null
out=$("$STEEP" task result "$task" --user admin --wait 30 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] && [ "$out" = "hello from the package" ] && ok "builtin-echo task through the package" \
  || fail "echo task (exit $rc)" "$out"

"$STEEP" down --dir "$STEEP_DIR" >/dev/null
left=""
for pidfile in "$STEEP_DIR"/run/*.pid; do
  [ -e "$pidfile" ] || continue
  pid=$(cat "$pidfile"); kill -0 "$pid" 2>/dev/null && left="$left $(basename "$pidfile" .pid)"
done
[ -z "$left" ] && ok "steep down stops it" || fail "still running:$left"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
