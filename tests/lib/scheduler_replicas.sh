# Test helper (source after tests/lib/platform.sh and PLATFORM_BACKEND=etcd
# platform_start): turns the platform's one scheduler into three replicas
# (issue 17 item 3). The platform is restarted with
# internal_endpoints.scheduler.replica_addresses naming two more schedulers
# on PORT_BASE+10005 and +10006 and [scheduler] leader_lease_secs =
# ${SCHEDULER_LEASE_SECS:-2}; those two run from their own copies of
# steep.toml (logs/scheduler-1.log, -2.log; pids in replica_pids, stopped by
# scheduler_replicas_stop). scheduler_leader_log prints the log files of the
# replicas that said they lead; scheduler_leader_pid the pid behind one.

scheduler_replicas_start() {
  local first i
  first=$(sed -n 's/^scheduler = { listen_address = "127.0.0.1:\([0-9]*\)".*/\1/p' "$STEEP_DIR/steep.toml")
  [ -n "$first" ] || { echo "no scheduler line in steep.toml" >&2; return 1; }
  scheduler_ports=($first $((PORT_BASE + 10005)) $((PORT_BASE + 10006)))
  for i in 1 2; do port_free "${scheduler_ports[$i]}" || { echo "port ${scheduler_ports[$i]} in use" >&2; return 1; }; done
  "$STEEP" down --dir "$STEEP_DIR" >/dev/null
  # The first run's leadership is not this one's.
  mv "$STEEP_DIR/logs/scheduler.log" "$STEEP_DIR/logs/first-run-scheduler.log"
  local replicas="replica_addresses = [\"https://localhost:${scheduler_ports[1]}\", \"https://localhost:${scheduler_ports[2]}\"]"
  sed -i "s|^\(scheduler = { listen_address = \"127.0.0.1:$first\", advertised_address = \"[^\"]*\"\) }|\1, $replicas }|" \
    "$STEEP_DIR/steep.toml"
  grep -q "scheduler = .*replica_addresses" "$STEEP_DIR/steep.toml" \
    || { echo "could not add the replicas to steep.toml" >&2; return 1; }
  ! grep -q '^\[scheduler\]' "$STEEP_DIR/steep.toml" || { echo "steep.toml already has [scheduler]" >&2; return 1; }
  printf '\n[scheduler]\nleader_lease_secs = %d\n' "${SCHEDULER_LEASE_SECS:-2}" >>"$STEEP_DIR/steep.toml"
  "$STEEP" up --dir "$STEEP_DIR" --files "$FILES_DIR" --files-port "$FILES_PORT" --restarts 0 \
    >"$platform_tmp/up-replicas.log" 2>&1 || { cat "$platform_tmp/up-replicas.log" >&2; return 1; }
  replica_pids=()
  for i in 1 2; do
    sed "s|^scheduler = { listen_address = \"127.0.0.1:$first\"|scheduler = { listen_address = \"127.0.0.1:${scheduler_ports[$i]}\"|" \
      "$STEEP_DIR/steep.toml" >"$STEEP_DIR/scheduler-$i.toml"
    (cd "$STEEP_DIR" && exec setsid "$STEEP_BIN/steep-scheduler" --config "$STEEP_DIR/scheduler-$i.toml" \
       >"$STEEP_DIR/logs/scheduler-$i.log" 2>&1 </dev/null) &
    replica_pids+=($!)
  done
}

scheduler_replicas_stop() {
  local p
  for p in ${replica_pids[@]+"${replica_pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${replica_pids[@]+"${replica_pids[@]}"}; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
}

scheduler_leader_log() {
  grep -l "scheduler: leading" "$STEEP_DIR/logs/scheduler.log" "$STEEP_DIR"/logs/scheduler-*.log 2>/dev/null || true
}

scheduler_leader_pid() { # LOG
  case $1 in
    */scheduler.log) cat "$STEEP_DIR/run/scheduler.pid" ;;
    */scheduler-1.log) echo "${replica_pids[0]}" ;;
    */scheduler-2.log) echo "${replica_pids[1]}" ;;
  esac
}
