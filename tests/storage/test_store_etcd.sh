#!/bin/bash
# The storage suite on etcd: starts a one-member etcd on loopback (TLS,
# client certificates, random ports, a temporary data directory), runs the
# engine tests of test_store_ops against it, then the rollback test
# (test_store_rollback: old ciphertexts written back with etcdctl behind the
# platform's back are refused) and the leader election through a lease
# (test_etcd_election). Always stops etcd and removes its files.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${STEEP_BUILD_DIR:-$here/../../build}
. "$here/../lib/etcd.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/steep-etcd-XXXXXX")
cleanup() {
    etcd_cluster_stop
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
etcd_cluster_start "$work" 1 || exit 1
export STEEP_TEST_ETCD_ENDPOINTS=$ETCD_ENDPOINTS STEEP_TEST_ETCD_CA=$ETCD_CA
export STEEP_TEST_ETCD_CERT=$ETCD_CERT STEEP_TEST_ETCD_KEY=$ETCD_KEY
status=0
timeout 240 "$build/bin/test_store_ops" || status=1
timeout 120 "$build/bin/test_store_rollback" || status=1
timeout 60 "$build/bin/test_etcd_election" || status=1
exit $status
