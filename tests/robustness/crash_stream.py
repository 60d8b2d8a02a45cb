#!/usr/bin/python3
"""kill -9 of every service at random moments during a stream of 200 echo tasks.

Issue 15 item 5. The platform runs supervised (`steep up --restarts`), so
each killed process is started again on its own. Eight client threads push
200 builtin-echo tasks (each with its own message) through create, invoke
and GetTask, retrying what fails while a service is down; meanwhile every
service (storage, management, scheduler, access-control, authentication,
frontend, both execution nodes) is killed once, in a random order, at a
random point of the stream. Then:
  - every task whose InvokeTask was acknowledged ends terminal (none stays
    Staged or Running after the restarts), within a bound;
  - a Finished task returns its own message;
  - a task that did not finish failed because its execution node died
    under it (the only loss allowed: the run itself, never an
    acknowledged write);
  - no task ran twice and every Finished task ran exactly once: the
    execution logs name each task they start ("running task <uuid>"),
    after the scheduler accepted the start.
"""
import glob
import json
import os
import random
import re
import signal
import sys
import threading
import time

import grpc

import robust as r
from robust import common_pb2, fe_pb2

TASKS = 200
THREADS = 8
STREAM_BOUND_S = 150
SERVICES = ("storage", "management", "scheduler", "access-control", "authentication",
            "frontend", "execution-1", "execution-2")
LOST_RUN = ("Executor Timeout", "execution node stopped", "lost the task")

lock = threading.Lock()
done = 0
results = {}  # task id -> (message, acknowledged, final GetTask response or None)
problems = []


def pid_of(name):
    try:
        with open(os.path.join(r.PLATFORM, "run", name + ".pid")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Client:
    """One thread's session; reconnects (new RA-TLS certificate) and logs in again."""

    def __init__(self, user):
        self.user = user
        self.fe = None
        self.connect()

    def connect(self):
        deadline = time.time() + 60
        while True:
            try:
                auth = r.login(self.user, "password")
                if self.fe:
                    self.fe.close()
                self.fe = r.Endpoint("frontend", auth.metadata)
                auth.close()
                return
            except Exception:  # noqa: BLE001 (a service is down: try again)
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def call(self, method, request, give_up=None):
        """Retries until OK or until give_up(outcome) says the answer is final."""
        deadline = time.time() + 60
        while True:
            outcome = self.fe.call(method, request, timeout=10)
            if outcome.code == grpc.StatusCode.OK or (give_up and give_up(outcome)):
                return outcome
            if time.time() > deadline:
                return outcome
            time.sleep(0.1)
            if outcome.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED,
                                grpc.StatusCode.DEADLINE_EXCEEDED) or \
                    "credential" in outcome.details:
                try:
                    self.connect()
                except Exception:  # noqa: BLE001
                    pass


def worker(index, function_id, count):
    global done
    client = Client("stream")
    for i in range(count):
        message = "m-%d-%d" % (index, i)
        outcome = client.call("CreateTask", fe_pb2.CreateTaskRequest(
            function_id=function_id, function_arguments=json.dumps({"message": message}),
            executor="builtin"))
        if outcome.code != grpc.StatusCode.OK:
            with lock:
                problems.append("CreateTask never succeeded: %r" % outcome)
            continue
        task_id = outcome.response.task_id
        # A lost answer to an invoke that staged the task: the retry is refused
        # ("failed to invoke task") and the task is on its way anyway.
        outcome = client.call("InvokeTask", fe_pb2.InvokeTaskRequest(task_id=task_id),
                              give_up=lambda o: "failed to invoke task" in o.details)
        acknowledged = outcome.code == grpc.StatusCode.OK
        final = None
        deadline = time.time() + 60
        while time.time() < deadline:
            got = client.call("GetTask", fe_pb2.GetTaskRequest(task_id=task_id))
            if got.code == grpc.StatusCode.OK:
                final = got.response
                if final.status in r.TERMINAL or (not acknowledged
                                                  and final.status < common_pb2.Staged):
                    break
            time.sleep(0.05)
        with lock:
            results[task_id] = (message, acknowledged, final)
            done += 1


def killer(order, stop):
    """Kills each service once at a random point of the stream."""
    for name in order:
        with lock:
            target = done + random.randint(5, 20)
        while not stop.is_set():
            with lock:
                if done >= target:
                    break
            time.sleep(0.02)
        time.sleep(random.uniform(0, 0.3))  # anywhere inside a task's path
        pid = pid_of(name)
        if not pid or not alive(pid):
            problems.append("%s was not running before its kill" % name)
            continue
        os.kill(pid, signal.SIGKILL)
        r.check("killed %s (pid %d) after %d tasks" % (name, pid, done), True)
        # The supervisor starts it again; the next kill waits for that.
        deadline = time.time() + 30
        while time.time() < deadline and not (pid_of(name) not in (0, pid)
                                              and alive(pid_of(name))):
            time.sleep(0.05)
        r.check("%s restarted by the supervisor" % name, pid_of(name) not in (0, pid))


def runs_per_task():
    """uuid -> how many times an execution slot started it (from the logs)."""
    runs = {}
    pattern = re.compile(r"running task ([0-9a-f-]{36})")
    for path in glob.glob(os.path.join(r.PLATFORM, "logs", "execution-*.log")):
        with open(path, errors="replace") as f:
            for line in f:
                m = pattern.search(line)
                if m:
                    runs[m.group(1)] = runs.get(m.group(1), 0) + 1
    return runs


def main():
    start = time.time()
    _, fe = r.new_user("stream")
    function_id = r.echo_function(fe)
    fe.close()
    order = list(SERVICES)
    random.shuffle(order)
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(i, function_id, TASKS // THREADS))
               for i in range(THREADS)]
    kill_thread = threading.Thread(target=killer, args=(order, stop))
    for t in threads:
        t.start()
    kill_thread.start()
    for t in threads:
        t.join(STREAM_BOUND_S)
    stop.set()
    kill_thread.join(60)
    r.check("the stream of %d tasks ends within %d s (%.1f s)" % (TASKS, STREAM_BOUND_S,
                                                               time.time() - start),
            not any(t.is_alive() for t in threads))
    r.check("no client step failed for good", not problems, "; ".join(problems[:5]))
    runs = runs_per_task()
    finished = failed = 0
    for task_id, (message, acknowledged, final) in sorted(results.items()):
        uuid = task_id[5:]
        status = r.status_name(final.status) if final else "unknown"
        n = runs.get(uuid, 0)
        r.check("%s ran at most once (%d)" % (task_id, n), n <= 1)
        if not acknowledged and (final is None or final.status < common_pb2.Staged):
            continue  # never invoked: nothing to run
        ok = final is not None and final.status in r.TERMINAL
        r.check("%s is terminal after the restarts (%s)" % (task_id, status), ok)
        if not ok:
            continue
        if final.status == common_pb2.Finished:
            finished += 1
            r.check("%s returns its own message and ran exactly once" % task_id,
                    final.result.Ok.return_value == message.encode() and n == 1,
                    "%r, %d run(s)" % (final.result.Ok.return_value, n))
        else:
            failed += 1
            reason = final.result.Err.reason
            r.check("%s failed only because its run was lost (%s)" % (task_id, reason),
                    final.status == common_pb2.Failed and any(w in reason for w in LOST_RUN))
    r.check("%d tasks finished, %d lost their run to a killed execution node" % (finished, failed),
            finished + failed >= TASKS * 9 // 10 and finished >= TASKS * 3 // 4)


if __name__ == "__main__":
    r.run_flow(main)
    sys.exit(r.summary())
