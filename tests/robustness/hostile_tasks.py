#!/usr/bin/python3
"""Hostile tasks fail alone, with a reason that names the problem.

Against a live platform (run by run_on_platform.sh with a short
[execution] task_timeout_secs and memory_mb): tasks whose arguments are
wrong, whose input URL is unreachable / 404 / file:///etc/shadow / a
fusion:// path escape, whose input cmac is wrong, whose output server
answers 500, and the test-only hostile built-ins (test-crash, test-loop,
test-alloc, test-fork, test-network, test-open-file, test-sleep) all run
at the same time as normal tasks. Each hostile task ends Failed (or, for a
payload that reports what the sandbox let it do, Finished with a summary
showing the forbidden thing did not happen) with a reason that names the
problem and contains no key; the normal tasks finish with the right result.
"""
import base64
import http.server
import os
import socket
import sys
import threading
import time

import grpc

import robust as r
from robust import common_pb2, fe_pb2

TASK_TIMEOUT = int(os.environ.get("ROBUST_TASK_TIMEOUT", "4"))
MEMORY_MB = int(os.environ.get("ROBUST_MEMORY_MB", "256"))


class Answer500(http.server.BaseHTTPRequestHandler):
    def _fail(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_POST = do_HEAD = _fail

    def log_message(self, *args):
        pass


class Drip(http.server.BaseHTTPRequestHandler):
    """Answers 200 with an endless body, a few bytes a second (above curl's
    low-speed limit): only a cancel or a timeout ends such a download."""

    def do_GET(self):
        self.server.active += 1
        try:
            self._drip()
        finally:
            self.server.active -= 1

    def _drip(self):
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 40))
        self.end_headers()
        try:
            while not self.server.stopping:
                self.wfile.write(b"xxxx")
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket goes


def is_python_zygote(pid):
    """The node's Python zygote lives as long as the node; it is no sandbox."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"\0--zygote\0" in f.read()
    except OSError:
        return False


def blocked_in(pid):
    """The system call a process is blocked in (/proc/PID/syscall), or None."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return int(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def idle_prestarted(pid, parents):
    """A pre-started runner ([execution] runner_pool) waiting for its task:
    the supervisor in wait4 with one child, the confined worker, in recvmsg
    on its channel. Such a pair holds no task and is no task's leftover."""
    children = [p for p, pp in parents.items() if pp == pid]
    return (len(children) == 1 and blocked_in(pid) == 61 and blocked_in(children[0]) == 47
            and not [p for p, pp in parents.items() if pp == children[0]])


def execution_descendants():
    """Live processes below the execution service (its running sandboxes),
    but not its idle pre-started runners."""
    with open(os.path.join(r.PLATFORM, "run", "execution-1.pid")) as f:
        root = int(f.read())
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if fields[0] != "Z":
                    parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and not is_python_zygote(p)
                    and not (parent == root and idle_prestarted(p, parents))]
        found += children
        frontier += children
    return found


def key_leaks(reason, key):
    text = reason.lower()
    return any(form.lower() in text for form in
               (key.hex(), base64.b64encode(key).decode(), repr(key)[2:-1]))


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url500 = "http://127.0.0.1:%d" % server.server_address[1]

    _, fe = r.new_user("hostile")
    secret_key = os.urandom(16)
    rsa = r.builtin_function(fe, "builtin-rsa-sign", arguments=["data"], inputs=["rsa_key"])
    rsa_file = "fixtures/functions/rsa_sign/rsakey.enc"
    with open(os.path.join(r.FILES_DIR, rsa_file), "rb") as f:
        rsa_cmac = f.read()[80:96]
    tasks = []  # (name, task_id, expectation, keywords, key)

    def hostile_input(name, url, keywords, cmac=rsa_cmac, key=None):
        key = key or secret_key
        outcome = fe.call("RegisterInputFile", fe_pb2.RegisterInputFileRequest(
            url=url, cmac=cmac, crypto_info=common_pb2.FileCryptoInfo(
                schema="teaclave-file-128", key=key)))
        if outcome.code != grpc.StatusCode.OK:
            r.check("%s: refused at registration with a precise error (%s)" % (name, outcome),
                    outcome.details.strip().lower() not in r.VAGUE
                    and not key_leaks(outcome.details, key), repr(outcome))
            return
        task_id = r.create_task(fe, rsa, '{"data": "x"}', inputs=[("rsa_key", ["hostile"])])
        r.assign(fe, task_id, inputs=[("rsa_key", outcome.response.data_id)])
        tasks.append((name, task_id, "failed", keywords, key))

    def hostile_task(name, function_id, arguments, expectation, keywords, outputs=()):
        task_id = r.create_task(fe, function_id, arguments,
                                outputs=[(n, ["hostile"]) for n, _ in outputs])
        if outputs:
            r.assign(fe, task_id, outputs=list(outputs))
        tasks.append((name, task_id, expectation, keywords, None))

    # Normal work that must not notice the hostile tasks.
    echo = r.echo_function(fe)
    normal = [r.create_task(fe, echo, '{"message": "normal %d"}' % i) for i in range(4)]

    # Wrong arguments.
    no_args = r.echo_function(fe, arguments=())
    hostile_task("builtin-echo without message", no_args, "{}", "failed", ["message", "argument"])
    for case, value in (("a number", "5"), ("an object", '{"a": 1}'), ("null", "null"),
                        ("an array", "[1]")):
        hostile_task("builtin-echo with message %s" % case, echo, '{"message": %s}' % value,
                     "failed", ["message", "argument"])
    # 10 000 arguments make a large StagedTask: it still runs, once.
    import json
    wide = r.echo_function(fe, arguments=["message"] + ["k%d" % i for i in range(9999)])
    wide_args = {"k%d" % i: "v" * 20 for i in range(9999)}
    wide_args["message"] = "wide"
    wide_task = r.create_task(fe, wide, json.dumps(wide_args))
    normal.append(wide_task)
    # Hostile inputs.
    hostile_input("input data: URL with broken base64", "data:text/plain;base64,!!not*base64",
                  ["base64", "data", "rsa_key"])
    hostile_input("input URL unreachable", "http://127.0.0.1:%d/rsakey.enc" % closed_port(),
                  ["connect", "refused", "unreachable", "rsa_key", "fetch", "download"])
    hostile_input("input URL 404", r.FILES_URL + "/no/such/file.enc",
                  ["404", "not found", "rsa_key"])
    hostile_input("input URL answering 500", url500 + "/rsakey.enc", ["500", "rsa_key"])
    hostile_input("input file:///etc/shadow", "file:///etc/shadow",
                  ["file", "scheme", "/etc/shadow", "permission", "not allowed", "rsa_key"])
    hostile_input("input fusion:// path escape",
                  "fusion:///TEACLAVE_FUSION_BASE/../../etc/passwd",
                  ["fusion", "..", "path", "escape", "rsa_key"])
    hostile_input("input with a wrong cmac", r.FILES_URL + "/" + rsa_file,
                  ["cmac", "mac", "integrity", "tag", "rsa_key"], cmac=bytes(16),
                  key=bytes(16))
    hostile_input("input with a wrong key", r.FILES_URL + "/" + rsa_file,
                  ["cmac", "mac", "integrity", "tag", "decrypt", "rsa_key"])
    # An output whose server answers 500 (and the same function writing to a good server).
    write_big = r.builtin_function(fe, "test-write-big", arguments=["bytes"], outputs=["output"])
    bad_out = r.output_file(fe, url500 + "/out.enc")
    good_out = r.output_file(fe, r.FILES_URL + "/outputs/hostile-good.enc")
    hostile_task("output server answers 500", write_big, '{"bytes": 100000}', "failed",
                 ["500", "output"], outputs=[("output", bad_out)])
    good_write = r.create_task(fe, write_big, '{"bytes": 100000}',
                               outputs=[("output", ["hostile"])])
    r.assign(fe, good_write, outputs=[("output", good_out)])

    # The test-only hostile built-ins.
    def payload(name, arguments, expectation, keywords, **task_args):
        function_id = r.builtin_function(fe, name, arguments=list(task_args))
        import json
        hostile_task(name + " " + json.dumps(task_args), function_id, json.dumps(task_args),
                     expectation, keywords)
    payload("test-crash", [], "failed", ["signal", "crash", "sigsegv", "segmentation", "killed"])
    payload("test-loop", [], "failed", ["time", "limit", "killed", "cpu"])
    payload("test-sleep", ["ms"], "failed", ["time", "limit", "killed"], ms=600000)
    payload("test-alloc", ["max_mb"], "contained", ["memory", "limit", "killed", "allocated"],
            max_mb=100000)
    payload("test-fork", ["count"], "contained", ["fork", "clone", "sandbox", "not permitted"], count=64)
    payload("test-network", ["port"], "contained",
            ["connect failed", "socket failed", "syscall socket", "syscall connect",
             "not permitted"], port=int(r.FILES_URL.rsplit(":", 1)[1]))
    payload("test-open-file", ["path"], "contained",
            ["open failed", "syscall open", "not permitted"],
            path="/etc/passwd")

    # Invoke everything, the normal tasks in between.
    order = [t[1] for t in tasks]
    for i, task_id in enumerate(normal + [good_write]):
        order.insert(min(len(order), 3 * i + 1), task_id)
    for task_id in order:
        r.invoke(fe, task_id)
    deadline_s = 3 * TASK_TIMEOUT + 60

    for i, task_id in enumerate(normal):
        task = r.wait_task(fe, task_id, deadline_s)
        expected = "wide" if task_id == wide_task else "normal %d" % i
        r.check("a normal echo task beside the hostile ones finishes (%s)" % expected,
                task.status == common_pb2.Finished
                and task.result.Ok.return_value == expected.encode(),
                "%s %s" % (r.status_name(task.status), task.result))
    task = r.wait_task(fe, good_write, deadline_s)
    out = fe.call("GetOutputFile", fe_pb2.GetOutputFileRequest(data_id=good_out))
    r.check("test-write-big to a good server finishes and its output has a cmac",
            task.status == common_pb2.Finished and out.code == grpc.StatusCode.OK
            and len(out.response.cmac) == 16,
            "%s %s %r" % (r.status_name(task.status), task.result, out))

    for name, task_id, expectation, keywords, key in tasks:
        task = r.wait_task(fe, task_id, deadline_s)
        reason = task.result.Err.reason if task.result.HasField("Err") else ""
        summary = task.result.Ok.return_value.decode("utf-8", "replace") \
            if task.result.HasField("Ok") else ""
        text = (reason or summary).lower()
        print("        %s: %s %r" % (name, r.status_name(task.status), reason or summary))
        if expectation == "failed":
            r.check("%s: task Failed" % name, task.status == common_pb2.Failed,
                    "%s %r" % (r.status_name(task.status), reason or summary))
        else:
            escaped = task.status == common_pb2.Finished and (
                "connected to" in text or text.startswith("opened")
                or (text.startswith("forked") and "failed" not in text))
            if name.startswith("test-alloc") and task.status == common_pb2.Finished:
                try:
                    escaped = int(text.split("allocated ")[1].split(" ")[0]) > MEMORY_MB
                except (IndexError, ValueError):
                    escaped = True
            r.check("%s: contained (Failed, or Finished showing it was refused)" % name,
                    task.status in (common_pb2.Failed, common_pb2.Finished) and not escaped,
                    "%s %r" % (r.status_name(task.status), reason or summary))
        r.check("%s: the reason names the problem" % name,
                text.strip() not in r.VAGUE and any(word in text for word in keywords),
                "%r does not mention any of %s" % (reason or summary, keywords))
        if key is not None:
            r.check("%s: the reason holds no key" % name, not key_leaks(reason, key), reason)

    # Cancel reaches a task stuck downloading from a dripping server, and one
    # sleeping in its sandbox; both end Canceled well before any timeout.
    drip = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    drip.stopping, drip.active = False, 0
    drip.daemon_threads = True
    threading.Thread(target=drip.serve_forever, daemon=True).start()
    data_id = r.ok(fe.call("RegisterInputFile", fe_pb2.RegisterInputFileRequest(
        url="http://127.0.0.1:%d/endless.enc" % drip.server_address[1], cmac=rsa_cmac,
        crypto_info=common_pb2.FileCryptoInfo(schema="teaclave-file-128", key=secret_key))),
        "RegisterInputFile").data_id
    stuck = r.create_task(fe, rsa, '{"data": "x"}', inputs=[("rsa_key", ["hostile"])])
    r.assign(fe, stuck, inputs=[("rsa_key", data_id)])
    sleeper = r.create_task(fe, r.builtin_function(fe, "test-sleep", arguments=["ms"]),
                            '{"ms": 600000}')
    for task_id in (stuck, sleeper):
        r.invoke(fe, task_id)
    deadline = time.time() + 30
    while time.time() < deadline and any(
            r.get_task(fe, t).status != common_pb2.Running for t in (stuck, sleeper)):
        time.sleep(0.1)
    for name, task_id in (("downloading from a dripping server", stuck),
                          ("sleeping in its sandbox", sleeper)):
        before = r.get_task(fe, task_id).status
        start = time.time()
        outcome = fe.call("CancelTask", fe_pb2.CancelTaskRequest(task_id=task_id))
        task = r.wait_task(fe, task_id, TASK_TIMEOUT + 30)
        r.check("CancelTask of a task %s (%s) ends it Canceled in %.1f s" % (
            name, r.status_name(before), time.time() - start),
            outcome.code == grpc.StatusCode.OK and task.status == common_pb2.Canceled
            and time.time() - start < TASK_TIMEOUT + 10,
            "%r %s %s" % (outcome, r.status_name(task.status), task.result))
    deadline = time.time() + 10
    while time.time() < deadline and (drip.active or execution_descendants()):
        time.sleep(0.1)
    # Known bug (reported): Stop kills only the sandbox; the slot keeps
    # downloading the canceled task's inputs (executors/task.c download_inputs
    # ignores the slot's cancel flag; libcurl has no overall timeout).
    r.check("the canceled download is aborted within 10 s (the dripping server sees it close)",
            drip.active == 0, "%d downloads still open" % drip.active)
    r.check("no sandbox process is left once every task ended",
            not execution_descendants(), execution_descendants())
    drip.stopping = True
    drip.shutdown()

    code, output = r.platform_status()
    r.check("steep status: every service still runs after the hostile tasks", code == 0, output)
    task = r.echo_flow(fe, "after hostile tasks")
    r.check("a builtin-echo task finishes after the hostile tasks",
            task.status == common_pb2.Finished
            and task.result.Ok.return_value == b"after hostile tasks",
            "%s %s" % (r.status_name(task.status), task.result))
    server.shutdown()


if __name__ == "__main__":
    start = time.time()
    r.run_flow(main)
    print("hostile tasks took %.1f s" % (time.time() - start))
    sys.exit(r.summary())
