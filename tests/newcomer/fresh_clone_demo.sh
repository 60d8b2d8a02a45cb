#!/usr/bin/env bash
# What a newcomer does first: clone into an empty directory (no ../shared
# beside it, no build, no platform) and run `make demo`. It must build,
# start a platform, run the three-bank task end to end and print every
# bank's decrypted result, with nothing but the clone.
set -euo pipefail
src=${STEEP_SOURCE_DIR:-$PWD}
tmp=$(mktemp -d /tmp/steep-newcomer.XXXXXX)
cleanup() {
  [ -x "$tmp/steep/build/bin/steep" ] && "$tmp/steep/build/bin/steep" down --dir "$tmp/steep/demo-platform" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The committed tree, as a fresh clone has it.
git clone --quiet --no-hardlinks "$src" "$tmp/steep"
[ ! -e "$tmp/shared" ] || { echo "FAILED: $tmp/shared exists"; exit 1; }
cd "$tmp/steep"
if ! make demo JOBS=2 >"$tmp/demo.log" 2>&1; then
  echo "FAILED: make demo in a fresh clone"; tail -40 "$tmp/demo.log"; exit 1
fi
passed=0 failed=0
expect() {
  if grep -q -- "$1" "$tmp/demo.log"; then passed=$((passed + 1)); echo "ok      $2"
  else failed=$((failed + 1)); echo "FAILED  $2 (no '$1' in the demo's output)"; fi
}
expect "SIMULATED" "the demo shows the simulated trust level"
expect "3 users join the task in total." "the task ran"
for i in 0 1 2; do expect "pjc_user$i decrypts its result" "bank $i decrypted its result"; done
expect "demo: OK" "the demo finished"
# The platform is stopped and nothing of ../shared was needed.
if grep -q "shared/fixtures" "$tmp/demo.log"; then failed=$((failed + 1)); echo "FAILED  the demo mentions shared/fixtures"; else passed=$((passed + 1)); echo "ok      no fixtures used"; fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
