#!/usr/bin/python3
"""Integrity of multi-party work (issue 14, items 10-12), through the frontend.

1. Function swapped after approval: alice and bob approve a two-party PSI
   task on builtin-ordered-set-intersect; the function's owner then changes
   it to builtin-ordered-set-join; alice's InvokeTask is refused with a
   reason naming what changed, the task stays Approved and no output is
   written. A change outside what an approval covers (the description) does
   not block, and a task created after the change runs the new function.
2. Quota race: a function with usage_quota 1, ten tasks, ten InvokeTask at
   once from ten threads (own channels): exactly one accepted, nine refused
   "function quota has been used up", usage 1.
3. One output, two tasks: an output file assigned to one task is refused to
   a second task and to a second output name of the same task; the first
   task runs and its output carries the registered cmac. Ten concurrent
   AssignData of one output to ten tasks: exactly one succeeds.
"""
import os
import threading
import time

import robust as r
from robust import fe_pb2

RUN = str(time.time_ns())
PSI = "fixtures/functions/ordered_set_intersect/psi%d.txt.enc"
UNKNOWN = r.grpc.StatusCode.UNKNOWN


def function_request(cls, name, **extra):
    return cls(name=name, description=extra.pop("description", name), executor_type="builtin",
               public=True,
               arguments=[fe_pb2.FunctionArgument(key="order", default_value="",
                                                  allow_overwrite=True)],
               inputs=[fe_pb2.FunctionInput(name=n, description="")
                       for n in ("input_data1", "input_data2")],
               outputs=[fe_pb2.FunctionOutput(name=n, description="")
                        for n in ("output_result1", "output_result2")],
               usage_quota=-1, **extra)


def psi_task(creator, parties, fe_of, function_id):
    """A two-party PSI task with each party's input and output assigned; returns
    (task id, output ids, output paths)."""
    a, b = parties
    task_id = r.create_task(fe_of[creator], function_id, '{"order": "ascending"}',
                            [("input_data1", [a]), ("input_data2", [b])],
                            [("output_result1", [a]), ("output_result2", [b])])
    outputs, paths = [], []
    for k, user in enumerate(parties):
        fe = fe_of[user]
        data = r.input_file(fe, PSI % k)
        rel = "outputs/%s/%s-%d.enc" % (RUN, task_id, k)
        out = r.output_file(fe, "%s/%s" % (r.FILES_URL, rel))
        r.assign(fe, task_id, inputs=[("input_data%d" % (k + 1), data)],
                 outputs=[("output_result%d" % (k + 1), out)])
        outputs.append(out)
        paths.append(os.path.join(r.FILES_DIR, rel))
    return task_id, outputs, paths


def swapped_function():
    _, fo = r.new_user("integrity-fo", role="FunctionOwner")
    fe_of = {u: r.new_user(u, role="DataOwner", attribute=u)[1] for u in ("ialice", "ibob")}
    function_id = r.ok(fo.call("RegisterFunction", function_request(
        fe_pb2.RegisterFunctionRequest, "builtin-ordered-set-intersect")), "RegisterFunction"
        ).function_id
    task_id, _, paths = psi_task("ialice", ("ialice", "ibob"), fe_of, function_id)
    for user in fe_of:
        r.ok(fe_of[user].call("ApproveTask", fe_pb2.ApproveTaskRequest(task_id=task_id)),
             "ApproveTask")
    r.check("swap: everyone approved", r.get_task(fe_of["ialice"], task_id).status
            == r.common_pb2.Approved)
    r.ok(fo.call("UpdateFunction", function_request(
        fe_pb2.UpdateFunctionRequest, "builtin-ordered-set-join", function_id=function_id)),
        "UpdateFunction")
    outcome = fe_of["ialice"].call("InvokeTask", fe_pb2.InvokeTaskRequest(task_id=task_id))
    r.check("swap: InvokeTask after the function changed is refused, saying why",
            outcome.code == UNKNOWN and "failed to invoke task" in outcome.details
            and "changed after the task was created (name)" in outcome.details, outcome)
    time.sleep(1)
    task = r.get_task(fe_of["ibob"], task_id)
    r.check("swap: the task did not run", task.status == r.common_pb2.Approved,
            r.status_name(task.status))
    r.check("swap: no output written", not any(os.path.exists(p) for p in paths), paths)
    # Changing it back restores what was approved: the task runs.
    r.ok(fo.call("UpdateFunction", function_request(
        fe_pb2.UpdateFunctionRequest, "builtin-ordered-set-intersect", function_id=function_id,
        description="only the description differs")), "UpdateFunction")
    r.invoke(fe_of["ialice"], task_id)
    task = r.wait_task(fe_of["ibob"], task_id, 60)
    r.check("swap: the approved content (description aside) runs", task.status
            == r.common_pb2.Finished, "%s %s" % (r.status_name(task.status), task.result))
    # A payload change is caught too.
    r.ok(fo.call("UpdateFunction", function_request(
        fe_pb2.UpdateFunctionRequest, "builtin-ordered-set-intersect", function_id=function_id,
        payload=b"other")), "UpdateFunction")
    task_id, _, _ = psi_task("ialice", ("ialice", "ibob"), fe_of, function_id)
    r.ok(fo.call("UpdateFunction", function_request(
        fe_pb2.UpdateFunctionRequest, "builtin-ordered-set-intersect", function_id=function_id,
        payload=b"another")), "UpdateFunction")
    for user in fe_of:
        r.ok(fe_of[user].call("ApproveTask", fe_pb2.ApproveTaskRequest(task_id=task_id)),
             "ApproveTask")
    outcome = fe_of["ialice"].call("InvokeTask", fe_pb2.InvokeTaskRequest(task_id=task_id))
    r.check("swap: a payload changed after creation is refused",
            outcome.code == UNKNOWN and "(payload)" in outcome.details, outcome)
    for fe in list(fe_of.values()) + [fo]:
        fe.close()


def quota_race():
    _, fe = r.new_user("integrity-quota")
    function_id = r.ok(fe.call("RegisterFunction", fe_pb2.RegisterFunctionRequest(
        name="builtin-echo", description="echo", executor_type="builtin", public=True,
        arguments=[fe_pb2.FunctionArgument(key="message", default_value="",
                                           allow_overwrite=True)],
        usage_quota=1)), "RegisterFunction").function_id
    tasks = [r.create_task(fe, function_id, '{"message": "quota %d"}' % i) for i in range(10)]
    channels = [r.Endpoint("frontend", fe.metadata) for _ in tasks]
    outcomes = [None] * len(tasks)
    barrier = threading.Barrier(len(tasks))

    def invoke(i):
        barrier.wait(30)
        outcomes[i] = channels[i].call("InvokeTask", fe_pb2.InvokeTaskRequest(task_id=tasks[i]))

    threads = [threading.Thread(target=invoke, args=(i,)) for i in range(len(tasks))]
    start = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    r.check("quota race: every call answered within 60 s (%.1f s)" % (time.time() - start),
            all(o is not None for o in outcomes))
    codes = [o.code for o in outcomes if o]
    r.check("quota race: exactly one of ten InvokeTask accepted",
            codes.count(r.grpc.StatusCode.OK) == 1, outcomes)
    r.check("quota race: the others refused \"function quota has been used up\"",
            all(o.details == "function quota has been used up" for o in outcomes
                if o and o.code != r.grpc.StatusCode.OK), outcomes)
    stats = r.ok(fe.call("GetFunctionUsageStats", fe_pb2.GetFunctionUsageStatsRequest(
        function_id=function_id)), "GetFunctionUsageStats")
    r.check("quota race: usage 1", stats.current_usage == 1, stats)
    winner = [t for t, o in zip(tasks, outcomes) if o and o.code == r.grpc.StatusCode.OK]
    if winner:
        task = r.wait_task(fe, winner[0], 60)
        r.check("quota race: the winner runs", task.status == r.common_pb2.Finished,
                r.status_name(task.status))
    for channel in channels:
        channel.close()
    fe.close()


def one_output_two_tasks():
    _, fe = r.new_user("integrity-out")
    function_id = r.builtin_function(fe, "builtin-ordered-set-intersect", arguments=["order"],
                                     inputs=["input_data1", "input_data2"],
                                     outputs=["output_result1", "output_result2"])
    me = "integrity-out"
    names = ([("input_data1", [me]), ("input_data2", [me])],
             [("output_result1", [me]), ("output_result2", [me])])
    first = r.create_task(fe, function_id, '{"order": "ascending"}', *names)
    second = r.create_task(fe, function_id, '{"order": "ascending"}', *names)
    inputs = [r.input_file(fe, PSI % k) for k in range(2)]
    rels = ["outputs/%s/shared-%d.enc" % (RUN, k) for k in range(3)]
    outs = [r.output_file(fe, "%s/%s" % (r.FILES_URL, rel)) for rel in rels]
    r.assign(fe, first, inputs=[("input_data1", inputs[0]), ("input_data2", inputs[1])],
             outputs=[("output_result1", outs[0]), ("output_result2", outs[1])])
    outcome = fe.call("AssignData", fe_pb2.AssignDataRequest(
        task_id=second, outputs=[fe_pb2.DataMap(data_name="output_result1", data_id=outs[0])]))
    r.check("one output: a second task may not take an assigned output",
            outcome.code == UNKNOWN and "failed to assign data to task" in outcome.details
            and "written once" in outcome.details, outcome)
    outcome = fe.call("AssignData", fe_pb2.AssignDataRequest(
        task_id=second, outputs=[fe_pb2.DataMap(data_name="output_result1", data_id=outs[2]),
                                 fe_pb2.DataMap(data_name="output_result2", data_id=outs[2])]))
    r.check("one output: nor two outputs of one task",
            outcome.code == UNKNOWN and "written once" in outcome.details, outcome)
    # The refused request claimed nothing: outs[2] can still go to one name.
    r.assign(fe, second, inputs=[("input_data1", inputs[0]), ("input_data2", inputs[1])],
             outputs=[("output_result1", outs[2])])
    r.check("one output: a refused assignment left its other claims free", True)
    r.invoke(fe, first)
    task = r.wait_task(fe, first, 60)
    r.check("one output: the first task runs", task.status == r.common_pb2.Finished,
            "%s %s" % (r.status_name(task.status), task.result))
    registered = r.ok(fe.call("GetOutputFile", fe_pb2.GetOutputFileRequest(data_id=outs[0])),
                      "GetOutputFile").cmac
    with open(os.path.join(r.FILES_DIR, rels[0]), "rb") as f:
        tag = f.read()[80:96]
    r.check("one output: the file carries the registered cmac", registered == tag)
    fe.close()


def output_race():
    """Ten tasks claim one output file from ten threads at once: exactly one wins."""
    me = "integrity-race"
    _, fe = r.new_user(me)
    function_id = r.builtin_function(fe, "builtin-echo", arguments=["message"],
                                     outputs=["output"])
    tasks = [r.create_task(fe, function_id, '{"message": "x"}', outputs=[("output", [me])])
             for _ in range(10)]
    out = r.output_file(fe, "%s/outputs/%s/raced.enc" % (r.FILES_URL, RUN))
    channels = [r.Endpoint("frontend", fe.metadata) for _ in tasks]
    outcomes = [None] * len(tasks)
    barrier = threading.Barrier(len(tasks))

    def claim(i):
        barrier.wait(30)
        outcomes[i] = channels[i].call("AssignData", fe_pb2.AssignDataRequest(
            task_id=tasks[i], outputs=[fe_pb2.DataMap(data_name="output", data_id=out)]))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(tasks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    codes = [o.code for o in outcomes if o]
    r.check("output race: exactly one of ten concurrent AssignData takes the output",
            len(codes) == 10 and codes.count(r.grpc.StatusCode.OK) == 1, outcomes)
    r.check("output race: the others are told it is written once",
            all("written once" in o.details for o in outcomes
                if o and o.code != r.grpc.StatusCode.OK), outcomes)
    for channel in channels:
        channel.close()
    fe.close()


def main():
    for flow in (swapped_function, quota_race, one_output_two_tasks, output_race):
        r.run_flow(flow)
    return r.summary()


if __name__ == "__main__":
    raise SystemExit(main())
