#!/usr/bin/env bash
# steep(1) (man/steep.1) renders without warnings and documents every
# command, every sub-command of the CLI's dispatch tables, every option those
# tables accept and every option each command's --help names, so the manual
# cannot drift from the code.
set -euo pipefail
: "${STEEP_BIN:=${STEEP_BUILD_DIR:-$PWD/build}/bin}"
: "${STEEP_SOURCE_DIR:=$PWD}"
page=$STEEP_SOURCE_DIR/man/steep.1
steep=$STEEP_BIN/steep
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; }

warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
[ -z "$warnings" ] && ok "man -l renders steep.1 without warnings" || fail "warnings: $warnings"
# The page's text with roff's escaped hyphens plain, for searching.
text=$(sed 's/\\-/-/g; s/\\f[BIRP]//g' "$page")
documented() { grep -qF -- "$1" <<<"$text"; }

for group in $("$steep" __complete | grep -v '^--'); do
  documented ".B steep $group" && ok "command $group" || fail "command $group is not in steep(1)"
  for option in $("$steep" "$group" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    documented "$option" || fail "$group --help names $option, steep(1) does not"
  done
  for sub in $("$steep" "$group" __complete 2>/dev/null | grep -v '^--' || true); do
    documented ".B steep $group $sub" && ok "  $group $sub" || fail "$group $sub is not in steep(1)"
    for option in $("$steep" "$group" "$sub" __complete | grep -v -- '--help'); do
      documented "$option" || fail "$group $sub takes $option, steep(1) does not name it"
    done
  done
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
