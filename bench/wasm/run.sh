#!/usr/bin/env bash
# WebAssembly executor benchmark (issue 12), in one run:
#  1. the compute-bound program (xorshift fill + shell sort of 64 Ki ints,
#     40 rounds): gcc -O2 native process vs the same C as a wasm task
#     payload (clang --target=wasm32 -nostdlib -O2) on one node through the
#     sandbox, cached; budget <= 1.5x native;
#  2. the Rust PSI payload vs builtin-ordered-set-intersect on the same
#     inputs (two sorted files of 50 000 lines, raw inputs, tf128 outputs);
#  3. first-use compile of a ~400 kB module (empty cache); budget <= 2 s;
#  4. cached task start -> entrypoint p50 over 40 tasks, with a runner
#     started per task and in a pre-started one ([execution] runner_pool);
#     budget <= 5 ms.
# Uses $STEEP_BUILD_DIR (default build/); builds the payloads in a temp dir.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export STEEP_BUILD_DIR="${STEEP_BUILD_DIR:-$root/build}"
exe=$STEEP_BUILD_DIR/bin/bench_wasm
[ -x "$exe" ] || { echo "bench/wasm: $exe not found; build first (make build)" >&2; exit 1; }
here=$root/bench/wasm
tmp=$(mktemp -d /tmp/steep-bench-wasm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
nostdlib=(clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export=entrypoint -Wl,--allow-undefined)
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# 1. compute-bound program
gcc -O2 -DNATIVE -o "$tmp/sort" "$here/sort.c"
"${nostdlib[@]}" -o "$tmp/sort.wasm" "$here/sort.c"
expected=$("$tmp/sort")
# Interleaved (the machine may be shared): native run, cached wasm task, x5.
export BENCH_WASM_CACHE=$tmp/cache
"$exe" task WAMicroRuntime sort "$tmp/sort.wasm" '{}' 1 > /dev/null # compile once
for i in 1 2 3 4 5; do
  s=$(date +%s%N); "$tmp/sort" > /dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)) >> "$tmp/native.ms"
  "$exe" task WAMicroRuntime sort "$tmp/sort.wasm" '{}' 1 > "$tmp/sort.out"
  result=$(sed -n 's/^result //p' "$tmp/sort.out")
  [ "$result" = "$expected" ] || { echo "wasm result $result != native $expected" >&2; exit 1; }
  sed -n 's/^ms //p' "$tmp/sort.out" >> "$tmp/wasm.ms"
done
unset BENCH_WASM_CACHE
native=$(median < "$tmp/native.ms")
wasm=$(median < "$tmp/wasm.ms")
echo "compute-bound program: native ${native} ms, wasm task ${wasm} ms (cached, whole task)," \
  "ratio $(awk -v a="$wasm" -v b="$native" 'BEGIN {printf "%.2f", a / b}')x (budget 1.5x)"

# 2. Rust PSI vs the builtin
/usr/bin/rustc --target wasm32-unknown-unknown --crate-type cdylib -C opt-level=2 -C strip=symbols \
  -o "$tmp/psi.wasm" "$root/tests/wamr/payloads/psi.rs"
seq 0 2 99999 | awk '{printf "%08d\n", $1}' > "$tmp/a.txt"
seq 0 3 149999 | awk '{printf "%08d\n", $1}' > "$tmp/b.txt"
common=$(comm -12 "$tmp/a.txt" "$tmp/b.txt" | wc -l)
files=(in:input_data1="$tmp/a.txt" in:input_data2="$tmp/b.txt")
"$exe" task WAMicroRuntime psi "$tmp/psi.wasm" \
  '{"input1_fid":"input_data1","input2_fid":"input_data2","output1_fid":"output_result1","output2_fid":"output_result2"}' \
  4 "${files[@]}" out:output_result1="$tmp/w1" out:output_result2="$tmp/w2" > "$tmp/psi.out"
[ "$(sed -n 's/^result //p' "$tmp/psi.out")" = "$common" ] || { echo "PSI result wrong" >&2; exit 1; }
psi=$(sed -n 's/^ms //p' "$tmp/psi.out" | tail -n 3 | median)
"$exe" task Builtin builtin-ordered-set-intersect - '{"order":"ascending"}' 3 "${files[@]}" \
  out:output_result1="$tmp/b1" out:output_result2="$tmp/b2" > "$tmp/builtin.out"
builtin=$(sed -n 's/^ms //p' "$tmp/builtin.out" | median)
echo "PSI of 50000 x 50000 lines ($common common): Rust wasm ${psi} ms, builtin ${builtin} ms," \
  "ratio $(awk -v a="$psi" -v b="$builtin" 'BEGIN {printf "%.2f", a / b}')x"

# 3. first-use compile of a ~400 kB module
/usr/bin/python3 "$here/gen_large.py" 2650 > "$tmp/large.c"
"${nostdlib[@]}" -o "$tmp/large.wasm" "$tmp/large.c"
compile=$("$exe" compile "$tmp/large.wasm" | sed -n 's/^ms //p')
echo "first-use compile of a $(($(stat -c %s "$tmp/large.wasm") / 1024)) KiB module: ${compile} ms (budget 2000 ms)"

# 4. cached start -> entrypoint
wat2wasm "$here/start.wat" -o "$tmp/start.wasm"
cold=$("$exe" start "$tmp/start.wasm" 40 | sed -n 's/^p50 //p')
pooled=$(BENCH_RUNNER_POOL=1 "$exe" start "$tmp/start.wasm" 40 2>/dev/null | sed -n 's/^p50 //p')
echo "cached task start -> entrypoint: p50 ${cold} ms with a runner started per task," \
  "${pooled} ms in a pre-started runner (ratio $(awk -v a="$pooled" -v b="$cold" 'BEGIN {printf "%.2f", a / b}'); budget 5 ms)"
