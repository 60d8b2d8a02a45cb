# Test helper (root; source after tests/lib/platform.sh and tests/lib/etcd.sh,
# after platform_start and `steep down`, whose keys, enclave_info, policies
# and steep.toml it reuses): a whole platform over three "hosts", network
# namespaces joined by veth links to a bridge in a fourth (the switch) on
# the private subnet $HOSTS_NET.0/24 (default 10.213.1), made here and
# removed by hosts_cleanup; nothing but these namespaces and loopback is
# contacted. hosts_network; hosts_etcd (one member per host);
# hosts_configs (STEEP_DIR/host-I.toml: the host's own addresses first,
# the other hosts' as internal_endpoints.NAME.replica_addresses, the public
# endpoints on every address of the host, state on the hosts' etcd);
# hosts_start I [SERVICE...] (default: every service, logs/hI-SERVICE.log);
# hosts_kill I (every process of the host killed -9, then its link down);
# hosts_cli ARGS (the CLI on host 3, through its loopback). Each function
# returns non-zero with the reason on stderr.
: "${HOSTS_NET:=10.213.1}"
hosts_tag=sp$$
hosts_sw=$hosts_tag-sw
hosts=("$hosts_tag-h1" "$hosts_tag-h2" "$hosts_tag-h3")
hosts_services=(storage access-control authentication management scheduler frontend execution)

hosts_cleanup() {
  local ns
  for ns in "${hosts[@]}" "$hosts_sw"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}

hosts_network() {
  local i h sw=$hosts_sw tag=$hosts_tag
  ip netns add "$sw" && ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up \
    && ip -n "$sw" link set lo up || { echo "cannot make the switch namespace" >&2; return 1; }
  for i in 1 2 3; do
    h=${hosts[$((i - 1))]}
    ip netns add "$h" || { echo "cannot make host $i" >&2; return 1; }
    ip link add "${tag}a$i" type veth peer name "${tag}b$i" || { echo "cannot make a veth pair" >&2; return 1; }
    ip link set "${tag}a$i" netns "$h" name eth0 && ip link set "${tag}b$i" netns "$sw" \
      && ip -n "$sw" link set "${tag}b$i" master br0 && ip -n "$sw" link set "${tag}b$i" up \
      && ip -n "$h" addr add "$HOSTS_NET.$i/24" dev eth0 && ip -n "$h" link set eth0 up \
      && ip -n "$h" link set lo up || { echo "cannot wire host $i" >&2; return 1; }
  done
}

hosts_etcd() {
  local i c=$STEEP_DIR/hosts-etcd net=$HOSTS_NET initial=""
  etcd_make_certs "$c" $net.1 $net.2 $net.3 >/dev/null 2>&1 || { echo "etcd certificates" >&2; return 1; }
  hosts_etcd_endpoints="" hosts_toml_endpoints=""
  for i in 1 2 3; do
    initial+="${initial:+,}m$i=https://$net.$i:2380"
    hosts_etcd_endpoints+="${hosts_etcd_endpoints:+,}https://$net.$i:2379"
    hosts_toml_endpoints+="${hosts_toml_endpoints:+, }\"https://$net.$i:2379\""
  done
  for i in 1 2 3; do
    ip netns exec "${hosts[$((i - 1))]}" setsid "$ETCD_BIN" --name "m$i" --data-dir "$STEEP_DIR/etcd-m$i" \
      --listen-client-urls "https://$net.$i:2379" --advertise-client-urls "https://$net.$i:2379" \
      --listen-peer-urls "https://$net.$i:2380" --initial-advertise-peer-urls "https://$net.$i:2380" \
      --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token "$hosts_tag" \
      --cert-file "$c/member.pem" --key-file "$c/member.key" --trusted-ca-file "$c/ca.pem" \
      --client-cert-auth --peer-cert-file "$c/member.pem" --peer-key-file "$c/member.key" \
      --peer-trusted-ca-file "$c/ca.pem" --peer-client-cert-auth \
      --heartbeat-interval 50 --election-timeout 500 \
      --logger zap --log-outputs "$STEEP_DIR/logs/h$i-etcd.log" --log-level warn \
      >/dev/null 2>&1 </dev/null &
    disown
  done
  export ETCD_ENDPOINTS=$hosts_etcd_endpoints ETCD_CA=$c/ca.pem ETCD_CERT=$c/client.pem ETCD_KEY=$c/client.key
  local deadline=$((SECONDS + 30))
  until ip netns exec "${hosts[2]}" bash -c "$(declare -f etcd_ctl); ETCDCTL_BIN=$ETCDCTL_BIN; etcd_ctl endpoint health" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "the etcd cluster did not become healthy" >&2; tail -n 5 "$STEEP_DIR"/logs/h*-etcd.log >&2; return 1; }
    sleep 0.2
  done
}

hosts_configs() { # [EXTRA TOML appended to every host's file]
  local i j others cfg c=$STEEP_DIR/hosts-etcd net=$HOSTS_NET
  for i in 1 2 3; do
    others=()
    for j in 1 2 3; do [ "$j" = "$i" ] || others+=($j); done
    cfg=$STEEP_DIR/host-$i.toml
    awk -v me="$net.$i" -v o1="$net.${others[0]}" -v o2="$net.${others[1]}" -v eps="$hosts_toml_endpoints" \
        -v c="$c" -v i="$i" -v extra="${1:-}" '
      /^\[api_endpoints\]/ { section = "api" } /^\[internal_endpoints\]/ { section = "internal" }
      /^\[/ && !/^\[(api|internal)_endpoints\]/ { section = $0 }
      section == "api" { sub(/127\.0\.0\.1:/, "0.0.0.0:") }
      section == "internal" && /advertised_address/ {
        match($0, /localhost:[0-9]+/); port = substr($0, RSTART + 10, RLENGTH - 10)
        sub(/127\.0\.0\.1:/, me ":"); sub(/https:\/\/localhost:/, "https://" me ":")
        if ($1 != "execution")
          sub(/ }$/, ", replica_addresses = [\"https://" o1 ":" port "\", \"https://" o2 ":" port "\"] }")
      }
      /^\[storage\]/ { print; print "backend = \"etcd\""; print "etcd_endpoints = [" eps "]"
                       print "etcd_ca_file = \"" c "/ca.pem\""; print "etcd_cert_file = \"" c "/client.pem\""
                       print "etcd_key_file = \"" c "/client.key\""; storage = 1; next }
      /^(backend|etcd_endpoints|etcd_ca_file|etcd_cert_file|etcd_key_file) = / && section == "[storage]" { next }
      /^data_dir = / { $0 = "data_dir = \"data-h" i "\"" }
      /^fusion_base_dir = / { $0 = "fusion_base_dir = \"data-h" i "/fusion\"" }
      { print }
      END {
        if (!storage) { print "\n[storage]\nbackend = \"etcd\"\netcd_endpoints = [" eps "]"
                        print "etcd_ca_file = \"" c "/ca.pem\"\netcd_cert_file = \"" c "/client.pem\""
                        print "etcd_key_file = \"" c "/client.key\"" }
        print "\n" extra
      }' "$STEEP_DIR/steep.toml" >"$cfg"
  done
  grep -q "scheduler = .*$net.1:.*replica_addresses = \[\"https://$net.2:" "$STEEP_DIR/host-1.toml" \
    && grep -q '^backend = "etcd"' "$STEEP_DIR/host-1.toml" \
    || { echo "the host configurations:" >&2; cat "$STEEP_DIR/host-1.toml" >&2; return 1; }
}

hosts_start() { # I [SERVICE...]
  local i=$1 s
  shift
  [ $# -gt 0 ] || set -- "${hosts_services[@]}"
  for s in "$@"; do
    (cd "$STEEP_DIR" && exec ip netns exec "${hosts[$((i - 1))]}" env STEEP_ADMIN_LISTEN=127.0.0.1:0 \
       setsid "$STEEP_BIN/steep-$s" --config "$STEEP_DIR/host-$i.toml" \
       >>"$STEEP_DIR/logs/h$i-$s.log" 2>&1 </dev/null) &
    disown # killed with its host: no job notice
    sleep 0.3
  done
}

hosts_kill() { # I
  ip netns pids "${hosts[$(($1 - 1))]}" | xargs -r kill -9
  ip -n "${hosts[$(($1 - 1))]}" link set eth0 down
}

hosts_cli() { ip netns exec "${hosts[2]}" env STEEP_DIR="$STEEP_DIR" STEEP_HOME="$STEEP_HOME" "$STEEP" "$@"; }
