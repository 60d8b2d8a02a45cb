# A local etcd cluster for tests and `steep up --backend etcd`, on loopback
# only, with a CA, member and client certificates of its own (TLS between
# members and to clients, client certificates required) and random free
# ports. Source it, then:
#   etcd_cluster_start DIR N   starts N members (data and certs under DIR)
#                              and waits until the cluster is healthy; sets
#                              ETCD_ENDPOINTS (comma-separated https://...),
#                              ETCD_CA, ETCD_CERT, ETCD_KEY, ETCD_PIDS
#   etcd_ctl ARGS...           etcdctl against the cluster
#   etcd_cluster_stop          stops every member it started
# The caller removes DIR (a trap should call etcd_cluster_stop first).
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
ETCDCTL_BIN=${ETCDCTL_BIN:-/usr/bin/etcdctl}
ETCD_PIDS=""

etcd_free_ports() {
    /usr/bin/python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

etcd_make_certs() { # DIR [IP...]: the certificates hold 127.0.0.1 and these IPs
    local dir=$1 ip sans=IP:127.0.0.1
    shift
    for ip in "$@"; do sans+=",IP:$ip"; done
    mkdir -p "$dir"
    (
        cd "$dir" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=steep test etcd CA" -keyout ca.key -out ca.pem 2>/dev/null
        for name in member client; do
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -subj "/CN=steep-etcd-$name" -keyout $name.key -out $name.csr 2>/dev/null
            printf 'subjectAltName=%s,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' \
                "$sans" >$name.ext
            openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                -extfile $name.ext -out $name.pem 2>/dev/null
        done
    ) || return 1
    [ -s "$dir/member.pem" ] && [ -s "$dir/client.pem" ]
}

etcd_ctl() {
    ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints="$ETCD_ENDPOINTS" --cacert="$ETCD_CA" \
        --cert="$ETCD_CERT" --key="$ETCD_KEY" --command-timeout=5s "$@"
}

etcd_cluster_start() {
    local dir=$1 n=${2:-1} i
    etcd_make_certs "$dir/certs" || { echo "etcd: cannot make certificates" >&2; return 1; }
    ETCD_CA=$dir/certs/ca.pem ETCD_CERT=$dir/certs/client.pem ETCD_KEY=$dir/certs/client.key
    read -r -a ports <<<"$(etcd_free_ports $((2 * n)))"
    local initial="" endpoints=""
    for ((i = 0; i < n; i++)); do
        initial+="${initial:+,}m$i=https://127.0.0.1:${ports[$((2 * i + 1))]}"
        endpoints+="${endpoints:+,}https://127.0.0.1:${ports[$((2 * i))]}"
    done
    local c=$dir/certs token="steep-$$-$RANDOM"
    for ((i = 0; i < n; i++)); do
        local client=${ports[$((2 * i))]} peer=${ports[$((2 * i + 1))]}
        "$ETCD_BIN" --name "m$i" --data-dir "$dir/m$i" \
            --listen-client-urls "https://127.0.0.1:$client" \
            --advertise-client-urls "https://127.0.0.1:$client" \
            --listen-peer-urls "https://127.0.0.1:$peer" \
            --initial-advertise-peer-urls "https://127.0.0.1:$peer" \
            --initial-cluster "$initial" --initial-cluster-state new \
            --initial-cluster-token "$token" \
            --cert-file "$c/member.pem" --key-file "$c/member.key" \
            --trusted-ca-file "$c/ca.pem" --client-cert-auth \
            --peer-cert-file "$c/member.pem" --peer-key-file "$c/member.key" \
            --peer-trusted-ca-file "$c/ca.pem" --peer-client-cert-auth \
            --max-request-bytes 33554432 --heartbeat-interval 50 --election-timeout 500 \
            --logger zap --log-outputs "$dir/m$i.log" --log-level warn 2>>"$dir/m$i.stderr" &
        ETCD_PIDS+=" $!"
    done
    ETCD_ENDPOINTS=$endpoints
    export ETCD_ENDPOINTS ETCD_CA ETCD_CERT ETCD_KEY
    local deadline=$((SECONDS + 30))
    until etcd_ctl endpoint health >/dev/null 2>&1; do
        if ((SECONDS > deadline)); then
            echo "etcd: the cluster did not become healthy in 30 s; logs:" >&2
            tail -n 5 "$dir"/m*.log >&2
            return 1
        fi
        sleep 0.2
    done
}

etcd_cluster_stop() {
    local pid
    for pid in $ETCD_PIDS; do
        kill "$pid" 2>/dev/null || true
    done
    # `|| true`: a member ended by the signal exits non-zero, which must not
    # end a `set -e` caller's trap before it cleans up
    for pid in $ETCD_PIDS; do
        wait "$pid" 2>/dev/null || true
    done
    ETCD_PIDS=""
}
