#!/usr/bin/python3
"""32 clients run full flows at once; every task runs exactly once.

Each client (own thread, own user, own RA-TLS-checked channels) logs in,
registers builtin-echo and builtin-ordered-set-intersect, registers two input
files and two output files, creates, assigns, approves and invokes both
tasks, and waits for the results. Afterwards: every flow succeeded with the
right results; each output file on the file server carries the cmac the
platform reports; and the execution logs show every task started exactly
once (no task is run twice).
"""
import glob
import os
import re
import sys
import threading
import time

import robust as r
from robust import common_pb2, fe_pb2

CLIENTS = int(os.environ.get("ROBUST_CLIENTS", "32"))
RUN = str(time.time_ns())


def flow(i, results):
    name = "conc%02d" % i
    _, fe = r.new_user(name, "pw%d" % i)
    echo = r.echo_function(fe)
    echo_task = r.create_task(fe, echo, '{"message": "client %d"}' % i)
    intersect = r.builtin_function(fe, "builtin-ordered-set-intersect", arguments=["order"],
                                   inputs=["input_data1", "input_data2"],
                                   outputs=["output_result1", "output_result2"])
    task_id = r.create_task(fe, intersect, '{"order": "ascending"}',
                            [("input_data1", [name]), ("input_data2", [name])],
                            [("output_result1", [name]), ("output_result2", [name])])
    inputs = [r.input_file(fe, "fixtures/functions/ordered_set_intersect/psi%d.txt.enc" % k)
              for k in range(2)]
    rels = ["outputs/%s/%s-%d.enc" % (RUN, name, k) for k in range(2)]
    outputs = [r.output_file(fe, "%s/%s" % (r.FILES_URL, rel)) for rel in rels]
    r.assign(fe, task_id, inputs=[("input_data1", inputs[0]), ("input_data2", inputs[1])],
             outputs=[("output_result1", outputs[0]), ("output_result2", outputs[1])])
    r.ok(fe.call("ApproveTask", fe_pb2.ApproveTaskRequest(task_id=task_id)), "ApproveTask")
    r.invoke(fe, echo_task)
    r.invoke(fe, task_id)
    echo_result = r.wait_task(fe, echo_task, 120)
    intersect_result = r.wait_task(fe, task_id, 120)
    cmacs = [r.ok(fe.call("GetOutputFile", fe_pb2.GetOutputFileRequest(data_id=o)),
                  "GetOutputFile").cmac for o in outputs]
    results[i] = (echo_task, echo_result, task_id, intersect_result, rels, cmacs)
    fe.close()


def racing_invokes():
    """The creator invokes each task from 4 threads at once: one InvokeTask wins,
    the task runs once, and the function's usage counts each task once."""
    _, fe = r.new_user("racer")
    echo = r.echo_function(fe)
    tasks = [r.create_task(fe, echo, '{"message": "race %d"}' % i) for i in range(8)]
    outcomes = {t: [] for t in tasks}
    barrier = threading.Barrier(4 * len(tasks))

    def invoke(task_id):
        channel = r.Endpoint("frontend", fe.metadata)
        barrier.wait(30)
        outcomes[task_id].append(channel.call("InvokeTask",
                                              fe_pb2.InvokeTaskRequest(task_id=task_id)))
        channel.close()

    threads = [threading.Thread(target=invoke, args=(t,)) for t in tasks for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for i, task_id in enumerate(tasks):
        codes = [o.code for o in outcomes[task_id]]
        r.check("racing InvokeTask x4 on task %d: exactly one OK, the others refused" % i,
                len(codes) == 4 and codes.count(r.grpc.StatusCode.OK) == 1
                and all(o.details for o in outcomes[task_id] if o.code != r.grpc.StatusCode.OK),
                outcomes[task_id])
        task = r.wait_task(fe, task_id)
        r.check("racing InvokeTask x4 on task %d: result once" % i,
                task.status == common_pb2.Finished
                and task.result.Ok.return_value == ("race %d" % i).encode(), task.result)
    usage = r.ok(fe.call("GetFunctionUsageStats", fe_pb2.GetFunctionUsageStatsRequest(
        function_id=echo)), "GetFunctionUsageStats")
    r.check("the function's usage counts each of the 8 tasks once (%d)" % usage.current_usage,
            usage.current_usage == len(tasks), usage)
    return tasks


def racing_participants():
    """Two participants assign and approve the same tasks at the same moment:
    no update is lost (every task reaches Approved with both approvals)."""
    users = [r.new_user("party%d" % k, "pw")[1] for k in range(2)]
    intersect = r.builtin_function(users[0], "builtin-ordered-set-intersect",
                                   arguments=["order"], inputs=["input_data1", "input_data2"],
                                   outputs=["output_result1", "output_result2"])
    tasks = [r.create_task(users[0], intersect, '{"order": "ascending"}',
                           [("input_data1", ["party0"]), ("input_data2", ["party1"])],
                           [("output_result1", ["party0"]), ("output_result2", ["party1"])])
             for _ in range(6)]
    files = {}
    for k, fe in enumerate(users):
        for task_id in tasks:
            files[(k, task_id)] = (
                r.input_file(fe, "fixtures/functions/ordered_set_intersect/psi%d.txt.enc" % k),
                r.output_file(fe, "%s/outputs/%s/party-%d-%s.enc" % (r.FILES_URL, RUN, k,
                                                                     task_id)))
    barrier = threading.Barrier(2 * len(tasks))
    errors = []

    def party(k, task_id):
        fe = r.Endpoint("frontend", users[k].metadata)
        data_id, out_id = files[(k, task_id)]
        try:
            # Approving needs all data assigned: every assign, then every approve,
            # each phase started at the same moment.
            barrier.wait(30)
            r.assign(fe, task_id, [("input_data%d" % (k + 1), data_id)],
                     [("output_result%d" % (k + 1), out_id)])
            barrier.wait(60)
            r.ok(fe.call("ApproveTask", fe_pb2.ApproveTaskRequest(task_id=task_id)), "Approve")
        except Exception as error:  # noqa: BLE001
            errors.append("party%d %s: %s" % (k, task_id, error))
        fe.close()

    threads = [threading.Thread(target=party, args=(k, t)) for t in tasks for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    r.check("racing AssignData + ApproveTask of two participants: no call failed", not errors,
            errors)
    for i, task_id in enumerate(tasks):
        task = r.get_task(users[0], task_id)
        r.check("racing participants, task %d: Approved by both, all data assigned" % i,
                task.status == common_pb2.Approved
                and sorted(task.approved_users) == ["party0", "party1"]
                and len(task.assigned_inputs) == 2 and len(task.assigned_outputs) == 2,
                "%s approved %s inputs %d outputs %d" % (
                    r.status_name(task.status), list(task.approved_users),
                    len(task.assigned_inputs), len(task.assigned_outputs)))
        r.invoke(users[0], task_id)
    for i, task_id in enumerate(tasks):
        task = r.wait_task(users[0], task_id, 120)
        r.check("racing participants, task %d: runs to 3 common items" % i,
                task.status == common_pb2.Finished
                and task.result.Ok.return_value == b"3 common items", task.result)
    return tasks


def main():
    os.makedirs(os.path.join(r.FILES_DIR, "outputs", RUN), exist_ok=True)
    results, errors = {}, {}

    def run(i):
        try:
            flow(i, results)
        except Exception as error:  # noqa: BLE001
            errors[i] = "%s: %s" % (type(error).__name__, error)

    start = time.time()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    print("        %d clients took %.1f s" % (CLIENTS, time.time() - start))
    r.check("all %d client threads ended" % CLIENTS, not any(t.is_alive() for t in threads))
    r.check("no client flow raised an error", not errors, errors)
    task_ids = []
    for i in range(CLIENTS):
        if i not in results:
            continue
        echo_task, echo_result, task_id, intersect_result, rels, cmacs = results[i]
        task_ids += [echo_task, task_id]
        r.check("client %d: echo result" % i,
                echo_result.status == common_pb2.Finished
                and echo_result.result.Ok.return_value == ("client %d" % i).encode(),
                echo_result.result)
        r.check("client %d: intersect result" % i,
                intersect_result.status == common_pb2.Finished
                and intersect_result.result.Ok.return_value == b"3 common items",
                intersect_result.result)
        on_disk = []
        for rel in rels:
            path = os.path.join(r.FILES_DIR, rel)
            with open(path, "rb") as f:
                on_disk.append(f.read()[80:96])
        r.check("client %d: both output files carry the cmac the platform reports" % i,
                on_disk == cmacs and all(len(c) == 16 for c in cmacs), (on_disk, cmacs))
    task_ids += racing_invokes()
    task_ids += racing_participants()
    started = {}
    for log in glob.glob(os.path.join(r.PLATFORM, "logs", "execution-*.log")):
        with open(log, errors="replace") as f:
            for match in re.finditer(r"running task ([0-9a-f-]{36})", f.read()):
                started[match.group(1)] = started.get(match.group(1), 0) + 1
    counts = {t: started.get(t.split("-", 1)[1], 0) for t in task_ids}
    r.check("the execution logs show each of the %d tasks started exactly once" % len(task_ids),
            len(task_ids) == 2 * CLIENTS + 8 + 6 and all(c == 1 for c in counts.values()),
            {t: c for t, c in counts.items() if c != 1})
    code, output = r.platform_status()
    r.check("steep status: every service runs after the concurrent flows", code == 0, output)


if __name__ == "__main__":
    r.run_flow(main)
    sys.exit(r.summary())
