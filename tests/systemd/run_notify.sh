#!/usr/bin/env bash
# A service under systemd's notify protocol, without systemd: a provisioned
# platform is stopped, then steep-storage and steep-access-control are each
# started by hand with $NOTIFY_SOCKET naming a datagram socket this test
# reads and $WATCHDOG_USEC = 200 ms. Each must send READY=1 only once it
# listens on its port, WATCHDOG=1 repeatedly (every ~100 ms), and
# STOPPING=1 after SIGTERM, then exit 0. Without $NOTIFY_SOCKET (every other
# test) nothing is sent and nothing changes.
. "$(dirname "$0")/../lib/platform.sh"
platform_start 0 1
trap 'status=$?; [ $status = 0 ] || platform_logs; platform_stop; exit $status' EXIT
"$STEEP" down --dir "$STEEP_DIR" >/dev/null
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

# notified SERVICE PORT: runs the service under a notify socket; prints the
# datagrams received, one line each, "LISTENING" when READY=1 came while the
# port was already open, and "EXIT n" at the end.
notified() {
  local exe=$1 port=$2 sock=$platform_tmp/notify-$1.sock
  /usr/bin/python3 - "$sock" "$STEEP_BIN/$exe" "$STEEP_DIR/steep.toml" "$port" <<'PY'
import os, signal, socket, subprocess, sys, time
path, exe, config, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.2)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
env.pop("WATCHDOG_PID", None)
log = open(config.rsplit("/", 1)[0] + "/logs/notify-" + os.path.basename(exe) + ".log", "w")
p = subprocess.Popen([exe, "--config", config], env=env, stdout=log, stderr=log)
def listening():
    c = socket.socket()
    try:
        c.connect(("127.0.0.1", port)); return True
    except OSError:
        return False
    finally:
        c.close()
deadline, ready_at, stopping = time.time() + 30, None, False
while time.time() < deadline:
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        if p.poll() is not None:
            break
        continue
    for line in msg.split("\n"):
        print(line, flush=True)
        if line == "READY=1":
            ready_at = time.time()
            if listening():
                print("LISTENING", flush=True)
    if ready_at and not stopping and time.time() - ready_at > 1.0:
        p.send_signal(signal.SIGTERM); stopping = True
    if "STOPPING=1" in msg:
        break
try:
    rc = p.wait(timeout=15)
except subprocess.TimeoutExpired:
    p.kill(); rc = "timeout"
print("EXIT", rc, flush=True)
PY
}

check() { # EXE PORT
  local out pings
  out=$(notified "$1" "$2")
  grep -qx "READY=1" <<<"$out" && grep -qx "LISTENING" <<<"$out" \
    && ok "$1: READY=1 once its port listens" || fail "$1: READY" "$out"
  grep -q "^STATUS=" <<<"$out" && ok "$1: a STATUS= line" || fail "$1: STATUS" "$out"
  pings=$(grep -cx "WATCHDOG=1" <<<"$out" || true)
  # ~1 s between READY and SIGTERM at one ping per 100 ms.
  [ "$pings" -ge 4 ] && ok "$1: $pings watchdog pings in ~1 s" || fail "$1: $pings watchdog pings" "$out"
  grep -qx "STOPPING=1" <<<"$out" && grep -qx "EXIT 0" <<<"$out" \
    && ok "$1: STOPPING=1 on SIGTERM, exit 0" || fail "$1: stop" "$out"
  [ "$(grep -n "READY=1" <<<"$out" | head -n1 | cut -d: -f1)" -lt \
    "$(grep -n "STOPPING=1" <<<"$out" | head -n1 | cut -d: -f1)" ] \
    && ok "$1: READY before STOPPING" || fail "$1: order" "$out"
}
check steep-storage $((PORT_BASE + 10002))
check steep-access-control $((PORT_BASE + 10003))

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
