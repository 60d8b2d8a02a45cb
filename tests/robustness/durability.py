#!/usr/bin/python3
"""Durability through the public API across kill -9 of every service.

durability.sh runs this twice around the crash:
  durability.py populate STATE  registers users, functions, files and tasks in
      every interesting state (Created, DataAssigned, Finished, Failed,
      Canceled, and one Running + one Staged task that is still busy), and
      writes what was acknowledged to STATE (JSON);
  durability.py verify STATE    after kill -9 of every process and `steep up`:
      the old tokens still work, every record reads back as acknowledged,
      users log in with their passwords, the busy tasks end in a terminal
      state, and new work runs.
"""
import json
import sys
import time

import grpc

import robust as r
from robust import auth_pb2, common_pb2, fe_pb2

OK = grpc.StatusCode.OK


def populate(path):
    state = {"users": {}, "functions": {}, "inputs": {}, "outputs": {}, "tasks": {}}
    for i in range(3):
        name, password = "durable%d" % i, "pw-%d" % i
        auth, _ = r.new_user(name, password)
        state["users"][name] = {"password": password, "token": auth.metadata[1][1]}
    user = "durable0"
    fe = r.Endpoint("frontend", (("id", user), ("token", state["users"][user]["token"])))
    echo = r.echo_function(fe)
    sleep = r.builtin_function(fe, "test-sleep", arguments=["ms"])
    intersect = r.builtin_function(fe, "builtin-ordered-set-intersect", arguments=["order"],
                                   inputs=["input_data1", "input_data2"],
                                   outputs=["output_result1", "output_result2"])
    for function_id in (echo, sleep, intersect):
        state["functions"][function_id] = r.ok(fe.call("GetFunction", fe_pb2.GetFunctionRequest(
            function_id=function_id)), "GetFunction").SerializeToString().hex()
    inputs = []
    for i in range(2):
        data_id = r.input_file(fe, "fixtures/functions/ordered_set_intersect/psi%d.txt.enc" % i)
        inputs.append(data_id)
        state["inputs"][data_id] = r.ok(fe.call("GetInputFile", fe_pb2.GetInputFileRequest(
            data_id=data_id)), "GetInputFile").cmac.hex()
    outputs = [r.output_file(fe, "%s/outputs/durable-%d.enc" % (r.FILES_URL, i)) for i in range(2)]
    for data_id in outputs:
        state["outputs"][data_id] = ""

    def remember(name, task_id):
        task = r.get_task(fe, task_id)
        state["tasks"][name] = {"id": task_id, "status": task.status,
                                "result": task.result.SerializeToString().hex(),
                                "arguments": task.function_arguments}

    remember("created", r.create_task(fe, echo, '{"message": "created"}'))
    # A two-input task with one input assigned (Created) and one fully assigned (DataAssigned).
    spec_in = [("input_data1", [user]), ("input_data2", [user])]
    spec_out = [("output_result1", [user]), ("output_result2", [user])]
    partial = r.create_task(fe, intersect, '{"order": "ascending"}', spec_in, spec_out)
    r.assign(fe, partial, inputs=[("input_data1", inputs[0])])
    remember("partially assigned", partial)
    full = r.create_task(fe, intersect, '{"order": "ascending"}', spec_in, spec_out)
    r.assign(fe, full, inputs=[("input_data1", inputs[0]), ("input_data2", inputs[1])],
             outputs=[("output_result1", outputs[0]), ("output_result2", outputs[1])])
    remember("data assigned", full)
    finished = r.create_task(fe, echo, '{"message": "finished before the crash"}')
    r.invoke(fe, finished)
    r.wait_task(fe, finished)
    remember("finished", finished)
    failed = r.create_task(fe, echo, '{"message": 5}')
    r.invoke(fe, failed)
    r.wait_task(fe, failed)
    remember("failed", failed)
    canceled = r.create_task(fe, echo, '{"message": "canceled"}')
    r.ok(fe.call("CancelTask", fe_pb2.CancelTaskRequest(task_id=canceled)), "CancelTask")
    remember("canceled", canceled)
    for name, task in state["tasks"].items():
        r.check("before the crash: task %s is %s" % (name, r.status_name(task["status"])),
                task["status"] == {"created": common_pb2.Created,
                                   "partially assigned": common_pb2.Created,
                                   "data assigned": common_pb2.DataAssigned,
                                   "finished": common_pb2.Finished,
                                   "failed": common_pb2.Failed,
                                   "canceled": common_pb2.Canceled}[name], task)
    # The platform has one slot: the first sleeper runs, the second stays Staged.
    busy = []
    # The running one sleeps far longer than the test (it must die with its
    # service); the staged one runs briefly after the restart.
    for ms in (600000, 4000):
        task_id = r.create_task(fe, sleep, '{"ms": %d}' % ms)
        r.invoke(fe, task_id)
        busy.append(task_id)
    deadline = time.time() + 30
    while time.time() < deadline and r.get_task(fe, busy[0]).status != common_pb2.Running:
        time.sleep(0.1)
    statuses = [r.get_task(fe, t).status for t in busy]
    r.check("before the crash: one sleeper Running, one Staged",
            statuses == [common_pb2.Running, common_pb2.Staged],
            [r.status_name(s) for s in statuses])
    state["busy"] = busy
    with open(path, "w") as f:
        json.dump(state, f)


def verify(path):
    with open(path) as f:
        state = json.load(f)
    for name, user in state["users"].items():
        fe = r.Endpoint("frontend", (("id", name), ("token", user["token"])))
        outcome = fe.call("ListFunctions", fe_pb2.ListFunctionsRequest(user_id=name))
        r.check("%s's token from before the crash still works" % name, outcome.code == OK,
                repr(outcome))
        fe.close()
        auth = r.Endpoint("authentication")
        outcome = auth.call("UserLogin", auth_pb2.UserLoginRequest(id=name,
                                                                   password=user["password"]))
        r.check("%s logs in with the same password" % name, outcome.code == OK, repr(outcome))
        auth.close()
    user = "durable0"
    fe = r.Endpoint("frontend", (("id", user), ("token", state["users"][user]["token"])))
    for function_id, serialized in state["functions"].items():
        outcome = fe.call("GetFunction", fe_pb2.GetFunctionRequest(function_id=function_id))
        r.check("GetFunction %s reads back as acknowledged" % function_id[:17],
                outcome.code == OK and outcome.response.SerializeToString().hex() == serialized,
                repr(outcome))
    listed = r.ok(fe.call("ListFunctions", fe_pb2.ListFunctionsRequest(user_id=user)),
                  "ListFunctions")
    r.check("ListFunctions still lists the 3 registered functions",
            set(state["functions"]) <= set(listed.registered_functions), listed)
    for data_id, cmac in state["inputs"].items():
        outcome = fe.call("GetInputFile", fe_pb2.GetInputFileRequest(data_id=data_id))
        r.check("GetInputFile %s: same owner and cmac" % data_id[:14],
                outcome.code == OK and outcome.response.cmac.hex() == cmac
                and list(outcome.response.owner) == [user], repr(outcome))
    for data_id in state["outputs"]:
        outcome = fe.call("GetOutputFile", fe_pb2.GetOutputFileRequest(data_id=data_id))
        r.check("GetOutputFile %s: still there" % data_id[:15],
                outcome.code == OK and list(outcome.response.owner) == [user], repr(outcome))
    for name, task in state["tasks"].items():
        now = r.get_task(fe, task["id"])
        r.check("GetTask %s: same status %s, result and arguments" % (
            name, r.status_name(task["status"])),
            now.status == task["status"] and now.result.SerializeToString().hex() == task["result"]
            and now.function_arguments == task["arguments"],
            "%s %s" % (r.status_name(now.status), now.result))
    # The task that ran when its executor died fails (executor timeout); the
    # one still queued runs after the restart and finishes.
    running, staged = (r.wait_task(fe, task_id, 90) for task_id in state["busy"])
    r.check("the task that was Running at the crash ends Failed (%s: %r)" % (
        r.status_name(running.status), running.result.Err.reason),
        running.status == common_pb2.Failed and running.result.Err.reason != "", running)
    r.check("the task that was Staged at the crash ends terminal (%s: %r)" % (
        r.status_name(staged.status), staged.result),
        staged.status in r.TERMINAL, staged)
    # Work goes on: the data-assigned task runs now, and a new echo too.
    full = state["tasks"]["data assigned"]["id"]
    r.invoke(fe, full)
    task = r.wait_task(fe, full)
    r.check("the task assigned before the crash runs after it",
            task.status == common_pb2.Finished
            and task.result.Ok.return_value == b"3 common items", task.result)
    task = r.echo_flow(fe, "after the crash")
    r.check("a new builtin-echo task finishes after the restart",
            task.status == common_pb2.Finished
            and task.result.Ok.return_value == b"after the crash", task.result)
    code, output = r.platform_status()
    r.check("steep status: every service runs after the restart", code == 0, output)


def writer(path):
    """Until PATH.stop exists: registers functions, tasks and users as fast as
    it can, appending each acknowledged id to PATH.acked (the crash hits it
    mid-flight)."""
    with open(path) as f:
        state = json.load(f)
    fe = r.Endpoint("frontend", (("id", "durable0"), ("token", state["users"]["durable0"]["token"])))
    admin = r.Endpoint("authentication", (("id", "durable0"),
                                          ("token", state["users"]["durable0"]["token"])))
    import os
    acked = open(path + ".acked", "w")
    i = 0
    while not os.path.exists(path + ".stop"):
        i += 1
        outcome = fe.call("RegisterFunction", fe_pb2.RegisterFunctionRequest(
            name="builtin-echo", description="inflight %d" % i, executor_type="builtin",
            public=True, usage_quota=-1,
            arguments=[fe_pb2.FunctionArgument(key="message", allow_overwrite=True)]), timeout=5)
        if outcome.code == OK:
            function_id = outcome.response.function_id
            acked.write("function %s\n" % function_id)
            acked.flush()
            outcome = fe.call("CreateTask", fe_pb2.CreateTaskRequest(
                function_id=function_id, function_arguments='{"message": "m"}',
                executor="builtin"), timeout=5)
            if outcome.code == OK:
                acked.write("task %s\n" % outcome.response.task_id)
                acked.flush()
        outcome = admin.call("UserRegister", auth_pb2.UserRegisterRequest(
            id="inflight%d" % i, password="pw%d" % i, role="DataOwner", attribute="x"), timeout=5)
        if outcome.code == OK:
            acked.write("user inflight%d pw%d\n" % (i, i))
            acked.flush()
        if outcome.code != OK and outcome.code != grpc.StatusCode.UNAUTHENTICATED:
            time.sleep(0.05)  # the platform is down
    acked.close()


def verify_inflight(path):
    with open(path) as f:
        state = json.load(f)
    fe = r.Endpoint("frontend", (("id", "durable0"), ("token", state["users"]["durable0"]["token"])))
    with open(path + ".acked") as f:
        acked = [line.split() for line in f if line.strip()]
    counts = {"function": 0, "task": 0, "user": 0}
    lost = []
    for kind, *fields in acked:
        counts[kind] += 1
        if kind == "function":
            outcome = fe.call("GetFunction", fe_pb2.GetFunctionRequest(function_id=fields[0]))
        elif kind == "task":
            outcome = fe.call("GetTask", fe_pb2.GetTaskRequest(task_id=fields[0]))
        else:
            auth = r.Endpoint("authentication")
            outcome = auth.call("UserLogin", auth_pb2.UserLoginRequest(id=fields[0],
                                                                       password=fields[1]))
            auth.close()
        if outcome.code != OK:
            lost.append((kind, fields[0], outcome))
    r.check("records acknowledged while the platform was killed are all there "
            "(%d functions, %d tasks, %d users)" % (counts["function"], counts["task"],
                                                     counts["user"]),
            counts["function"] > 0 and not lost, lost[:5])


if __name__ == "__main__":
    r.run_flow({"populate": populate, "verify": verify, "writer": writer,
                "verify-inflight": verify_inflight}[sys.argv[1]], sys.argv[2])
    sys.exit(r.summary())
