#!/usr/bin/env bash
# Issue 14, item 20: the hostile test functions (test-crash, test-fork,
# test-signal-escape, ...) and the syscall audit are compiled only into test
# builds, never into release binaries. A release tree (-DSTEEP_TEST_PAYLOADS=OFF,
# as `make deb` builds) is configured next to the build and its executor
# binaries are searched with nm and strings for the functions' symbols and
# names; the test build's own binaries are the control (they must have them,
# or the search would prove nothing). The same for the attestation
# authority's test roots of trust (insecure_test_*_pin): a release
# steep-attestation-authority cannot be told to trust a test-made root.
set -euo pipefail
build=${STEEP_BUILD_DIR:?}
src=${STEEP_SOURCE_DIR:?}
release=$build/release-check
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; }

# What only a test build has: the functions' symbols and registry names, and
# the audit's environment switch, the authority's test-root keys.
pattern='steep_fn_test_[a-z_]+|test-(crash|loop|alloc|fork|network|open-file|sleep|write-big|signal-escape|stat-path|identity)|STEEP_SANDBOX_AUDIT|insecure_test_[a-z_]+_pin|TEST roots of trust'
payloads() { { nm "$1" 2>/dev/null || true; strings -a "$1"; } | { grep -Eo "$pattern" || true; } |
  sort -u | tr '\n' ' '; }

binaries=(steep-task-runner steep-execution)
[ -x "$build/bin/steep-attestation-authority" ] && binaries+=(steep-attestation-authority)
[ -x "$build/bin/steep-python-runner" ] && binaries+=(steep-python-runner)

# ccache with paths relative to the checkout, so a fresh release tree reuses
# every object that the option does not change.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=$src CCACHE_NOHASHDIR=true
fi
started=$(date +%s)
cmake -S "$src" -B "$release" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTEEP_TEST_PAYLOADS=OFF "${launcher[@]}" >"$release.log" 2>&1 \
  && cmake --build "$release" -j2 --target "${binaries[@]}" >>"$release.log" 2>&1 \
  || { tail -n 30 "$release.log"; echo "cannot build the release tree"; exit 1; }
echo "release tree built in $(($(date +%s) - started)) s"

for b in "${binaries[@]}"; do
  found=$(payloads "$release/bin/$b")
  [ -z "$found" ] && ok "release $b has no test payloads" || fail "release $b contains: $found"
done
# The control: this build was configured with the payloads (the default).
if grep -q '^STEEP_TEST_PAYLOADS:BOOL=ON' "$build/CMakeCache.txt"; then
  found=$(payloads "$build/bin/steep-task-runner")
  for want in steep_fn_test_signal_escape test-signal-escape test-crash; do
    grep -qw -- "$want" <<<"$found" && ok "test build's runner has $want" \
      || fail "test build's runner lacks $want (the search is blind)"
  done
  grep -q STEEP_SANDBOX_AUDIT <<<"$(payloads "$build/bin/steep-execution")" \
    && ok "test build's steep-execution has the audit switch" \
    || fail "test build's steep-execution lacks the audit switch"
  if [ -x "$build/bin/steep-attestation-authority" ]; then
    grep -qw insecure_test_intel_root_pin <<<"$(payloads "$build/bin/steep-attestation-authority")" \
      && ok "test build's steep-attestation-authority has insecure_test_intel_root_pin" \
      || fail "test build's steep-attestation-authority lacks insecure_test_intel_root_pin"
  fi
else
  fail "this build has STEEP_TEST_PAYLOADS off: no control"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
