#!/usr/bin/env bash
# Runs every libFuzzer target built in $1 for a short, bounded time.
set -euo pipefail
dir=${1:-build-fuzz}
secs=${STEEP_FUZZ_SECONDS:-20}
count=0
for f in "$dir"/bin/fuzz-*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus="fuzz/corpus/${name#fuzz-}"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  echo "fuzz: $name for ${secs}s"
  "$f" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$work" >"$work.log" 2>&1 || {
    tail -n 40 "$work.log"; echo "fuzz: $name FAILED"; exit 1; }
  rm -rf "$work" "$work.log"
  count=$((count + 1))
done
echo "fuzz: $count targets ran clean"
