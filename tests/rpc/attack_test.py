#!/usr/bin/python3
"""Availability of Steep's RPC layer under hostile HTTP/2 peers (issue 14).

Each attack runs against our server (rpc-echo-server, its own process, so
its RSS is its own) on loopback, with rpc-attack as the attacker and
`rpc-attack probe` as a legitimate client measuring p50 latency before,
during and after the attack:

  hoard   item 4: streams announce 4 MiB, send 1 MiB, never END_STREAM.
          The server's buffered request bytes stay under its budget (the
          oldest held streams are refused first), streams not whole in time
          are refused, every held stream ends, the memory goes back.
  idle    item 5: idle TLS/HTTP/2 connections and bare TCP connections that
          never handshake are closed after the idle/handshake timeouts, and
          connections over the per-source limit are refused.
  unread  item 6: a peer with a receive window of 0 asks for big replies
          and never reads: its streams are reset and unsent bytes bounded.
  hold    item 7: long polls (calls the server holds for seconds), far more
          than the server's worker ceiling: held calls occupy no worker
          (steep_rpc_call_hold), so the workers stay free for others.
  cancel  item 8: requests sent whole and reset at once (HEADERS, DATA,
          RST_STREAM): no handler starts (the server's counter), the
          threads stay under the worker ceiling.

Assertions: every probe call succeeds; the probe's p50 during the attack is
within 2x its baseline (plus 0.5 ms for timer noise on a shared machine;
the best of up to three probes, so a neighbouring test's burst is not
taken for the attack's effect);
the server's peak RSS growth stays under the configured budget plus slack;
after the attack the RSS is back near its baseline.

  attack_test.py            the test (bounded: seconds, < 200 MiB)
  attack_test.py --bench    bigger attacks, figures and ratios only
  attack_test.py NAME...    only these attacks
"""
import os
import re
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("STEEP_BUILD_DIR", "build")
BIN = os.path.join(BUILD, "bin")
MIB = 1024 * 1024
failures = []
BENCH = "--bench" in sys.argv
ONLY = [a for a in sys.argv[1:] if not a.startswith("--")]  # names of attacks to run


def check(name, condition, detail=""):
    print(("ok " if condition else "FAIL ") + name + ("" if condition else ": " + str(detail)))
    sys.stdout.flush()
    if not condition:
        failures.append(name)


def fields(line):
    return {k: v for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}


def rss_kib(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


class Server:
    def __init__(self, work, *args):
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "rpc-echo-server"), "--cert", work + "/cert.pem", "--key",
             work + "/key.pem"] + list(args),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.split()[1])

    def rss(self):
        return rss_kib(self.proc.pid) / 1024.0

    def peak(self):
        return rss_kib(self.proc.pid, "VmHWM") / 1024.0

    def threads(self):
        return rss_kib(self.proc.pid, "Threads")

    def stop(self):
        out, _ = self.proc.communicate(timeout=20)  # closes stdin: the server stops
        self.stats = {k: int(v) for k, v in fields(out).items()}


def probe(port, calls=200):
    out = subprocess.run([os.path.join(BIN, "rpc-attack"), "probe", "--port", str(port),
                          "--calls", str(calls)], capture_output=True, text=True, timeout=120)
    result = fields(out.stdout)
    return float(result.get("p50_ms", -1)), int(result.get("failed", calls)), out.stdout.strip()


def start_attack(port, mode, *args):
    return subprocess.Popen([os.path.join(BIN, "rpc-attack"), mode, "--port", str(port)] +
                            [str(a) for a in args], stdout=subprocess.PIPE, text=True)


def finish_attack(attack):
    out, _ = attack.communicate(timeout=120)
    return fields(out)


def within(during, base):
    return during <= 2 * base + 0.5


def measure(name, server, attacks, settle_s):
    """The common frame of every attack: baseline probe and RSS, the
    attacks (argument lists for rpc-attack) started, a probe after
    settle_s, the attacks' counters, a probe after them, peak RSS. Checks
    that the legitimate calls all succeeded and that p50 during the attack
    stayed within 2x the baseline. Returns the figures and the attacks'
    counters."""
    base_rss = server.rss()
    base_p50, base_failed, _ = probe(server.port)
    running = [start_attack(server.port, *args) for args in attacks]
    time.sleep(settle_s)
    # The probe shares two cores with the attacker and with whatever test
    # ctest runs beside this one: a probe slowed by a neighbour is taken
    # again, up to three times while the attack still runs, and the best
    # p50 counts. What these attacks did before their fixes (a stalled
    # event loop, every worker occupied) slows every probe, by far more.
    probes = []
    for _ in range(3):
        probes.append(probe(server.port))
        if probes[-1][1] or within(probes[-1][0], base_p50):
            break
    during_p50 = min(p[0] for p in probes)
    during_failed = sum(p[1] for p in probes)
    during_line = probes[-1][2]
    during_rss = server.rss()
    during_threads = server.threads()
    results = [finish_attack(attack) for attack in running]
    after_p50, after_failed, _ = probe(server.port)
    time.sleep(0.5)
    figures = dict(base_p50=base_p50, during_p50=during_p50, after_p50=after_p50,
                   base_rss=base_rss, peak_rss=server.peak(), during_rss=during_rss,
                   after_rss=server.rss(), during_threads=during_threads)
    server.stop()
    figures["stats"] = server.stats
    if not BENCH:
        check("%s: legitimate calls succeed before, during, after (new connections)" % name,
              base_failed == 0 and during_failed == 0 and after_failed == 0, during_line)
        check("%s: p50 during the attack within 2x baseline (%.3f vs %.3f ms; probes %s)" % (
            name, during_p50, base_p50, " ".join("%.3f" % p[0] for p in probes)),
            within(during_p50, base_p50))
    return figures, [{k: (v if k == "last_error" else int(v)) for k, v in r.items()}
                     for r in results]


def run_hoard(work):
    """Item 4: streams announce 4 MiB, send 1 MiB, never END_STREAM."""
    budget = 128 if BENCH else 32
    conns, streams = (12, 40) if BENCH else (8, 16)
    args = [] if BENCH else ["--max-buffered", str(budget * MIB), "--receive-timeout-ms", "3000"]
    figures, (result,) = measure(
        "hoard", Server(work, *args),
        [["hoard", "--connections", conns, "--streams", streams, "--announce", 4 * MIB, "--send",
          MIB, "--hold-ms", 25000 if BENCH else 6000]], 5 if BENCH else 2.5)
    sent_mib = result["sent"] / MIB
    opened = result["opened"]
    figures["note"] = "%.0f MiB sent by %d streams, budget %d MiB, %d refused and reset" % (
        sent_mib, opened, budget, result["answered"])
    if BENCH:
        return figures
    check("hoard: the attacker opened its %d streams and sent %.0f MiB" % (conns * streams,
                                                                          sent_mib),
          opened == conns * streams and sent_mib > 2 * budget, result)
    growth = figures["peak_rss"] - figures["base_rss"]
    check("hoard: peak RSS growth %.0f MiB for %.0f MiB sent stays under the %d MiB budget + 50%%"
          % (growth, sent_mib, budget), growth < budget * 1.5, figures)
    check("hoard: every held stream was refused and closed by the server (%d answered, %d "
          "closed, %d RST_STREAM)" % (result["answered"], result["closed"], result["reset"]),
          result["answered"] == opened and result["closed"] == opened, result)
    check("hoard: the memory is released (RSS %.0f MiB after, %.0f before)" % (
        figures["after_rss"], figures["base_rss"]),
        figures["after_rss"] < figures["base_rss"] + budget / 2, figures)
    return figures


def run_idle(work):
    """Item 5, part 1: idle TLS/HTTP/2 connections from one source and bare
    TCP connections that never handshake from another, against the
    per-source limit and the idle/handshake timeouts; the legitimate client
    connects anew from a third source (loopback: 127.0.0.1 vs .2/.3)."""
    per_source = 256 if BENCH else 100
    idle_ms = 5000 if BENCH else 1500
    tls_conns, raw_conns = (1500, 1500) if BENCH else (150, 150)
    hold_ms = 15000 if BENCH else 5000
    figures, (tls, raw) = measure(
        "idle", Server(work, "--idle-timeout-ms", str(idle_ms), "--handshake-timeout-ms",
                       str(idle_ms), "--max-connections-per-source", str(per_source)),
        [["idle", "--connections", tls_conns, "--hold-ms", hold_ms, "--source", "127.0.0.2"],
         ["idle", "--raw", "--connections", raw_conns, "--hold-ms", hold_ms, "--source",
          "127.0.0.3"]], 1.0)
    figures["note"] = ("%d TLS idle connections admitted of %d (per-source %d), closed: %d; "
                       "%d bare TCP, closed: %d; idle/handshake timeout %d ms" % (
                           tls["connections"], tls_conns, per_source, tls["conns_closed"],
                           raw["connections"], raw["conns_closed"], idle_ms))
    if BENCH:
        return figures
    check("idle: per-source limit admits %d of %d TLS connections from one source" % (
        tls["connections"], tls_conns), tls["connections"] == per_source, tls)
    check("idle: every idle TLS connection was closed by the server (%d of %d)" % (
        tls["conns_closed"], tls["connections"]), tls["conns_closed"] == tls["connections"], tls)
    check("idle: every bare TCP connection was closed by the server (%d of %d)" % (
        raw["conns_closed"], raw["connections"]),
        raw["connections"] == raw_conns and raw["conns_closed"] == raw_conns, raw)
    growth = figures["peak_rss"] - figures["base_rss"]
    check("idle: peak RSS growth %.1f MiB stays under 32 MiB" % growth, growth < 32, figures)
    return figures


def run_connection_limit(work):
    """Item 5, part 2: more idle connections than the global limit (timeouts
    long, no per-source limit in the way): the idlest are closed to admit
    new ones, so a new legitimate client still gets in."""
    limit = 400 if BENCH else 50
    conns = 1500 if BENCH else 120
    figures, (result,) = measure(
        "limit", Server(work, "--idle-timeout-ms", "60000", "--max-connections", str(limit),
                        "--max-connections-per-source", "100000"),
        [["idle", "--connections", conns, "--hold-ms", 3000, "--source", "127.0.0.2"]], 1.5)
    figures["note"] = "%d idle TLS connections against a limit of %d: %d closed by the server" % (
        result["connections"], limit, result["conns_closed"])
    if not BENCH:
        check("limit: the idlest connections were closed to admit new ones (%d of %d closed)" % (
            result["conns_closed"], result["connections"]),
            result["connections"] == conns and result["conns_closed"] >= conns - limit, result)
    return figures


def run_unread(work):
    """Item 6: a receive window of 0 and Echo calls asking for 2 MiB replies,
    never read."""
    conn_budget, budget = (64, 256) if BENCH else (16, 32)
    conns, streams = (4, 150) if BENCH else (2, 40)
    # The worker ceiling bounds the handlers' own replies being built (16 x
    # 4 MiB here): without it a loaded machine lets all 80 run at once.
    args = [] if BENCH else ["--max-connection-unsent", str(conn_budget * MIB), "--max-unsent",
                             str(budget * MIB), "--send-timeout-ms", "2000", "--max-workers", "16"]
    figures, (result,) = measure(
        "unread", Server(work, *args),
        [["unread", "--connections", conns, "--streams", streams, "--reply", 2 * MIB,
          "--hold-ms", 25000 if BENCH else 5000]], 5 if BENCH else 1.0)
    opened = result["opened"]
    figures["note"] = ("%d streams asking %d MiB of replies never read: %d reset, %d closed; "
                       "unsent budget %d MiB per connection, %d MiB per server" % (
                           opened, opened * 2, result["reset"], result["closed"], conn_budget,
                           budget))
    if BENCH:
        return figures
    check("unread: the attacker opened its %d streams" % (conns * streams),
          opened == conns * streams, result)
    # The handlers build their 2 MiB replies in parallel before the bound is
    # applied to the packed answer: 2.5x the budget leaves room for that.
    growth = figures["peak_rss"] - figures["base_rss"]
    check("unread: peak RSS growth %.0f MiB for %d MiB asked stays under 2.5x the %d MiB budget "
          "(handlers' own replies included)" % (growth, opened * 2, budget),
          growth < budget * 2.5, figures)
    check("unread: answers not read are freed (RSS %.0f MiB after, %.0f before)" % (
        figures["after_rss"], figures["base_rss"]),
        figures["after_rss"] < figures["base_rss"] + budget / 2, figures)
    check("unread: every stream ended: answers over budget refused, stalled ones reset (%d "
          "closed, %d RST_STREAM)" % (result["closed"], result["reset"]),
          result["closed"] == opened and result["reset"] >= conns * conn_budget // 2 // 2, result)
    return figures


def run_hold(work):
    """Item 7: many more long polls than the worker ceiling, each held on
    the server for seconds (the issue: 1 100 held GetTask calls). Held calls
    are parked without a thread (--park), so the probe's calls find a free
    worker; without parking every hold would take a worker (and the queue)
    and the probe would wait behind them."""
    workers = 16
    conns, streams = (4, 275) if BENCH else (4, 100)
    sleep_ms = 8000 if BENCH else 3000
    if not BENCH:
        # The control: the same attack when each hold sleeps on its worker
        # (today's long polls in a handler) starves the probe.
        blocking = Server(work, "--max-workers", str(workers), "--max-queued", "8")
        base_p50, _, _ = probe(blocking.port, 20)
        attack = start_attack(blocking.port, "hold", "--connections", 1, "--streams", 100,
                              "--sleep-ms", 2000, "--hold-ms", 2500)
        time.sleep(0.5)
        p50, failed, line = probe(blocking.port, 20)
        finish_attack(attack)
        blocking.stop()
        slowest = float(fields(line).get("p99_ms", 0))
        check("hold: control: holds that sleep on their worker starve the probe (slowest call "
              "%.1f ms vs p50 %.3f before, %d of 20 refused)" % (slowest, base_p50, failed),
              failed > 0 or slowest > 500, line)
    # All holds arrive in one burst: each needs a worker for a moment (to
    # park), so the queue must take the burst.
    server = Server(work, "--park", "--max-workers", str(workers), "--max-queued", "2048")
    figures, (result,) = measure(
        "hold", server, [["hold", "--connections", conns, "--streams", streams, "--sleep-ms",
                          sleep_ms, "--hold-ms", sleep_ms + 3000]], 1.0)
    opened = result["opened"]
    figures["note"] = ("%d long polls of %d ms held at once, worker ceiling %d: %d answered; "
                       "server threads during %d" % (opened, sleep_ms, workers, result["answered"],
                                                     figures["during_threads"]))
    if BENCH:
        return figures
    check("hold: the attacker's %d long polls were all answered after their wait" % (
        conns * streams), opened == conns * streams and result["answered"] == opened, result)
    check("hold: held calls occupy no worker: %d threads during the attack (ceiling %d + loop "
          "+ timer + main)" % (figures["during_threads"], workers),
          figures["during_threads"] <= workers + 4, figures)
    check("hold: nothing refused for want of workers (%d)" % server.stats["refused_busy"],
          server.stats["refused_busy"] == 0, server.stats)
    return figures


def run_cancel(work):
    """Item 8: requests reset by their client right after they are sent
    (the issue: 1 027 logins, HEADERS then RST_STREAM, all ran argon2). The
    handlers would sleep 500 ms each; none may start, and the server's
    threads stay under its worker ceiling."""
    workers = 32
    conns, streams = (20, 100) if BENCH else (10, 100)
    server = Server(work, "--max-workers", str(workers))
    figures, (result,) = measure(
        "cancel", server, [["cancel", "--connections", conns, "--streams", streams,
                            "--sleep-ms", 500, "--hold-ms", 2500]], 0.3)
    stats = server.stats
    opened = result["opened"]
    figures["note"] = ("%d calls reset by their client: %d handlers started, %d dropped before "
                       "start; server threads during %d (ceiling %d)" % (
                           opened, stats["started_cancel_me"], stats["dropped_cancelled"],
                           figures["during_threads"], workers))
    if BENCH:
        return figures
    check("cancel: the attacker sent and reset its %d calls" % (conns * streams),
          opened == conns * streams, result)
    check("cancel: no handler started for a cancelled call (%d started, %d dropped)" % (
        stats["started_cancel_me"], stats["dropped_cancelled"]),
        stats["started_cancel_me"] == 0 and stats["dropped_cancelled"] == opened, stats)
    check("cancel: server threads %d stay under the worker ceiling %d" % (
        figures["during_threads"], workers), figures["during_threads"] <= workers + 3, figures)
    return figures


def make_cert(work):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-keyout",
                    work + "/key.pem", "-out", work + "/cert.pem", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_figures(name, f):
    f = dict(f)
    print("%-8s p50 ms before %.3f during %.3f (x%.2f) after %.3f (x%.2f); RSS MiB base %.1f "
          "peak %.1f (x%.2f) after %.1f; %s" % (
              name, f["base_p50"], f["during_p50"], f["during_p50"] / f["base_p50"],
              f["after_p50"], f["after_p50"] / f["base_p50"], f["base_rss"], f["peak_rss"],
              f["peak_rss"] / f["base_rss"], f["after_rss"], f.get("note", "")))


def main():
    with tempfile.TemporaryDirectory() as work:
        make_cert(work)
        for name, run in (("hoard", run_hoard), ("idle", run_idle),
                          ("limit", run_connection_limit), ("unread", run_unread), ("hold", run_hold),
                ("cancel", run_cancel)):
            if ONLY and name not in ONLY:
                continue
            print_figures(name, run(work))
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
