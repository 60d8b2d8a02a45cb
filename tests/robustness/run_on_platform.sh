#!/usr/bin/env bash
# Starts a whole platform on free ports (tests/lib/platform.sh), runs one
# robustness script against it, shows the platform's logs on failure.
# Usage: run_on_platform.sh EXECUTORS SLOTS SCRIPT [ARGS...]
. "$(dirname "$0")/../lib/platform.sh"
executors=$1 slots=$2 script=$3
shift 3
platform_start "$executors" "$slots"
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
# ROBUST_CONFIG: TOML lines appended to steep.toml ([execution] is its last
# table), applied by restarting the platform.
if [ -n "${ROBUST_CONFIG:-}" ]; then
  "$STEEP" down --dir "$STEEP_DIR" >/dev/null
  printf '%b\n' "$ROBUST_CONFIG" >>"$STEEP_DIR/steep.toml"
  "$STEEP" up --dir "$STEEP_DIR" >"$STEEP_DIR/up-again.log" 2>&1 || { cat "$STEEP_DIR/up-again.log" >&2; exit 1; }
fi
export STEEP
export STEEP_BUILD_DIR=${STEEP_BUILD_DIR:-$(dirname "$STEEP_BIN")}
export STEEP_SOURCE_DIR=${STEEP_SOURCE_DIR:-$PWD}
case $script in
  *.py) /usr/bin/python3 "$(dirname "$0")/$script" "$@" ;;
  *) bash "$(dirname "$0")/$script" "$@" ;;
esac
