#!/usr/bin/env bash
# libsteep as a user installs it: `cmake --install` into a prefix, then a
# program built only with `pkg-config --cflags --libs steep` links, runs, and
# sees exactly the documented API (no internal symbol is exported).
set -euo pipefail
build=${STEEP_BUILD_DIR:?}
prefix=$(mktemp -d /tmp/steep-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs steep)
cat >"$prefix/user.c" <<'C'
#include <steep/steep.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    struct steep_error err;
    /* Without an attestation root a client must refuse to exist. */
    steep_client *c = steep_client_new(&(struct steep_client_options){0}, &err);
    printf("%s|%s|%s\n", c ? "client" : "refused", steep_error_code_name(7),
           steep_task_status_name(STEEP_TASK_FAILED));
    return c == NULL && err.code == STEEP_ERROR_LOCAL ? 0 : 1;
}
C
cc -std=c17 -Wall -Werror "$prefix/user.c" $flags -Wl,-rpath,"$prefix/lib" -o "$prefix/user"
out=$("$prefix/user")
[ "$out" = "refused|PERMISSION_DENIED|Failed" ] || { echo "unexpected output: $out"; exit 1; }
lib=$(ls "$prefix"/lib/libsteep.so.0* | head -n 1)
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort)
declared=$(grep -o '^STEEP_API [^(]*(' "$prefix/include/steep/steep.h" | sed 's/($//' | awk '{print $NF}' | tr -d '*' | sort)
[ "$exported" = "$declared" ] || { echo "exported symbols differ from the header:"; diff <(echo "$declared") <(echo "$exported"); exit 1; }
echo "1 passed, 0 failed"
