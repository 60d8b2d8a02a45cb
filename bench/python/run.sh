#!/usr/bin/env bash
# The Python executor: sandboxed start -> entrypoint with the node's zygote
# (reference: a runner exec'd per task), Python echo vs builtin-echo
# create -> result through a platform in the same run, a numpy-heavy
# function in the sandbox vs the same script under /usr/bin/python3, and
# the idle memory of a node with its zygote.
#   BENCH_RUNS (200 starts), BENCH_TASKS (50 tasks of each echo)
cd "$(dirname "$0")/../.."
export STEEP_BIN=${STEEP_BUILD_DIR:-$PWD/build}/bin
. tests/lib/platform.sh
here=bench/python
jail=$(mktemp -d /tmp/steep-bench-jail.XXXXXX)
chmod 500 "$jail"
echo "== sandboxed start -> entrypoint ($(nproc) cores)"
"$STEEP_BIN/bench_python_start" "$STEEP_BIN/steep-python-runner" "$jail" "${BENCH_RUNS:-200}" 2>/dev/null
rmdir "$jail"

platform_start 1 2
echo "== create -> result through the platform (1 node x 2 slots)"
"$STEEP_BIN/bench_python_e2e" "${BENCH_TASKS:-50}" "$here/echo.py"

echo "== numpy-heavy function (best of 3 interleaved runs each)"
"$STEEP" user login admin --password teaclave >/dev/null
heavy=$("$STEEP" function register --user admin --name numpy-heavy --executor-type python \
  --payload "$here/numpy_heavy.py")
best() { tr ' ' '\n' | sort -n | head -n1; }
# Interleaved, so the three see the same load; best of the runs of each.
inside=() outside=() outside1=()
for i in 1 2 3; do
  task=$("$STEEP" task create --user admin --function "$heavy" --executor mesapy --args '{}')
  "$STEEP" task invoke "$task" --user admin >/dev/null
  inside+=("$("$STEEP" task result "$task" --user admin --wait 120)")
  outside+=("$(/usr/bin/python3 "$here/numpy_heavy.py")")
  outside1+=("$(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$here/numpy_heavy.py")")
done
t_in=$(best <<<"${inside[*]}") t_out=$(best <<<"${outside[*]}") t_out1=$(best <<<"${outside1[*]}")
ratio() { /usr/bin/python3 -c "print('%.2f' % ($1 / $2))"; }
printf 'sandbox (one BLAS thread)               %8.3f s\n' "$t_in"
printf '/usr/bin/python3, default BLAS threads  %8.3f s  speed ratio %sx (budget >= 0.9x)\n' \
  "$t_out" "$(ratio "$t_out" "$t_in")"
printf '/usr/bin/python3, OPENBLAS_NUM_THREADS=1 %7.3f s  speed ratio %sx\n' \
  "$t_out1" "$(ratio "$t_out1" "$t_in")"

echo "== idle memory of the execution node"
node=$(cat "$STEEP_DIR/run/execution-0.pid" 2>/dev/null || true)
[ -n "$node" ] || node=$(cat "$STEEP_DIR"/run/execution-*.pid | head -n1)
zygote=$(ps --ppid "$node" -o pid=,args= | awk '/--zygote/ {print $1}' | head -n1)
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/${3:-status}"; }
printf 'node   RSS %6d KiB  PSS %6d KiB\n' "$(kib "$node" VmRSS)" "$(kib "$node" Pss smaps_rollup)"
printf 'zygote RSS %6d KiB  PSS %6d KiB (interpreter, numpy and the allowed modules loaded)\n' \
  "$(kib "$zygote" VmRSS)" "$(kib "$zygote" Pss smaps_rollup)"
