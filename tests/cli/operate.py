#!/usr/bin/python3
"""Operating a running platform: health, metrics and logs (issue 18, items 2, 4, 5).

Runs on a platform started with [log] format = "json", STEEP_LOG=debug and
restarts allowed (tests/cli/CMakeLists.txt). Checks, as an operator and an
independent gRPC client (Debian's grpcio, raw health messages) would:

1. grpc.health.v1.Health/Check on both public endpoints: SERVING for "",
   the service's own name and its gRPC services; NOT_FOUND for an unknown
   name; Watch is UNIMPLEMENTED. `steep status` shows every service serving.
2. Management stopped (SIGSTOP): the frontend's own health check answers
   NOT_SERVING, and SERVING again once it runs (SIGCONT).
3. Storage killed (kill -9) and its port held so the supervisor's restarts
   fail for a while: management is NOT_SERVING (its admin port, and its
   gRPC health check as the frontend's prober sees it over the attested
   channel), then SERVING once the supervisor brought storage back.
4. Every service's metrics (`steep metrics NAME`) parse as Prometheus text
   and move when a task runs: RPCs by method and status with histograms,
   storage commits, scheduler and node task counts, sandbox starts and a
   crashing payload's failure by reason, process RSS and descriptors. The admin port answers only GET /metrics and
   /healthz, refuses an oversized request, drops a silent client, and a
   service refuses an admin address that is not loopback.
5. The logs are one JSON object per line with the stable fields, and the
   request id sent with InvokeTask is found in the frontend's, management's
   and storage's logs (and the task id on the frontend's line).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import grpc

sys.path.insert(0, os.path.join(os.environ["STEEP_SOURCE_DIR"], "tests", "robustness"))
import robust as r  # noqa: E402
from robust import fe_pb2  # noqa: E402

HEALTH = "/grpc.health.v1.Health/"
SERVICES = ("storage", "access-control", "authentication", "management", "scheduler",
            "frontend", "execution-1")
PORTS = {"storage": r.BASE + 10002, "management": r.BASE + 10001}


def health_request(name):
    """HealthCheckRequest{service = name}, encoded by hand (field 1, bytes)."""
    data = name.encode()
    assert len(data) < 128
    return (b"\x0a" + bytes([len(data)]) + data) if data else b""


def health_status(payload):
    """HealthCheckResponse.status (field 1, varint); 0 (UNKNOWN) when absent."""
    if payload == b"":
        return 0
    assert payload[0] == 0x08, payload
    return payload[1]


SERVING, NOT_SERVING = 1, 2


def check_health(endpoint, name):
    outcome = endpoint.raw("Check", health_request(name), timeout=5, path=HEALTH + "Check")
    if outcome.code == grpc.StatusCode.OK:
        return health_status(outcome.response), outcome
    return None, outcome


def status_rows():
    out = subprocess.run([r.STEEP, "status", "--dir", r.PLATFORM, "--json"],
                         capture_output=True, text=True, timeout=30).stdout
    return {s["name"]: s for s in json.loads(out)["services"]}


def wait_for(what, predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def health_in_status(name):
    return status_rows().get(name, {}).get("health")


def metrics(name):
    result = subprocess.run([r.STEEP, "metrics", name, "--dir", r.PLATFORM],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError("steep metrics %s: %s" % (name, result.stderr))
    return result.stdout


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^{}]*\})? (-?[0-9.e+-]+|\+Inf|NaN)$')


def parse_metrics(text):
    """{series: value}; raises on a line that is not Prometheus text format."""
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("not Prometheus text format: %r" % line)
        series[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return series


def total(series, prefix):
    """Sum of the series whose name (with labels) starts with prefix."""
    return sum(v for k, v in series.items() if k.startswith(prefix))


def public_health():
    for service, names in (
            ("authentication", ("", "teaclave_authentication_service",
                                "teaclave_authentication_service_proto.TeaclaveAuthenticationApi",
                                "grpc.health.v1.Health")),
            ("frontend", ("", "teaclave_frontend_service",
                          "teaclave_frontend_service_proto.TeaclaveFrontend",
                          "grpc.health.v1.Health"))):
        endpoint = r.Endpoint(service)
        for name in names:
            got, outcome = None, None
            ok = wait_for("serving", lambda: check_health(endpoint, name)[0] == SERVING, 5)
            got, outcome = check_health(endpoint, name)
            r.check("%s: Health/Check(%r) is SERVING" % (service, name), ok and got == SERVING,
                    repr(outcome))
        _, outcome = check_health(endpoint, "no.such.Service")
        r.check("%s: Health/Check of an unknown service is NOT_FOUND" % service,
                outcome.code == grpc.StatusCode.NOT_FOUND, repr(outcome))
        outcome = endpoint.raw("Watch", health_request(""), timeout=5, path=HEALTH + "Watch")
        r.check("%s: Health/Watch is UNIMPLEMENTED" % service,
                outcome.code == grpc.StatusCode.UNIMPLEMENTED, repr(outcome))
        endpoint.close()
    r.check("steep status: every service is serving",
            wait_for("all serving", lambda: all(
                status_rows().get(s, {}).get("health") == "SERVING" for s in SERVICES), 10),
            repr(status_rows()))


def pid_of(name):
    with open(os.path.join(r.PLATFORM, "run", name + ".pid")) as f:
        return int(f.read())


def management_stopped():
    frontend = r.Endpoint("frontend")
    pid = pid_of("management")
    os.kill(pid, signal.SIGSTOP)
    try:
        r.check("management stopped: the frontend's Health/Check answers NOT_SERVING",
                wait_for("not serving",
                         lambda: check_health(frontend, "")[0] == NOT_SERVING, 6),
                repr(check_health(frontend, "")))
        r.check("management stopped: steep status shows the frontend not serving",
                health_in_status("frontend") == "NOT_SERVING", repr(status_rows()["frontend"]))
    finally:
        os.kill(pid, signal.SIGCONT)
    r.check("management runs again: the frontend is SERVING",
            wait_for("serving", lambda: check_health(frontend, "")[0] == SERVING, 6),
            repr(check_health(frontend, "")))
    frontend.close()


def dependency_serving(name, dependency):
    series = parse_metrics(metrics(name))
    return series.get('steep_dependency_serving{dependency="%s"}' % dependency)


def storage_killed():
    pid = pid_of("storage")
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    os.kill(pid, signal.SIGKILL)
    # Take the port before the supervisor's first restart (250 ms), so its
    # restarts fail until it is released.
    deadline = time.time() + 0.2
    while True:
        try:
            holder.bind(("127.0.0.1", PORTS["storage"]))
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.005)
    holder.listen(16)
    # Whoever connects (management's probe and client, steep status) is
    # hung up on at once: storage's port answers, but no storage is there.
    holder.settimeout(0.1)
    stop = threading.Event()

    def refuse():
        while not stop.is_set():
            try:
                holder.accept()[0].close()
            except OSError:
                pass

    refuser = threading.Thread(target=refuse)
    refuser.start()
    try:
        r.check("storage down: management's health is NOT_SERVING (steep status)",
                wait_for("not serving", lambda: health_in_status("management") == "NOT_SERVING",
                         6), repr(status_rows().get("management")))
        r.check("storage down: management answers its gRPC health check NOT_SERVING "
                "(as the frontend's prober sees it)",
                wait_for("dependency not serving", lambda: dependency_serving(
                    "frontend", "teaclave_management_service") == 0, 6))
        r.check("storage down: management reports storage unreachable in its metrics",
                dependency_serving("management", "teaclave_storage_service") == 0)
    finally:
        stop.set()
        refuser.join()
        holder.close()
    r.check("storage is back (restarted by the supervisor)",
            wait_for("storage back", lambda: status_rows()["storage"].get("pid") not in (0, pid)
                     and status_rows()["storage"].get("running"), 20),
            repr(status_rows().get("storage")))
    r.check("storage back: management is SERVING again",
            wait_for("serving", lambda: health_in_status("management") == "SERVING", 6),
            repr(status_rows().get("management")))
    r.check("storage back: the frontend sees management SERVING",
            wait_for("dependency serving", lambda: dependency_serving(
                "frontend", "teaclave_management_service") == 1, 6))


def run_task(frontend, function_id, message, request_id):
    task_id = r.create_task(frontend, function_id, json.dumps({"message": message}))
    outcome = frontend.raw("InvokeTask", fe_pb2.InvokeTaskRequest(task_id=task_id)
                           .SerializeToString(),
                           metadata=tuple(frontend.metadata) + (("x-request-id", request_id),))
    r.check("InvokeTask with x-request-id %s" % request_id, outcome.code == grpc.StatusCode.OK,
            repr(outcome))
    task = r.wait_task(frontend, task_id)
    return task_id, task


def admin_port(name):
    with open(os.path.join(r.PLATFORM, "run", name + ".admin")) as f:
        return int(f.read())


def http(port, request, read_timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def admin_bounds():
    port = admin_port("storage")
    for request, code in ((b"GET /other HTTP/1.1\r\n\r\n", b"404"),
                          (b"POST /metrics HTTP/1.1\r\n\r\n", b"405"),
                          (b"GET /metrics\r\n\r\n", b"400"),
                          (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 5000 + b"\r\n\r\n", b"431")):
        answer = http(port, request)
        r.check("admin port answers %s to %r" % (code.decode(), request[:24]),
                answer.startswith(b"HTTP/1.1 " + code), repr(answer[:60]))
    answer = http(port, b"GET /healthz HTTP/1.0\r\n\r\n")
    r.check("admin port: /healthz is 200 SERVING", answer.startswith(b"HTTP/1.1 200")
            and answer.endswith(b"SERVING\n"), repr(answer))
    silent = socket.create_connection(("127.0.0.1", port))
    start = time.time()
    answer = http(port, b"GET /healthz HTTP/1.0\r\n\r\n")
    r.check("admin port: a silent client is dropped and the next one served (%.1f s)"
            % (time.time() - start), answer.startswith(b"HTTP/1.1 200")
            and time.time() - start < 4)
    silent.close()
    exe = os.path.join(os.environ["STEEP_BIN"], "steep-access-control")
    result = subprocess.run([exe, "--config", os.path.join(r.PLATFORM, "steep.toml")],
                            env=dict(os.environ, STEEP_ADMIN_LISTEN="0.0.0.0:0",
                                     STEEP_ADMIN_PORT_FILE=""),
                            capture_output=True, text=True, timeout=30, cwd=r.PLATFORM)
    r.check("a service refuses an admin address that is not loopback (exit %d)"
            % result.returncode, result.returncode == 1 and "loopback" in result.stderr,
            result.stderr[-300:])


def metrics_move(frontend, function_id):
    before = {name: parse_metrics(metrics(name)) for name in SERVICES}
    request_id = "ops-" + uuid.uuid4().hex
    task_id, task = run_task(frontend, function_id, "metrics", request_id)
    r.check("the task finished", r.status_name(task.status) == "Finished", repr(task))
    time.sleep(0.3)  # the node's counters follow its report
    after = {name: parse_metrics(metrics(name)) for name in SERVICES}
    for name in SERVICES:
        a = after[name]
        r.check("%s: RSS and open descriptors exposed (%d KiB, %d fds)" % (
            name, a.get("process_resident_memory_bytes", 0) / 1024, a.get("process_open_fds", 0)),
            a.get("process_resident_memory_bytes", 0) > 1 << 20 and a.get("process_open_fds", 0) > 3)
        r.check("%s: attestation renewals exposed" % name,
                any(k.startswith("steep_attestation_renewals_total") for k in a))
        if name != "execution-1":
            moved = total(a, "steep_rpc_server_handled_total") > total(
                before[name], "steep_rpc_server_handled_total")
            r.check("%s: calls handled moved" % name, moved)
            r.check("%s: the latency histogram moved" % name, total(
                a, "steep_rpc_server_handling_seconds_count") > total(
                before[name], "steep_rpc_server_handling_seconds_count"))
    invoke = ('steep_rpc_server_handled_total{method="/teaclave_frontend_service_proto.'
              'TeaclaveFrontend/InvokeTask",code="OK"}')
    r.check("frontend: InvokeTask OK counted once more",
            after["frontend"].get(invoke, 0) == before["frontend"].get(invoke, 0) + 1,
            "%s -> %s" % (before["frontend"].get(invoke), after["frontend"].get(invoke)))
    for name, series in (("storage", 'steep_store_commits_total{result="ok"}'),
                         ("storage", "steep_store_commit_fsync_seconds_count"),
                         ("storage", "steep_store_commit_batch_size_count"),
                         ("scheduler", 'steep_scheduler_tasks_total{state="finished"}'),
                         ("execution-1", 'steep_tasks_total{state="finished",executor="builtin"}'),
                         ("execution-1", "steep_sandbox_starts_total"),
                         ("execution-1", "steep_runner_pool_tasks_total"),
                         ("management", "steep_rpc_client_calls_total"),
                         ("frontend", "steep_rpc_client_calls_total")):
        r.check("%s: %s moved" % (name, series),
                total(after[name], series) > total(before[name], series),
                "%s -> %s" % (total(before[name], series), total(after[name], series)))
    # A payload that crashes: the sandbox counts the failure by its reason.
    crash = r.builtin_function(frontend, "test-crash", arguments=[])
    task_id_crash = r.create_task(frontend, crash, "{}")
    r.invoke(frontend, task_id_crash)
    task = r.wait_task(frontend, task_id_crash)
    r.check("the crashing task failed", r.status_name(task.status) == "Failed", repr(task))
    time.sleep(0.3)
    node = parse_metrics(metrics("execution-1"))
    r.check("execution-1: the crash is counted as a sandbox failure (reason crash)",
            node.get('steep_sandbox_failures_total{reason="crash"}', 0) >= 1,
            repr({k: v for k, v in node.items() if "sandbox" in k}))
    r.check("execution-1: the failed task is counted by state and executor",
            node.get('steep_tasks_total{state="failed",executor="builtin"}', 0) >= 1)
    return request_id, task_id


def json_lines(name):
    """The log's JSON lines (the text ones before the restart into JSON are skipped)."""
    lines, seen_json, bad = [], False, []
    with open(os.path.join(r.PLATFORM, "logs", name + ".log"), encoding="utf-8") as f:
        for line in f:
            if not seen_json and not line.startswith("{"):
                continue
            seen_json = True
            try:
                lines.append(json.loads(line))
            except ValueError:
                bad.append(line)
    return lines, bad


def logs_follow(request_id, task_id):
    for name in ("frontend", "management", "storage", "scheduler", "authentication",
                 "access-control", "execution-1"):
        lines, bad = json_lines(name)
        r.check("%s.log: %d lines, each one JSON object" % (name, len(lines)),
                len(lines) > 3 and not bad, repr(bad[:2]))
        fields_ok = all({"time", "level", "service", "message"} <= set(x) and
                        re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", x["time"]) and
                        x["level"] in ("error", "warn", "info", "debug") for x in lines)
        r.check("%s.log: every line has time, level, service and message" % name, fields_ok)
        if name in ("frontend", "management", "storage"):
            mine = [x for x in lines if x.get("request_id") == request_id]
            r.check("%s.log: %d lines carry the request id %s" % (name, len(mine), request_id),
                    len(mine) > 0)
            if name == "frontend":
                r.check("frontend.log: the InvokeTask line carries the task id",
                        any(x.get("task_id") == task_id and "InvokeTask" in x["message"]
                            for x in mine), repr(mine[:3]))


def main():
    _, frontend = r.new_user("operator")
    function_id = r.echo_function(frontend)
    r.run_flow(public_health)
    request_id, task_id = metrics_move(frontend, function_id)
    r.run_flow(logs_follow, request_id, task_id)
    r.run_flow(admin_bounds)
    r.run_flow(management_stopped)
    r.run_flow(storage_killed)
    frontend.close()
    _, frontend = r.new_user("operator")
    _, task = run_task(frontend, function_id, "after", "ops-after")
    r.check("a task completes after the failures", r.status_name(task.status) == "Finished",
            repr(task))
    frontend.close()
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
