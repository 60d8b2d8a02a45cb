#!/usr/bin/env bash
# --version on steep, steep-tee and every service: "NAME VERSION", exit 0,
# where VERSION is `git describe --always --dirty` of the source tree at
# build time — a commit of this tree's history (HEAD, or an ancestor when
# commits were made since the build) — or the project's x.y.z outside git.
set -euo pipefail
: "${STEEP_BIN:=${STEEP_BUILD_DIR:-$PWD/build}/bin}"
: "${STEEP_SOURCE_DIR:=$PWD}"
in_git=false
git -C "$STEEP_SOURCE_DIR" rev-parse HEAD >/dev/null 2>&1 && in_git=true
# version_ok VERSION: the description of a commit of HEAD's history, or x.y.z.
version_ok() {
  if ! $in_git; then [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; return; fi
  local v=${1%-dirty} commit
  [[ $v =~ ^([0-9A-Za-z._-]+-g)?([0-9a-f]{7,40})$ ]] || return 1
  commit=${BASH_REMATCH[2]}
  git -C "$STEEP_SOURCE_DIR" merge-base --is-ancestor "$commit" HEAD 2>/dev/null
}
passed=0 failed=0
for b in steep steep-tee steep-authentication steep-access-control steep-storage \
         steep-management steep-scheduler steep-frontend steep-execution; do
  out=$("$STEEP_BIN/$b" --version 2>&1) && rc=0 || rc=$?
  name=${out%% *} version=${out#* }
  if [ $rc = 0 ] && [ "$name" = "$b" ] && version_ok "$version"; then
    passed=$((passed + 1)); echo "ok      $out"
  else
    failed=$((failed + 1)); echo "FAILED  $b --version: exit $rc, '$out' (wanted $b and a commit of HEAD's history)"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
