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
# A message limit out of range stops a service at start, naming the setting.
bad=$STEEP_DIR/bad-limit.toml
{ cat "$STEEP_DIR/steep.toml"; printf '\n[rpc]\nmax_message_bytes = 1024\n'; } > "$bad"
if out=$("$STEEP_BIN/steep-storage" --config "$bad" 2>&1); then
  echo "FAILED  storage started with [rpc] max_message_bytes = 1024"; exit 1
elif ! grep -q 'max_message_bytes must be 65536..67108864, not 1024' <<<"$out"; then
  echo "FAILED  a bad [rpc] max_message_bytes is not named: $out"; exit 1
fi
echo "ok      a service refuses [rpc] max_message_bytes = 1024, naming the setting"
/usr/bin/python3 "$(dirname "$0")/builtins_client.py" "$@"
