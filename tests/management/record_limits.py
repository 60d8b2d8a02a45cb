#!/usr/bin/python3
"""Records that cannot be written are refused when they are made (issue 14 item 3).

Through the frontend of a live platform (run by
tests/robustness/run_on_platform.sh): a CreateTask with 2.5 or 3.9 MiB of
function_arguments, a RegisterFunction with a 3 MiB payload, and input and
output files with a 3 MiB data: URL are refused INVALID_ARGUMENT with a
message naming the limit (before, the task was accepted and every later
Approve/Invoke/Cancel failed INTERNAL, its record too big to update). Tasks
under the limit can still be approved, invoked and cancelled, and the
platform keeps serving.
"""
import base64
import os
import sys

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "robustness"))
import robust as r  # noqa: E402
from robust import fe_pb2  # noqa: E402

MIB = 1 << 20
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def refused(name, outcome, limit):
    r.check(name, outcome.code == INVALID and ("the limit is %d bytes" % limit) in outcome.details,
            repr(outcome))


def arguments(size):
    return '{"message": "%s"}' % ("x" * size)


def main():
    _, fe = r.new_user("limits", role="PlatformAdmin")
    echo = r.echo_function(fe)

    for size in (int(2.5 * MIB), int(3.9 * MIB)):
        outcome = fe.call("CreateTask", fe_pb2.CreateTaskRequest(
            function_id=echo, function_arguments=arguments(size), executor="builtin"))
        refused("CreateTask with %.1f MiB of arguments is refused naming the limit" % (size / MIB),
                outcome, 1 << 20)

    # Just under the limit: every later step still works on it.
    big = r.create_task(fe, echo, arguments(MIB - 4096))
    outcome = fe.call("ApproveTask", fe_pb2.ApproveTaskRequest(task_id=big))
    r.check("ApproveTask of a task just under the limit", outcome.code == grpc.StatusCode.OK,
            repr(outcome))
    outcome = fe.call("CancelTask", fe_pb2.CancelTaskRequest(task_id=big))
    r.check("CancelTask of a task just under the limit", outcome.code == grpc.StatusCode.OK,
            repr(outcome))
    r.check("it is Canceled", r.get_task(fe, big).status == r.common_pb2.Canceled)
    task = r.create_task(fe, echo, arguments(100 << 10))
    r.invoke(fe, task)
    done = r.wait_task(fe, task)
    r.check("a 100 KiB-argument task runs to Finished", done.status == r.common_pb2.Finished,
            r.status_name(done.status))

    outcome = fe.call("RegisterFunction", fe_pb2.RegisterFunctionRequest(
        name="too-big", description="", executor_type="python", payload=os.urandom(3 * MIB),
        public=True, usage_quota=-1))
    refused("RegisterFunction with a 3 MiB payload is refused naming the limit", outcome,
            (2 << 20) - (64 << 10))
    outcome = fe.call("RegisterFunction", fe_pb2.RegisterFunctionRequest(
        name="fits", description="", executor_type="python", payload=os.urandom(256 << 10),
        public=True, usage_quota=-1))
    r.check("RegisterFunction with a 256 KiB payload is accepted",
            outcome.code == grpc.StatusCode.OK, repr(outcome))

    url = "data:application/octet-stream;base64," + base64.b64encode(
        os.urandom(3 * MIB * 3 // 4)).decode()
    crypto = r.common_pb2.FileCryptoInfo(schema="teaclave-file-128", key=bytes(16), iv=b"")
    outcome = fe.call("RegisterInputFile", fe_pb2.RegisterInputFileRequest(
        url=url, cmac=bytes(16), crypto_info=crypto))
    refused("RegisterInputFile with a 3 MiB data: URL is refused naming the limit", outcome,
            256 << 10)
    outcome = fe.call("RegisterOutputFile", fe_pb2.RegisterOutputFileRequest(
        url=url, crypto_info=crypto))
    refused("RegisterOutputFile with a 3 MiB data: URL is refused naming the limit", outcome,
            256 << 10)

    # The platform still serves everyone.
    task = r.echo_flow(fe, "still serving")
    r.check("the platform still serves (echo)", task.status == r.common_pb2.Finished and
            task.result.Ok.return_value == b"still serving", r.status_name(task.status))
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
