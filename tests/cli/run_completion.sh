#!/usr/bin/env bash
# The bash completion of steep (cli/completion/steep.bash), sourced into this
# shell and driven as bash drives it (COMP_WORDS/COMP_CWORD), against the
# built steep: top-level commands are exactly those `steep --help` lists,
# sub-commands and options come from the CLI's tables.
set -euo pipefail
: "${STEEP_BIN:=${STEEP_BUILD_DIR:-$PWD/build}/bin}"
: "${STEEP_SOURCE_DIR:=$PWD}"
export PATH=$STEEP_BIN:$PATH
. "$STEEP_SOURCE_DIR/cli/completion/steep.bash"
passed=0 failed=0

# complete WANT WORD... : the completion of the last word is exactly WANT.
complete_is() {
  local want=$1; shift
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
  _steep
  local got=""
  [ ${#COMPREPLY[@]} = 0 ] || got=$(printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " ")
  want=$(tr ' ' '\n' <<<"$want" | sed '/^$/d' | sort | tr '\n' ' ')
  if [ "$got" = "$want" ]; then passed=$((passed + 1)); echo "ok      '$*' -> $got"
  else failed=$((failed + 1)); echo "FAILED  '$*': got '$got', wanted '$want'"; fi
}

# Every command of `steep --help`, and nothing else beside --help/--version.
commands=$(steep --help | awk '/^  [a-z]/ {print $1}' | tr '\n' ' ')
[ "$(wc -w <<<"$commands")" -ge 11 ] || { echo "FAILED  steep --help lists only: $commands"; exit 1; }
complete_is "$commands --help --version" steep ""
complete_is "task" steep ta
complete_is "status serve-files" steep s
complete_is "create assign approve invoke cancel get result" steep task ""
complete_is "login register update passwd reset delete list" steep user ""
complete_is "--function --frontend" steep task create --f
complete_is "--password --password-file" steep user login alice --pass
complete_is "--scheme" steep file encrypt --s
complete_is "--executors" steep up --ex
complete_is "--json" steep attest localhost:7777 --js
complete_is "--evidence" steep attest --ev
complete_is "--collateral" steep attest --evidence q.bin --col
complete_is "--accept-status --accept-advisory --allow-debug --allow-simulation --at" steep attest --a
complete_is "" steep task frobnicate --
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
