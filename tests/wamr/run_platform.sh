#!/usr/bin/env bash
# The WebAssembly executor through the whole platform, as users run it
# (steep up: every service, one execution node with two slots; the CLI).
# Payloads are built here with Debian's clang and rustc: Teaclave's C
# simple-add, the C millionaire's problem and the Rust PSI, a WASI C
# program with printf/malloc/fopen, a WASI probe of the sandbox; hostile
# modules fail only their own task while a normal task finishes beside
# them; cancel stops a running module at once; a 50 MiB module is refused;
# a corrupted cache entry is rebuilt after a restart.
. "$(dirname "$0")/../lib/platform.sh"
platform_start 1 2
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }
src=$STEEP_SOURCE_DIR/tests/wamr/payloads
build=$platform_tmp/payloads
mkdir -p "$build"
nostdlib=(clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-all -Wl,--allow-undefined)
"${nostdlib[@]}" -o "$build/simple_add.wasm" "$src/simple_add.c"
"${nostdlib[@]}" -o "$build/millionaire.wasm" "$src/millionaire.c"
for p in wasi_upper wasi_probe; do
  clang --target=wasm32-wasi --sysroot=/usr -O2 -o "$build/$p.wasm" "$src/$p.c"
done
/usr/bin/rustc --target wasm32-unknown-unknown --crate-type cdylib -C opt-level=2 -C strip=symbols \
  -o "$build/psi.wasm" "$src/psi.rs"

"$STEEP" user login admin --password teaclave >/dev/null
zero=00000000000000000000000000000000
out=$FILES_DIR/outputs/wasm
mkdir -p "$out"
register() { # NAME PAYLOAD [function register options...] -> function id
  local name=$1 payload=$2; shift 2
  "$STEEP" function register --user admin --name "$name" --executor-type wamr \
    --payload "$payload" "$@"
}
start_task() { # FUNCTION_ID ARGS_JSON -> task id
  local task
  task=$("$STEEP" task create --user admin --function "$1" --executor wamr --args "$2")
  "$STEEP" task invoke "$task" --user admin >/dev/null
  echo "$task"
}
expect_result() { # NAME TASK STATUS PATTERN
  local res rc
  res=$("$STEEP" task result "$2" --user admin --wait 60 2>&1) && rc=0 || rc=$?
  if [ "$rc" = "$3" ] && grep -qE "$4" <<<"$res"; then ok "$1"; else
    fail "$1 (exit $rc, wanted $3 /$4/)" "$res"; fi
}
input() { # FILE(plain) NAME -> data id (teaclave-file-128 under the zero key, served)
  local cmac
  cmac=$("$STEEP" file encrypt --scheme teaclave-file-128 --key "$zero" "$1" "$out/$2.enc" |
    sed -n 's/^cmac //p')
  "$STEEP" data input --user admin "$FILES_URL/outputs/wasm/$2.enc" --scheme teaclave-file-128 \
    --key "$zero" --cmac "$cmac"
}
output() { # NAME -> data id
  "$STEEP" data output --user admin "$FILES_URL/outputs/wasm/$1.enc" --scheme teaclave-file-128 \
    --key "$zero"
}
decrypt() { # NAME -> plaintext on stdout
  "$STEEP" file decrypt --scheme teaclave-file-128 --key "$zero" "$out/$1.enc" "$out/$1.txt" \
    >/dev/null && cat "$out/$1.txt"
}
files_task() { # FUNCTION_ID ARGS name=id... -- name=id... -> task id
  local function=$1 args=$2 create=() assign=() spec kind=--input task
  shift 2
  for spec in "$@"; do
    if [ "$spec" = "--" ]; then kind=--output; continue; fi
    create+=("$kind" "${spec%%=*}=admin")
    assign+=("$kind" "$spec")
  done
  task=$("$STEEP" task create --user admin --function "$function" --executor wamr --args "$args" \
    "${create[@]}")
  "$STEEP" task assign "$task" --user admin "${assign[@]}" >/dev/null
  "$STEEP" task approve "$task" --user admin >/dev/null
  "$STEEP" task invoke "$task" --user admin >/dev/null
  echo "$task"
}

# Teaclave's simple add: entrypoint(["adder1","3","adder2","4"]) = 7.
add_id=$(register entrypoint "$build/simple_add.wasm" --overwritable-arg adder1 --overwritable-arg adder2)
add=$(start_task "$add_id" '{"adder1": "3", "adder2": "4"}')
expect_result "simple add" "$add" 0 "^7$"

# The millionaire's problem: two input files, one output.
fixtures=$FILES_DIR/fixtures/functions/wamr_c_millionaire_problem
mill_id=$(register millionaire "$build/millionaire.wasm" --arg input_file_id1=pf_in_a \
  --arg input_file_id2=pf_in_b --arg output_file_id=pf_out --input pf_in_a --input pf_in_b \
  --output pf_out)
mill=$(files_task "$mill_id" '{}' pf_in_a="$(input "$fixtures/input_a.txt" mill_a)" \
  pf_in_b="$(input "$fixtures/input_b.txt" mill_b)" -- pf_out="$(output mill_out)")
expect_result "millionaire's problem returns the bytes written" "$mill" 0 "^7$"
[ "$(decrypt mill_out)" = "$(cat "$fixtures/expected_output.txt")" ] &&
  ok "millionaire output decrypts to $(cat "$fixtures/expected_output.txt")" || fail "millionaire output"

# Rust PSI (wasm32-unknown-unknown, Rust std inside the module).
psi_fixtures=$FILES_DIR/fixtures/functions/wamr_rust_psi
psi_id=$(register rust-wasm-ordered-set-intersect "$build/psi.wasm" --arg input1_fid=input_data1 \
  --arg input2_fid=input_data2 --arg output1_fid=output_result1 --arg output2_fid=output_result2 \
  --input input_data1 --input input_data2 --output output_result1 --output output_result2)
psi_in1=$("$STEEP" data input --user admin "$FILES_URL/fixtures/functions/wamr_rust_psi/psi0.txt.enc" \
  --scheme teaclave-file-128 --key "$zero" --cmac fd9b319ae0fc595a98ee4135667ac0ac)
psi_in2=$("$STEEP" data input --user admin "$FILES_URL/fixtures/functions/wamr_rust_psi/psi1.txt.enc" \
  --scheme teaclave-file-128 --key "$zero" --cmac 93cc677d7bac5910cd7199f7d6b9ac15)
psi=$(files_task "$psi_id" '{}' input_data1="$psi_in1" input_data2="$psi_in2" -- \
  output_result1="$(output psi_out1)" output_result2="$(output psi_out2)")
expect_result "Rust PSI finds 6 common items" "$psi" 0 "^6$"
expected=$( (comm -12 <(sort -u "$psi_fixtures/psi0.txt") <(sort -u "$psi_fixtures/psi1.txt"); echo done) | LC_ALL=C sort)
for i in 1 2; do
  got=$(decrypt "psi_out$i" | LC_ALL=C sort)
  [ "$got" = "$expected" ] && ok "PSI output $i: the common lines and done" ||
    fail "PSI output $i" "$got"
done

# WASI: printf, malloc, fopen of an input and an output by data name.
printf 'hello wasi\nsecond line\nthird\n' > "$platform_tmp/text.txt"
wasi_id=$(register wasi-upper "$build/wasi_upper.wasm" --overwritable-arg mode \
  --input input_text --output output_text)
wasi=$(files_task "$wasi_id" '{"mode": "upper"}' input_text="$(input "$platform_tmp/text.txt" wasi_in)" \
  -- output_text="$(output wasi_out)")
expect_result "WASI program: exit code = lines read" "$wasi" 0 "^3$"
[ "$(decrypt wasi_out)" = "$(tr a-z A-Z < "$platform_tmp/text.txt")" ] &&
  ok "WASI output decrypts to the upper-cased input" || fail "WASI output" "$(decrypt wasi_out)"

# A WASI program trying to reach outside its task is refused every time.
probe_id=$(register wasi-probe "$build/wasi_probe.wasm")
probe=$(start_task "$probe_id" '{}')
expect_result "WASI probe: no file, directory, socket or descriptor outside the task" "$probe" 0 "^0$"

# Hostile modules beside a normal task: each fails alone.
wat() { # NAME TEXT -> wasm path
  printf '%s' "$2" > "$build/$1.wat" && wat2wasm "$build/$1.wat" -o "$build/$1.wasm" && echo "$build/$1.wasm"
}
loop_id=$(register loop "$(wat loop '(module (func (export "entrypoint") (param i32 i32) (result i32) (loop $l (br $l)) (i32.const 0)))')")
loop=$(start_task "$loop_id" '{}')
uuid=${loop#task-}
for i in $(seq 100); do grep -qs "running task $uuid" "$STEEP_DIR"/logs/execution-*.log && break; sleep 0.1; done
add2=$(start_task "$add_id" '{"adder1": "40", "adder2": "2"}')
expect_result "a normal task finishes beside an endless loop" "$add2" 0 "^42$"
started=$(date +%s)
"$STEEP" task cancel "$loop" --user admin >/dev/null
expect_result "cancel stops the endless loop" "$loop" 1 "[Cc]ancel"
[ $(($(date +%s) - started)) -lt 15 ] && ok "cancel is prompt" || fail "cancel took too long"
trap_id=$(register trap "$(wat trap '(module (func (export "entrypoint") (param i32 i32) (result i32) (i32.div_u (i32.const 1) (i32.const 0))))')")
expect_result "a trap fails the task naming it" "$(start_task "$trap_id" '{}')" 1 \
  "WebAssembly trap: integer divide by zero"
deep_id=$(register deep "$(wat deep '(module (func $f (param i32) (result i32) (i32.add (call $f (local.get 0)) (i32.const 1))) (func (export "entrypoint") (param i32 i32) (result i32) (call $f (i32.const 0))))')")
expect_result "deep recursion: call stack exhausted" "$(start_task "$deep_id" '{}')" 1 \
  "call stack exhausted"
import_id=$(register import "$(wat import '(module (import "env" "fork" (func (result i32))) (func (export "entrypoint") (param i32 i32) (result i32) (i32.const 0)))')")
expect_result "an unknown import fails with its name" "$(start_task "$import_id" '{}')" 1 \
  "unknown import env.fork"
expect_result "and the platform carries on" "$(start_task "$add_id" '{"adder1": "1", "adder2": "1"}')" 0 "^2$"

# A 50 MiB module.
{ printf '\0asm\1\0\0\0'; head -c $((50 << 20)) /dev/zero; } > "$build/huge.wasm"
if huge_id=$(register huge "$build/huge.wasm" 2>"$platform_tmp/huge.err"); then
  expect_result "a 50 MiB module is refused" "$(start_task "$huge_id" '{}')" 1 "too large"
else
  cat "$platform_tmp/huge.err"; grep -qiE "too large|exceed|limit" "$platform_tmp/huge.err" &&
    ok "a 50 MiB module is refused at registration" || fail "50 MiB module" "$(cat "$platform_tmp/huge.err")"
fi

# The cache survives a restart, and a damaged entry is rebuilt, not loaded.
cache=$(find "$STEEP_DIR" -type d -name wasm-cache | head -1)
entries=$(ls "$cache"/*.so | wc -l)
[ "$entries" -ge 5 ] && ok "compiled modules are cached ($entries)" || fail "cache has $entries entries"
"$STEEP" down --dir "$STEEP_DIR" >/dev/null
for so in "$cache"/*.so; do printf 'garbage' | dd of="$so" bs=1 seek=4096 conv=notrunc 2>/dev/null; done
"$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" >/dev/null
expect_result "simple add after a restart with corrupted cache entries" \
  "$(start_task "$add_id" '{"adder1": "5", "adder2": "6"}')" 0 "^11$"
grep -qs "failed verification" "$STEEP_DIR"/logs/execution-*.log &&
  ok "the damaged entry was detected and rebuilt" || fail "no verification failure logged"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
