#!/usr/bin/env bash
# The task runner loads only the C library and libm: libcrypto, jansson,
# libseccomp and libjpeg are linked in from their static archives (the top
# CMakeLists.txt says why), and none of them may be loaded shared beside
# its static copy, which would give the runner two libcryptos with two
# sets of global state. A node keeps linking them shared.
#   check_runner_linkage.sh BINDIR
set -euo pipefail
bin=${1:?usage: check_runner_linkage.sh BINDIR}
needed=$(readelf -d "$bin/steep-task-runner" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | sort)
echo "steep-task-runner needs:" $needed
bad=$(grep -E '^lib(crypto|ssl|jansson|seccomp|jpeg)\.' <<<"$needed" || true)
[ -z "$bad" ] || { echo "FAILED  loaded shared:" $bad; exit 1; }
grep -qx 'libc.so.6' <<<"$needed" || { echo "FAILED  not a dynamic executable of the C library"; exit 1; }
# Their code is in the runner itself.
symbols=$(nm "$bin/steep-task-runner")
for sym in EVP_EncryptInit_ex json_loads seccomp_init jpeg_CreateDecompress; do
  grep -qE " [Tt] $sym$" <<<"$symbols" || { echo "FAILED  $sym not linked in"; exit 1; }
done
node=$(readelf -d "$bin/steep-execution" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
grep -q '^libcrypto\.' <<<"$node" || { echo "FAILED  steep-execution lost its shared libcrypto"; exit 1; }
echo "ok      the runner links libcrypto, jansson, libseccomp and libjpeg statically"
