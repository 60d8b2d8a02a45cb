#!/usr/bin/env bash
# --version on steep, steep-tee and every service: "NAME VERSION", exit 0,
# where VERSION is `git describe --always` of the source tree (possibly
# -dirty), or the project's x.y.z outside git.
set -euo pipefail
: "${STEEP_BIN:=${STEEP_BUILD_DIR:-$PWD/build}/bin}"
: "${STEEP_SOURCE_DIR:=$PWD}"
if described=$(git -C "$STEEP_SOURCE_DIR" describe --always 2>/dev/null); then
  pattern="^${described}(-dirty)?\$"
else
  pattern='^[0-9]+\.[0-9]+\.[0-9]+$'
fi
passed=0 failed=0
for b in steep steep-tee steep-authentication steep-access-control steep-storage \
         steep-management steep-scheduler steep-frontend steep-execution; do
  out=$("$STEEP_BIN/$b" --version 2>&1) && rc=0 || rc=$?
  name=${out%% *} version=${out#* }
  if [ $rc = 0 ] && [ "$name" = "$b" ] && [[ $version =~ $pattern ]]; then
    passed=$((passed + 1)); echo "ok      $out"
  else
    failed=$((failed + 1)); echo "FAILED  $b --version: exit $rc, '$out' (wanted $b /$pattern/)"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
