#!/usr/bin/env bash
# Authentication replicas on etcd (issue 17 item 3): a platform on etcd
# (steep up --backend etcd) plus a second steep-authentication process, B,
# with its own ports and its own data directory (another host: nothing of
# A's local state), the frontend listing B as a replica of authentication
# (internal_endpoints.authentication.replica_addresses). The user database
# and the JWT secret are in etcd, so: a user registered through A logs in
# through B; a token issued by A works on B and one issued by B works
# through the frontend (verified by A); a password changed through B is
# refused in its old form by A, which also refuses the token from before
# the change; with A killed -9 the frontend fails over to
# B and users keep logging in and working; without etcd quorum B answers
# UNAVAILABLE and serves again once quorum is back.
. "$(dirname "$0")/../lib/platform.sh"
PLATFORM_BACKEND=etcd platform_start 1 2
b_pid=""
trap 'status=$?; [ $status = 0 ] || { platform_logs; tail -n 30 "$STEEP_DIR"/logs/authentication-b.log >&2; }
      [ -z "$b_pid" ] || kill "$b_pid" 2>/dev/null || true
      platform_stop; exit $status' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

toml=$STEEP_DIR/steep.toml
a_api=$(sed -n 's/^authentication = { listen_address = "127.0.0.1:\([0-9]*\)" }$/\1/p' "$toml")
a_int=$(sed -n 's/^authentication = { listen_address = "127.0.0.1:\([0-9]*\)", advertised.*/\1/p' "$toml")
[ -n "$a_api" ] && [ -n "$a_int" ] || { echo "no authentication lines in steep.toml" >&2; exit 1; }
b_int=$((PORT_BASE + 10005)) b_api=$((PORT_BASE + 10006))
for p in $b_int $b_api; do port_free "$p" || { echo "port $p in use" >&2; exit 1; }; done

# The frontend (and every other client of authentication) lists B.
"$STEEP" down --dir "$STEEP_DIR" >/dev/null
sed -i "s|^\(authentication = { listen_address = \"127.0.0.1:$a_int\", advertised_address = \"[^\"]*\"\) }|\1, replica_addresses = [\"https://localhost:$b_int\"] }|" "$toml"
grep -q "^authentication = .*replica_addresses" "$toml" || { echo "could not add replica B" >&2; exit 1; }
"$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" --restarts 0 \
  >"$platform_tmp/up-replicas.log" 2>&1 || { cat "$platform_tmp/up-replicas.log" >&2; exit 1; }
sed -e "s|^authentication = { listen_address = \"127.0.0.1:$a_api\" }|authentication = { listen_address = \"127.0.0.1:$b_api\" }|" \
    -e "s|^authentication = { listen_address = \"127.0.0.1:$a_int\"|authentication = { listen_address = \"127.0.0.1:$b_int\"|" \
    -e 's|^data_dir = "data"$|data_dir = "data-b"|' "$toml" >"$STEEP_DIR/authentication-b.toml"
grep -q 'data_dir = "data-b"' "$STEEP_DIR/authentication-b.toml" || { echo "no data_dir line" >&2; exit 1; }
(cd "$STEEP_DIR" && exec setsid "$STEEP_BIN/steep-authentication" --config "$STEEP_DIR/authentication-b.toml" \
   >"$STEEP_DIR/logs/authentication-b.log" 2>&1 </dev/null) &
b_pid=$!
for _ in $(seq 100); do ! port_free "$b_api" && break; sleep 0.1; done

# The CLI through A (the platform's ports) or through B (--auth), the same
# frontend either way (tokens are kept per frontend).
via_a() { "$STEEP" "$@"; }
via_b() {
  STEEP_DIR= "$STEEP" "$@" --auth "localhost:$b_api" --frontend "localhost:$((PORT_BASE + 1))" \
    --root "$STEEP_DIR/as_root_ca_cert.pem" --enclave-info "$STEEP_DIR/enclave_info.toml" \
    --allow-simulation
}
register_echo() { # USER -> prints a function id
  "$STEEP" function register --user "$1" --name builtin-echo --executor-type builtin
}

out=$(via_a user login admin --password teaclave 2>&1 &&
      via_a user register alice --role FunctionOwner --password alice-1 --user admin 2>&1) \
  && ok "a user registered through replica A" || fail "a user registered through replica A" "$out"
out=$(via_b user login alice --password alice-1 2>&1) \
  && ok "the user logs in through replica B" || fail "the user logs in through replica B" "$out
$(tail -n 5 "$STEEP_DIR/logs/authentication-b.log")"
# B's token, checked by the frontend with A (the first address it lists).
out=$(register_echo alice 2>&1) && grep -q "^function-" <<<"$out" \
  && ok "B's token works through the frontend (verified by A)" \
  || fail "B's token works through the frontend (verified by A)" "$out"
# A's token (admin logged in through A), used on B's own API.
out=$(via_b user list --user admin 2>&1) && grep -qw alice <<<"$out" \
  && ok "A's token works on replica B (user list)" || fail "A's token works on replica B (user list)" "$out"
[ ! -e "$STEEP_DIR/data-b/authentication/users" ] && [ ! -e "$STEEP_DIR/data-b/authentication/jwt_secret.sealed" ] \
  && ok "replica B keeps no local user store or JWT secret" \
  || fail "replica B keeps no local user store or JWT secret" "$(ls -R "$STEEP_DIR/data-b" 2>&1)"

cred=$(find "$STEEP_HOME/credentials" -type f -name alice | head -n 1)
[ -n "$cred" ] && cp "$cred" "$platform_tmp/alice-before"
out=$(via_b user passwd --user alice --password alice-2 2>&1) \
  && ok "alice changes her password through B" || fail "alice changes her password through B" "$out"
out=$(via_a user login alice --password alice-1 2>&1) && rc=0 || rc=$?
echo "$out" >"$platform_tmp/refused-a"
[ $rc != 0 ] && grep -q "UNAUTHENTICATED" <<<"$out" && ok "A refuses the old password" || fail "A refuses the old password" "$out"
# The token from before the change (issued by B) is revoked on A as well.
if [ -n "$cred" ]; then
  cp "$platform_tmp/alice-before" "$cred"
  out=$(register_echo alice 2>&1) && rc=0 || rc=$?
  [ $rc != 0 ] && grep -q "UNAUTHENTICATED" <<<"$out" \
    && ok "the token from before the change is refused through the frontend (A)" \
    || fail "the token from before the change is refused through the frontend (A)" "exit $rc: $out"
else
  fail "alice's credential file is kept under \$STEEP_HOME/credentials"
fi
out=$(via_a user login alice --password alice-2 2>&1) \
  && ok "A accepts the new one" || fail "A accepts the new one" "$out"

a_pid=$(cat "$STEEP_DIR/run/authentication.pid")
kill -9 "$a_pid"
for _ in $(seq 50); do kill -0 "$a_pid" 2>/dev/null || break; sleep 0.1; done
out=$(via_b user login alice --password alice-2 2>&1) \
  && ok "with A killed -9 alice logs in through B" || fail "with A killed -9 alice logs in through B" "$out"
# The frontend's calls to authentication move to B.
out=$(register_echo alice 2>&1) && grep -q "^function-" <<<"$out" \
  && ok "with A killed -9 the frontend verifies tokens with B" \
  || fail "with A killed -9 the frontend verifies tokens with B" "$out"
out=$(via_b user register bob --role FunctionOwner --password bob-1 --user admin 2>&1 &&
      via_b user login bob --password bob-1 2>&1) \
  && ok "with A down, B registers and logs in a new user" \
  || fail "with A down, B registers and logs in a new user" "$out"
out=$(via_b user login alice --password alice-1 2>&1) && rc=0 || rc=$?
echo "$out" >"$platform_tmp/refused-b"
[ $rc != 0 ] && grep -q "UNAUTHENTICATED" <<<"$out" && ok "B still refuses the old password" || fail "B still refuses the old password" "$out"

# Two replicas started at the same moment on an empty prefix (a fresh
# platform): they agree on one JWT secret and one admin.
c_pid="" d_pid=""
for r in c:$((PORT_BASE + 2)):$((PORT_BASE + 3)) d:$((PORT_BASE + 4)):$((PORT_BASE + 5)); do
  IFS=: read -r name api int <<<"$r"
  sed -e "s|^authentication = { listen_address = \"127.0.0.1:$b_api\" }|authentication = { listen_address = \"127.0.0.1:$api\" }|" \
      -e "s|^authentication = { listen_address = \"127.0.0.1:$b_int\"|authentication = { listen_address = \"127.0.0.1:$int\"|" \
      -e "s|^data_dir = \"data-b\"$|data_dir = \"data-$name\"|" \
      -e 's|^backend = "etcd"$|backend = "etcd"\netcd_prefix = "race/"|' \
      "$STEEP_DIR/authentication-b.toml" >"$STEEP_DIR/authentication-$name.toml"
done
grep -q 'etcd_prefix = "race/"' "$STEEP_DIR/authentication-c.toml" || fail "the race replicas' configuration" \
  "$(grep -n 'backend' "$STEEP_DIR/authentication-c.toml")"
for name in c d; do
  (cd "$STEEP_DIR" && exec setsid "$STEEP_BIN/steep-authentication" --config "$STEEP_DIR/authentication-$name.toml" \
     >"$STEEP_DIR/logs/authentication-$name.log" 2>&1 </dev/null) &
  eval "${name}_pid=\$!"
done
trap 'status=$?; [ $status = 0 ] || { platform_logs; tail -n 30 "$STEEP_DIR"/logs/authentication-[bcd].log >&2; }
      for p in $b_pid $c_pid $d_pid; do kill "$p" 2>/dev/null || true; done
      platform_stop; exit $status' EXIT
for _ in $(seq 100); do ! port_free $((PORT_BASE + 2)) && ! port_free $((PORT_BASE + 4)) && break; sleep 0.1; done
via() { # API_PORT ARGS... (tokens kept apart from the main platform's)
  local port=$1; shift
  STEEP_DIR= STEEP_HOME=$platform_tmp/home-race "$STEEP" "$@" --auth "localhost:$port" --frontend "localhost:$((PORT_BASE + 1))" \
    --root "$STEEP_DIR/as_root_ca_cert.pem" --enclave-info "$STEEP_DIR/enclave_info.toml" \
    --allow-simulation
}
out=$(via $((PORT_BASE + 2)) user login admin --password teaclave 2>&1 &&
      via $((PORT_BASE + 4)) user list --user admin 2>&1) \
  && ok "two replicas started together share one JWT secret" \
  || fail "two replicas started together share one JWT secret" "$out"
created=$(cat "$STEEP_DIR"/logs/authentication-[cd].log | grep -c "created user 'admin'" || true)
[ "$created" = 1 ] && ok "and one of them created admin" || fail "and one of them created admin" "$created"
kill "$c_pid" "$d_pid" 2>/dev/null || true

# etcd without quorum (two of three members down): B says UNAVAILABLE,
# never "authentication failed"; once a member is back it serves again.
kill -9 "$(cat "$STEEP_DIR/run/etcd-1.pid")" "$(cat "$STEEP_DIR/run/etcd-2.pid")"
out=$(via_b user login alice --password alice-2 2>&1) && rc=0 || rc=$?
[ $rc != 0 ] && grep -q "UNAVAILABLE" <<<"$out" \
  && ok "without etcd quorum B answers UNAVAILABLE" || fail "without etcd quorum B answers UNAVAILABLE" "$out"
out=$(via_b user list --user admin 2>&1) && rc=0 || rc=$?
[ $rc != 0 ] && grep -q "UNAVAILABLE" <<<"$out" \
  && ok "without etcd quorum a token check on B is UNAVAILABLE" \
  || fail "without etcd quorum a token check on B is UNAVAILABLE" "$out"
(cd "$STEEP_DIR" && exec setsid /usr/bin/etcd --config-file "$STEEP_DIR/etcd/etcd-2.yaml" \
   >>"$STEEP_DIR/logs/etcd-2.log" 2>&1 </dev/null) &
echo $! >"$STEEP_DIR/run/etcd-2.pid"
for _ in $(seq 100); do via_b user login alice --password alice-2 >"$platform_tmp/back" 2>&1 && break; sleep 0.3; done
via_b user login alice --password alice-2 >/dev/null 2>&1 \
  && ok "once quorum is back alice logs in through B" \
  || fail "once quorum is back alice logs in through B" "$(cat "$platform_tmp/back")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
