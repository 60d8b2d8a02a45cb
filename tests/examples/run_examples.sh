#!/usr/bin/env bash
# Every example, as a CLI script and as a C program on libsteep, against one
# real platform (all services, two execution nodes); each asserts its outputs.
. "$(dirname "$0")/../lib/platform.sh"
platform_start 2 2
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
passed=0 failed=0
run() {
  local name=$1; shift
  if "$@" >"$platform_tmp/$name.out" 2>&1; then
    passed=$((passed + 1)); echo "ok      $name"
  else
    failed=$((failed + 1)); echo "FAILED  $name"; sed 's/^/    /' "$platform_tmp/$name.out"
  fi
}
# The examples' own inputs, made once for the scripts and the C programs.
export EXAMPLE_DIR=$STEEP_HOME/example-inputs
run "prepare-inputs" examples/prepare_inputs.sh
for example in echo ordered_set_intersect private_join_and_compute password_check rsa_sign; do
  run "script:$example" examples/$example.sh
  run "c:$example" "$STEEP_BIN/example-$example"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
