#!/usr/bin/env bash
# Installs the Debian 12 packages Steep needs, by name, only when missing.
# Idempotent: a second run installs nothing and prints nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libssl-dev openssl libnghttp2-dev nghttp2-client
  libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev protobuf-compiler
  libleveldb-dev libjansson-dev libjwt-dev libargon2-dev
  libcurl4-openssl-dev libseccomp-dev libcmocka-dev
  # services: readiness and watchdog for systemd (sd_notify)
  libsystemd-dev
  python3 python3-grpcio python3-protobuf python3-cryptography python3-openssl python3-yaml
  libgrpc++-dev protobuf-compiler-grpc
  # executors: embedded CPython with numpy; WebAssembly through wasm2c; payload toolchains
  libpython3.11-dev python3-numpy wabt wasi-libc lld rustc libstd-rust-dev-wasm32
  libclang-rt-14-dev-wasm32
  # built-ins: JPEG decoding for face detection
  libjpeg62-turbo-dev
  # the etcd storage back-end: its tests and `steep up --backend etcd` run a local cluster
  etcd-server etcd-client
  # the CLI's tests: man renders steep(1), script gives the colour test a terminal
  man-db bsdutils
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
