#!/usr/bin/python3
"""Records that cannot be written are never accepted (issue 14 item 3).

Through the frontend of a live platform (run by
tests/robustness/run_on_platform.sh). Before, a CreateTask with 2.1-3.9 MiB
of function_arguments was accepted and every later Approve/Invoke/Cancel
failed INTERNAL, its record too big to update. Now records are bounded by
the storage message (management's records.h derives every limit from the
platform's message limit), so whatever fits a client's 4 MiB message works:
such tasks are approved, cancelled and run to Finished, and a payload that
fits the message registers. What cannot work is refused when it is made,
with the limit named: a 3 MiB data: URL (file records are copied into every
task that uses them).
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
        big = r.create_task(fe, echo, arguments(size))
        outcome = fe.call("ApproveTask", fe_pb2.ApproveTaskRequest(task_id=big))
        r.check("ApproveTask of a task with %.1f MiB of arguments" % (size / MIB),
                outcome.code == grpc.StatusCode.OK, repr(outcome))
        outcome = fe.call("CancelTask", fe_pb2.CancelTaskRequest(task_id=big))
        r.check("CancelTask of a task with %.1f MiB of arguments" % (size / MIB),
                outcome.code == grpc.StatusCode.OK, repr(outcome))
        r.check("it is Canceled", r.get_task(fe, big).status == r.common_pb2.Canceled)
    size = int(2.5 * MIB)
    task = r.create_task(fe, echo, arguments(size))
    r.invoke(fe, task)
    done = r.wait_task(fe, task)
    r.check("a 2.5 MiB-argument task runs to Finished with its message as the result",
            done.status == r.common_pb2.Finished and
            done.result.Ok.return_value == b"x" * size, r.status_name(done.status))

    outcome = fe.call("RegisterFunction", fe_pb2.RegisterFunctionRequest(
        name="big", description="", executor_type="python", payload=os.urandom(3 * MIB),
        public=True, usage_quota=-1))
    r.check("RegisterFunction with a 3 MiB payload (within the message limit) is accepted",
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
