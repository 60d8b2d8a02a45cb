#!/usr/bin/env bash
# Login attacks against a real platform's authentication service (issue 14,
# items 8 and 9) at the issue's scale: a 2 000-login flood, 1 027 logins
# cancelled by the client, 20 threads guessing admin's password. Prints per
# attack the legitimate client's UserLogin p50 before/during/after with
# ratios to the same-run baseline, and authentication's baseline / peak RSS
# (ratio) and peak threads. Runs tests/authentication/login_attacks.py
# --bench; builds nothing ($STEEP_BUILD_DIR, default build/). About a minute.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export STEEP_BUILD_DIR=${STEEP_BUILD_DIR:-$root/build}
export STEEP_BIN=$STEEP_BUILD_DIR/bin STEEP_SOURCE_DIR=$root
[ -x "$STEEP_BIN/steep-authentication" ] || { echo "bench/attacks: build first"; exit 1; }
cd "$root"
exec bash tests/authentication/login_attacks.sh --bench
