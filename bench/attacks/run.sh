#!/usr/bin/env bash
# Availability under attack (issue 14, items 4-8): the attacks of
# tests/rpc/attack_test.py at the issue's scale against our RPC server
# (rpc-echo-server, the same lib/rpc every Steep service runs) with its
# default bounds (except idle/handshake timeouts of 5 s in "idle" and a
# global limit of 400 in "limit", so a short run sees them act), while a legitimate client (rpc-attack probe, new
# connection per run) measures p50 of small calls before, during and after.
# Prints, per attack, p50 before/during/after with ratios to the same-run
# baseline, and the attacked server's baseline / peak / after RSS with the
# peak ratio:
#   hoard   12 connections x 40 streams announcing 4 MiB, 1 MiB sent, held
#   idle    1500 idle TLS connections + 1500 bare TCP ones, two sources
#   limit   1500 idle TLS connections against a global limit of 400
#   unread  4 connections x 150 streams, window 0, 2 MiB replies asked
#   hold    1 100 long polls of 8 s at once against 16 workers (held calls)
#   cancel  2 000 calls sent whole and reset at once (RST_STREAM): none runs
#   frontend.sh: hoard again, against a real platform's frontend (GetFunction)
#   longpoll.sh: 1 100 held GetTask (steep-wait-ms) by one user on a real
#     platform; another user's CLI p50, frontend/management/storage RSS
# Builds nothing: uses $STEEP_BUILD_DIR (default build/). About 3 minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export STEEP_BUILD_DIR=${STEEP_BUILD_DIR:-$root/build}
for program in rpc-echo-server rpc-attack; do
  [ -x "$STEEP_BUILD_DIR/bin/$program" ] || { echo "bench/attacks: build first ($program missing)"; exit 1; }
done
/usr/bin/python3 "$root/tests/rpc/attack_test.py" --bench
# the same hoarding against a real platform's frontend
"$root/bench/attacks/frontend.sh"
# long polls against a real platform (item 7)
"$root/bench/attacks/longpoll.sh" 1100
