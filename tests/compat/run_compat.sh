#!/usr/bin/env bash
# Teaclave-compatibility acceptance: an independent Python gRPC client that
# verifies RA-TLS like Teaclave's SDK and walks its examples' flows.
. "$(dirname "$0")/../lib/platform.sh"
platform_start 1 2
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
export STEEP_BUILD_DIR=${STEEP_BUILD_DIR:-$(dirname "$STEEP_BIN")}
/usr/bin/python3 "$(dirname "$0")/teaclave_client.py"
