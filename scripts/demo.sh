#!/usr/bin/env bash
# `make demo`: start a local platform (sim TEE back-end), run the
# three-party private join-and-compute example end to end through the CLI,
# print each party's decrypted result, and stop the platform. It needs
# nothing beside the clone: the banks' customer lists are generated and
# encrypted by the example itself (examples/inputs.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$repo/build/bin
dir=${DEMO_DIR:-$repo/demo-platform}

mkdir -p "$dir/files"
"$bin/steep" up --dir "$dir" --files "$dir/files" --executors 2
trap '"$bin/steep" down --dir "$dir" >/dev/null' EXIT
"$bin/steep" attest localhost:7777 --dir "$dir"

export STEEP_DIR=$dir STEEP_HOME=$dir/home FILES_DIR=$dir/files STEEP_BIN=$bin
"$repo/examples/private_join_and_compute.sh"
echo "demo: OK (platform logs in $dir/logs; the platform is stopped now)"
