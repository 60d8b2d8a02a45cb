#!/usr/bin/python3
"""One service dies (kill -9) while the others run.

For each of storage, management, authentication, access-control, scheduler
and the execution node in turn: calls through the frontend answer at once
with an error and a message (no hang until the deadline) -- or succeed when
the dead service is not needed; work accepted meanwhile (a task invoked
while the scheduler or the execution node is down) is not lost; `steep up
--dir` restarts the platform; then every call and a
builtin-echo task work again.
"""
import subprocess
import sys

import grpc

import robust as r
from robust import common_pb2, fe_pb2

NO_ANSWER = (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)


def up():
    result = subprocess.run([r.STEEP, "up", "--dir", r.PLATFORM], capture_output=True,
                            text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def main():
    _, fe = r.new_user("partial")
    function_id = r.echo_function(fe)
    calls = (("GetFunction", fe_pb2.GetFunctionRequest(function_id=function_id)),
             ("ListFunctions", fe_pb2.ListFunctionsRequest(user_id="partial")))
    for service in ("storage", "management", "authentication", "access-control", "scheduler",
                    "execution-1"):
        r.kill_service(service)
        for method, request in calls:
            outcome = fe.call(method, request, timeout=15)
            r.check("%s dead: %s answers within 5 s, OK or an error with a message (%s %r)" % (
                service, method, outcome.code.name, outcome.details[:60]),
                outcome.code not in NO_ANSWER and outcome.seconds < 5
                and (outcome.code == grpc.StatusCode.OK or outcome.details.strip() != ""),
                repr(outcome))
        pending = None
        if service in ("scheduler", "execution-1"):
            pending = r.create_task(fe, function_id, '{"message": "queued while %s was down"}'
                                    % service)
            outcome = fe.call("InvokeTask", fe_pb2.InvokeTaskRequest(task_id=pending))
            r.check("%s dead: InvokeTask is accepted (the task waits)" % service,
                    outcome.code == grpc.StatusCode.OK, repr(outcome))
        code, output = up()
        r.check("%s dead: steep up restarts it" % service, code == 0, output)
        # A second `steep up` restarts the whole platform (documented): the
        # services have new RA-TLS certificates, so verify and connect again.
        fe.close()
        fe = r.Endpoint("frontend", fe.metadata)
        for method, request in calls:
            outcome = fe.call(method, request)
            r.check("after restarting %s: %s works" % (service, method),
                    outcome.code == grpc.StatusCode.OK, repr(outcome))
        if pending:
            task = r.wait_task(fe, pending, 60)
            r.check("after restarting %s: the task invoked meanwhile finishes" % service,
                    task.status == common_pb2.Finished, "%s %s" % (
                        r.status_name(task.status), task.result))
        task = r.echo_flow(fe, "after %s" % service)
        r.check("after restarting %s: a builtin-echo task finishes" % service,
                task.status == common_pb2.Finished
                and task.result.Ok.return_value == ("after %s" % service).encode(),
                task.result)


if __name__ == "__main__":
    r.run_flow(main)
    sys.exit(r.summary())
