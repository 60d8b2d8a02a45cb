#!/usr/bin/env bash
# builtin-face-detection: run time and peak RSS of the built-in on Teaclave's
# fixture (1666x1136) and on a 1920x1080 JPEG made from it, Teaclave's
# example settings (best of RUNS, default 3). Uses $STEEP_BUILD_DIR (default
# build/) /bin/bench_face and the model in $STEEP_SHARED_DIR (default
# ../shared). The same-run reference is the fixture: the 1080p run's time
# per megapixel against the fixture's shows how the cost scales.
set -euo pipefail
build=${STEEP_BUILD_DIR:-build}
shared=${STEEP_SHARED_DIR:-../shared}
bin="$build/bin/bench_face"
[ -x "$bin" ] || { echo "missing $bin: build first (ninja -C $build bench_face)"; exit 1; }
model="$shared/fixtures/seetaface/seeta_fd_frontal_v1.0.bin"
input="$shared/fixtures/teaclave/functions/face_detection/input.jpg"
echo "== builtin-face-detection (load: $(cut -d' ' -f1-3 /proc/loadavg)) =="
out=$("$bin" "$model" "$input" "${RUNS:-3}")
echo "$out" | awk '/^RESULT/ {
  mp = $3 * $4 / 1e6; t[$2] = $7 / mp;
  printf "%-10s %ux%u: %d faces, wall %.3f s, CPU %.3f s (%.3f CPU s per megapixel), peak RSS %.1f MiB\n", $2, $3, $4, $5, $6, $7, $7 / mp, $8 / 1024;
}
END { if (t["fixture"] > 0) printf "reference: 1920x1080 costs %.2fx the fixture per megapixel (CPU time; the wall time includes waiting for a loaded machine)\n", t["1920x1080"] / t["fixture"] }'
