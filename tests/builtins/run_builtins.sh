#!/usr/bin/env bash
# Every built-in through the frontend of a real platform, inside the real
# sandbox, on Teaclave's fixtures served over HTTP (builtins_client.py), plus
# a 3 MiB argument and malformed inputs. Arguments: case names to run only
# those (e.g. gbdt_train).
. "$(dirname "$0")/../lib/platform.sh"
platform_start 1 2
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
# A task memory limit small enough for the malformed cases to exceed with
# inputs of a few MiB ([execution] is the config's last table).
export BUILTINS_MEMORY_MB=96
"$STEEP" down --dir "$STEEP_DIR" >/dev/null
printf 'memory_mb = %d\n' "$BUILTINS_MEMORY_MB" >> "$STEEP_DIR/steep.toml"
"$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" >/dev/null
export STEEP_BUILD_DIR=${STEEP_BUILD_DIR:-$(dirname "$STEEP_BIN")}
/usr/bin/python3 "$(dirname "$0")/builtins_client.py" "$@"
