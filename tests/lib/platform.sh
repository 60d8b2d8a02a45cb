# Test helper: a whole Steep platform on free loopback ports, in a temporary
# directory, stopped and removed when the test exits. Source it, then call
# platform_start [EXECUTORS] [SLOTS] (PLATFORM_BACKEND=etcd: the state in a
# local three-member etcd cluster, steep up --backend etcd). Afterwards: STEEP_DIR, STEEP_HOME,
# FILES_DIR, FILES_URL, STEEP (the CLI), PORT_BASE and the address variables
# the C examples read are exported. The supervisor restarts nothing unless
# PLATFORM_RESTARTS says how often (tests kill processes and expect them to
# stay down); `steep up` itself defaults to 5.

set -euo pipefail
: "${STEEP_BIN:=${STEEP_BUILD_DIR:-$PWD/build}/bin}"
: "${STEEP_SHARED_DIR:=$PWD/../shared}"
export STEEP_BIN STEEP_SHARED_DIR
STEEP=$STEEP_BIN/steep

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

platform_stop() {
  [ -n "${STEEP_DIR:-}" ] || return 0
  "$STEEP" down --dir "$STEEP_DIR" >/dev/null 2>&1 || true
  if [ "${KEEP_PLATFORM:-}" = "" ]; then rm -rf "$platform_tmp"; fi
}

# Key generation (RSA authority, platform and auditor keys) takes seconds;
# tests share one set, made once per build directory under a lock, and each
# platform copies it before `steep up` (which creates only what is missing).
platform_seed_keys() {
  local cache=${STEEP_BIN%/bin}/test-platform-keys
  (
    flock 9
    if [ ! -f "$cache/done" ]; then
      rm -rf "$cache" && mkdir -p "$cache"
      "$STEEP_BIN/steep-tee" authority init --dir "$cache/keys" >/dev/null
      "$STEEP_BIN/steep-tee" platform-key init --dir "$cache/keys" >/dev/null
      "$STEEP_BIN/steep-tee" master-key init --out "$cache/keys/master.key" >/dev/null
      for a in godzilla optimus_prime albus_dumbledore; do
        "$STEEP_BIN/steep-tee" auditor keygen "$a" --dir "$cache/auditors" >/dev/null
      done
      touch "$cache/done"
    fi
  ) 9>"${STEEP_BIN%/bin}/.test-platform-keys.lock"
  mkdir -p "$STEEP_DIR"
  cp -a "$cache/keys" "$cache/auditors" "$STEEP_DIR/"
  cp "$cache/keys/as_root_ca_cert.pem" "$STEEP_DIR/as_root_ca_cert.pem"
}

platform_start() {
  local executors=${1:-1} slots=${2:-2} attempt
  platform_tmp=$(mktemp -d "${STEEP_TEST_TMP:-/tmp}/steep-test.XXXXXX")
  export STEEP_DIR=$platform_tmp/platform STEEP_HOME=$platform_tmp/home FILES_DIR=$platform_tmp/files
  mkdir -p "$FILES_DIR/outputs"
  ln -s "$(cd "$STEEP_SHARED_DIR/fixtures/teaclave" && pwd)" "$FILES_DIR/fixtures"
  trap platform_stop EXIT
  for attempt in 1 2 3 4 5; do
    # Below Linux's ephemeral range (32768+), so no outgoing connection can
    # hold one of our ports. Bases are multiples of 16 in [10000, 20000):
    # API ports base, base+1 ≡ 0,1; internal base+10000..10004 in [20000,
    # 30000); files base+5000 ≡ 8 (mod 16) — two platforms collide only on
    # the same base, and the check below plus a retry handles that.
    PORT_BASE=$((10000 + 16 * (RANDOM % 625)))
    FILES_PORT=$((PORT_BASE + 5000))
    local p ok=1
    local extra_ports=() backend_args=()
    if [ "${PLATFORM_BACKEND:-leveldb}" = etcd ]; then
      # the local etcd cluster: base+10008..10013 (≡ 8..13 mod 16)
      extra_ports=($((PORT_BASE + 10008)) $((PORT_BASE + 10009)) $((PORT_BASE + 10010))
                   $((PORT_BASE + 10011)) $((PORT_BASE + 10012)) $((PORT_BASE + 10013)))
      backend_args=(--backend etcd)
    fi
    for p in $PORT_BASE $((PORT_BASE + 1)) $((PORT_BASE + 10000)) $((PORT_BASE + 10001)) \
             $((PORT_BASE + 10002)) $((PORT_BASE + 10003)) $((PORT_BASE + 10004)) $FILES_PORT \
             ${extra_ports[@]+"${extra_ports[@]}"}; do
      port_free "$p" || { ok=0; break; }
    done
    [ $ok = 1 ] || continue
    rm -rf "$STEEP_DIR"
    platform_seed_keys
    if "$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --executors "$executors" \
         --slots "$slots" --port-base "$PORT_BASE" --files-port "$FILES_PORT" \
         --face-model "$STEEP_SHARED_DIR/fixtures/seetaface/seeta_fd_frontal_v1.0.bin" \
         --restarts "${PLATFORM_RESTARTS:-0}" --insecure-test-payloads \
         ${backend_args[@]+"${backend_args[@]}"} >"$platform_tmp/up.log" 2>&1; then
      export PORT_BASE FILES_URL=http://localhost:$FILES_PORT
      export STEEP_AUTH_ADDRESS=localhost:$PORT_BASE STEEP_FRONTEND_ADDRESS=localhost:$((PORT_BASE + 1))
      return 0
    fi
    grep -q "already in use" "$platform_tmp/up.log" || { cat "$platform_tmp/up.log" >&2; return 1; }
  done
  echo "platform_start: no free ports after 5 attempts" >&2
  return 1
}

# Dumps the platform's logs (call on failure).
platform_logs() {
  local f
  for f in "$STEEP_DIR"/logs/*.log; do echo "--- $f"; tail -n 30 "$f"; done >&2
}
