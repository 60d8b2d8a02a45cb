#!/usr/bin/python3
"""A request's audit entry survives kill -9 of management (issue 15 item 1).

Against a live platform (tests/robustness/run_on_platform.sh): CreateTask
and InvokeTask write their audit entries with their task records (pending
records, chained by the next append or within 500 ms). Management is
killed (-9) right after the answers, before anything chains them; after
`steep up` the restarted management chains what the dead one left
(management.log says so), and QueryAuditLogs (which walks and checks the
hash chain) finds each entry exactly once.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "robustness"))
import robust as r  # noqa: E402
from robust import fe_pb2  # noqa: E402

USER = "{ user: audit-crash, role: PlatformAdmin }"


def entries(frontend, message):
    outcome = frontend.call("QueryAuditLogs",
                            fe_pb2.QueryAuditLogsRequest(query=message, limit=100000))
    r.ok(outcome, "QueryAuditLogs %s" % message)
    return [e for e in outcome.response.logs
            if e.user == USER and e.message == message and e.result]


def main():
    _, fe = r.new_user("audit-crash")
    function_id = r.echo_function(fe)
    created_before = len(entries(fe, "create_task"))
    invoked_before = len(entries(fe, "invoke_task"))
    task_id = r.create_task(fe, function_id, '{"message": "audited"}')
    r.ok(fe.call("InvokeTask", fe_pb2.InvokeTaskRequest(task_id=task_id)), "InvokeTask")
    r.kill_service("management")  # within the flush interval: both entries still pending
    result = subprocess.run([r.STEEP, "up", "--dir", r.PLATFORM], capture_output=True,
                            text=True, timeout=120)
    r.check("steep up restarts management", result.returncode == 0,
            result.stdout + result.stderr)
    fe.close()
    fe = r.Endpoint("frontend", fe.metadata)
    created = entries(fe, "create_task")
    invoked = entries(fe, "invoke_task")
    r.check("create_task's entry is on the chain once after kill -9 (%d -> %d)"
            % (created_before, len(created)), len(created) == created_before + 1)
    r.check("invoke_task's entry is on the chain once after kill -9 (%d -> %d)"
            % (invoked_before, len(invoked)), len(invoked) == invoked_before + 1)
    with open(os.path.join(r.PLATFORM, "logs", "management.log")) as f:
        log = f.read()
    r.check("the restarted management chained the entries the dead one left pending",
            "an earlier process left pending" in log)
    state = r.wait_task(fe, task_id)
    r.check("the task still ran (%s)" % r.status_name(state.status),
            r.status_name(state.status) == "Finished")
    fe.close()


if __name__ == "__main__":
    r.run_flow(main)
    sys.exit(r.summary())
