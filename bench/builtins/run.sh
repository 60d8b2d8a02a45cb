#!/usr/bin/env bash
# Run time (median of BENCH_RUNS, default 20) and peak RSS of each built-in
# on its Teaclave fixture, the function's own code in one process (no
# sandbox start, no platform). References in the same run: x_time is the
# ratio to a fixed workload (a dependent sum over 32 MiB of doubles), x_rss
# the ratio to builtin-echo's peak RSS (the floor of a process running a
# built-in). No budget: the figures are there so a regression shows up.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${STEEP_BUILD_DIR:-$PWD/build}/bin
fx=${STEEP_SHARED_DIR:-$PWD/../shared}/fixtures/teaclave/functions
runs=${BENCH_RUNS:-20}
out=$(mktemp -d /tmp/steep-bench-builtins.XXXXXX)
trap 'rm -rf "$out"' EXIT
gbdt='{"feature_size":4,"max_depth":4,"iterations":100,"shrinkage":0.1,"feature_sample_ratio":1.0,"data_sample_ratio":1.0,"min_leaf_size":1,"loss":"LAD","training_optimization_level":2}'
cases=(
  "reference||"
  "builtin-echo|{\"message\":\"Hello, Teaclave!\"}|"
  "builtin-ordered-set-intersect|{\"order\":\"ascending\"}|in:input_data1=$fx/ordered_set_intersect/psi0.txt in:input_data2=$fx/ordered_set_intersect/psi1.txt out:output_result1=$out/r1 out:output_result2=$out/r2"
  "builtin-ordered-set-join|{\"left_column\":0,\"right_column\":0,\"ascending\":true,\"drop\":true}|in:input_data1=$fx/ordered_set_join/join0.csv in:input_data2=$fx/ordered_set_join/join1.csv out:output_result=$out/j"
  "builtin-private-join-and-compute|{\"num_user\":3}|in:input_data0=$fx/private_join_and_compute/three_party_data/bank_a.txt in:input_data1=$fx/private_join_and_compute/three_party_data/bank_b.txt in:input_data2=$fx/private_join_and_compute/three_party_data/bank_c.txt out:output_data0=$out/p0 out:output_data1=$out/p1 out:output_data2=$out/p2"
  "builtin-password-check|{}|in:password=$fx/password_check/password.txt in:exposed_passwords=$fx/password_check/exposed_passwords.txt"
  "builtin-rsa-sign|{\"data\":\"test data\"}|in:rsa_key=$fx/rsa_sign/key.der"
  "builtin_online_decrypt|{\"key\":\"aqUdgZ0lJnuz9yiPkoDxM6ZcTcVVpd4KKLqzbHD88Lg=\",\"nonce\":\"AAECAwQFBgcICQoL\",\"encrypted_data\":\"CaZd8qSMMlBp8SjSXj2I4dQIuC9KkZ5DI/ATo1sWJw==\",\"algorithm\":\"aes256gcm\"}|"
  "builtin-gbdt-train|$gbdt|in:training_data=$fx/gbdt_training/train.txt out:trained_model=$out/m"
  "builtin-gbdt-predict|{}|in:model_file=$fx/gbdt_prediction/model.txt in:data_file=$fx/gbdt_prediction/test_data.txt out:result_file=$out/g"
  "builtin-logistic-regression-train|{\"alg_alpha\":0.3,\"alg_iters\":100,\"feature_size\":30}|in:training_data=$fx/logistic_regression_training/train.txt out:model_file=$out/l"
  "builtin-logistic-regression-predict|{}|in:model_file=$fx/logistic_regression_prediction/model.txt in:data_file=$fx/logistic_regression_prediction/predict_input.txt out:result_file=$out/lp"
  "builtin_principal_components_analysis|{\"n\":2,\"center\":true,\"feature_size\":4}|in:input_data=$fx/princopal_components_analysis/input.txt out:output_data=$out/pca"
)
# The face helper adds builtin-face-detection (input.jpg, and a 1920x1080 image) here.
printf '%-38s %10s %10s %10s %8s %8s\n' function median_ms min_ms peak_kib x_time x_rss
ref_ms="" ref_kib=""
for c in "${cases[@]}"; do
  IFS='|' read -r name args files <<<"$c"
  # shellcheck disable=SC2086
  line=$(/usr/bin/time -f 'rss %M' "$bin/bench_builtins" "$runs" "$name" "$args" $files 2>"$out/time")
  kib=$(awk '/^rss /{print $2}' "$out/time")
  read -r _ median min <<<"$line"
  if [ -z "$ref_ms" ]; then ref_ms=$median; continue; fi
  if [ -z "$ref_kib" ]; then ref_kib=$kib; fi
  awk -v n="$name" -v m="$median" -v mi="$min" -v k="$kib" -v rm="$ref_ms" -v rk="$ref_kib" \
    'BEGIN{printf "%-38s %10.3f %10.3f %10d %8.3f %8.2f\n", n, m, mi, k, (rm>0? m/rm : 0), k/rk}'
done
echo "reference (same run): fixed workload ${ref_ms} ms (x_time), builtin-echo ${ref_kib} KiB peak RSS (x_rss)"
