#!/usr/bin/env bash
# The login attacks of login_attacks.py against a real platform (steep up,
# default [authentication] settings). Pass --bench for the issue's scale.
. "$(dirname "$0")/../lib/platform.sh"
platform_start 0 1
export STEEP_SOURCE_DIR=${STEEP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export STEEP_BUILD_DIR=${STEEP_BIN%/bin}
if ldd "$STEEP_BIN/steep-authentication" | grep -q libasan; then export STEEP_SANITIZED=1; fi
trap 'status=$?; [ $status = 0 ] || tail -n 30 "$STEEP_DIR/logs/authentication.log"; platform_stop; exit $status' EXIT
/usr/bin/python3 "$(dirname "$0")/login_attacks.py" "$@"
