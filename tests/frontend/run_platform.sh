#!/usr/bin/env bash
# The frontend and the audit log on a real platform (steep up: every service).
. "$(dirname "$0")/../lib/platform.sh"
platform_start 1 1
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
"$STEEP_BIN/frontend_platform_check"
