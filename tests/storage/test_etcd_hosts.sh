#!/bin/bash
# Hosts, for real (issue 17 item 4, the storage part): three "hosts" are
# network namespaces joined by veth links to a bridge in a fourth ("the
# switch") on the private subnet 10.213.0.0/24, all made by this test and
# removed when it ends; nothing but these namespaces and loopback is ever
# contacted. Each host runs one member of a three-member etcd cluster
# (TLS, client certificates, the host's own address). A load on host 2
# writes records and queue elements through all three endpoints while host
# 1 dies whole: every process in its namespace is killed and its link goes
# down. The load keeps going through the other two, and afterwards, from
# host 3, every acknowledged record reads back and every acknowledged
# element leaves the queue exactly once. Root only (ip netns).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${STEEP_BUILD_DIR:-$here/../../build}
. "$here/../lib/etcd.sh"
tag=st$$
sw=$tag-sw hosts=("$tag-h1" "$tag-h2" "$tag-h3")
work=$(mktemp -d "${TMPDIR:-/tmp}/steep-etcd-hosts-XXXXXX")
pids=()
cleanup() {
    local pid ns
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    for ns in "${hosts[@]}" "$sw"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; exit 1; }
ok() { echo "ok      $1"; }
[ "$(id -u)" = 0 ] || fail "test_etcd_hosts needs root (network namespaces)"

# the network: a bridge in the switch, one veth per host
ip netns add "$sw" && ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up \
    && ip -n "$sw" link set lo up || fail "cannot make the switch namespace"
for i in 1 2 3; do
    h=${hosts[$((i - 1))]}
    ip netns add "$h" || fail "cannot make host $i"
    ip link add "${tag}a$i" type veth peer name "${tag}b$i" || fail "cannot make a veth pair"
    ip link set "${tag}a$i" netns "$h" name eth0 && ip link set "${tag}b$i" netns "$sw" \
        && ip -n "$sw" link set "${tag}b$i" master br0 && ip -n "$sw" link set "${tag}b$i" up \
        && ip -n "$h" addr add "10.213.0.$i/24" dev eth0 && ip -n "$h" link set eth0 up \
        && ip -n "$h" link set lo up || fail "cannot wire host $i"
done
# host 2 reaches host 1: a connection to a closed port is refused (not lost)
# (a fresh link may take a moment to pass traffic: up to 10 tries)
reached=""
for try in $(seq 10); do
    out=$(ip netns exec "${hosts[1]}" timeout 2 bash -c 'exec 3<>/dev/tcp/10.213.0.1/9' 2>&1)
    grep -q refused <<<"$out" && reached=yes && break
    sleep 0.5
done
[ -n "$reached" ] && ok "the hosts reach each other" || fail "the hosts reach each other" "$out"

# one etcd member per host, on the host's address
etcd_make_certs "$work/certs" 10.213.0.1 10.213.0.2 10.213.0.3 || fail "certificates"
c=$work/certs initial="" endpoints=""
for i in 1 2 3; do
    initial+="${initial:+,}m$i=https://10.213.0.$i:2380"
    endpoints+="${endpoints:+,}https://10.213.0.$i:2379"
done
for i in 1 2 3; do
    ip netns exec "${hosts[$((i - 1))]}" "$ETCD_BIN" --name "m$i" --data-dir "$work/m$i" \
        --listen-client-urls "https://10.213.0.$i:2379" --advertise-client-urls "https://10.213.0.$i:2379" \
        --listen-peer-urls "https://10.213.0.$i:2380" --initial-advertise-peer-urls "https://10.213.0.$i:2380" \
        --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token "$tag" \
        --cert-file "$c/member.pem" --key-file "$c/member.key" --trusted-ca-file "$c/ca.pem" \
        --client-cert-auth --peer-cert-file "$c/member.pem" --peer-key-file "$c/member.key" \
        --peer-trusted-ca-file "$c/ca.pem" --peer-client-cert-auth \
        --heartbeat-interval 50 --election-timeout 500 \
        --logger zap --log-outputs "$work/m$i.log" --log-level warn 2>>"$work/m$i.stderr" &
    pids+=($!)
done
export ETCD_ENDPOINTS=$endpoints ETCD_CA=$c/ca.pem ETCD_CERT=$c/client.pem ETCD_KEY=$c/client.key
deadline=$((SECONDS + 30))
until ip netns exec "${hosts[2]}" bash -c "$(declare -f etcd_ctl); ETCDCTL_BIN=$ETCDCTL_BIN; etcd_ctl endpoint health" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "the cluster did not become healthy" "$(tail -n 5 "$work"/m*.log)"
    sleep 0.2
done
ok "a three-member etcd cluster, one member per host"

export STEEP_TEST_ETCD_ENDPOINTS=$endpoints STEEP_TEST_ETCD_CA=$ETCD_CA
export STEEP_TEST_ETCD_CERT=$ETCD_CERT STEEP_TEST_ETCD_KEY=$ETCD_KEY STEEP_TEST_ETCD_PREFIX=hosts/
ip netns exec "${hosts[1]}" "$build/bin/etcd_host_load" write 8 "$work/acked" >"$work/load.out" 2>&1 &
load=$!
sleep 3
# host 1 dies whole: every process in it, and its link
ip netns pids "${hosts[0]}" | xargs -r kill -9
ip -n "${hosts[0]}" link set eth0 down
wait $load
load_status=$?
cat "$work/load.out" | tail -n 3
[ $load_status = 0 ] && grep -q "failed=0" "$work/load.out" \
    && ok "the load went on through the other two hosts: $(grep -o 'writes=.*' "$work/load.out")" \
    || fail "the load went on through the other two hosts" "$(tail -n 5 "$work/load.out")"
out=$(ip netns exec "${hosts[2]}" "$build/bin/etcd_host_load" verify "$work/acked" 2>&1)
[ $? = 0 ] && ok "no acknowledged write lost, each element once: $(tail -n 1 <<<"$out")" \
    || fail "no acknowledged write lost, each element once" "$out"
