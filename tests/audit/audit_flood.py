#!/usr/bin/python3
"""Anonymous requests cannot grow the audit log without bound (issue 14 item 2).

Against a live platform (run by tests/robustness/run_on_platform.sh with
[frontend] audit_auth_failure_window_secs = 2 and [management]
audit_retention_entries = 300): 2 000 GetFunction calls with a bogus token
from 8 threads all fail UNAUTHENTICATED; they add at most a bounded number
of audit entries (the first few per window one by one, then one summary
per window) and storage bytes, and the summaries account for every one of
the 2 000. Then authenticated calls (each audited) beyond the retention
leave the log at about the configured size, still verifiable (every query
walks the hash chain).
"""
import os
import re
import subprocess
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "robustness"))
import robust as r  # noqa: E402
from robust import fe_pb2  # noqa: E402

FLOOD = 2000
WINDOW_SECS = 2
PER_WINDOW = 20
RETENTION = 300


def storage_bytes():
    out = subprocess.run(["du", "-sb", os.path.join(r.PLATFORM, "data", "storage")],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def audit_entries(admin, query="*"):
    outcome = admin.call("QueryAuditLogs", fe_pb2.QueryAuditLogsRequest(query=query, limit=100000))
    if outcome.code != grpc.StatusCode.OK:
        raise RuntimeError("QueryAuditLogs: %r" % outcome)
    return list(outcome.response.logs)


def flood():
    codes = {}
    lock = threading.Lock()

    def worker(count):
        bogus = r.Endpoint("frontend", (("id", "mallory"), ("token", "bogus-token")))
        for _ in range(count):
            outcome = bogus.call("GetFunction", fe_pb2.GetFunctionRequest(
                function_id="function-00000000-0000-0000-0000-000000000000"))
            with lock:
                codes[outcome.code] = codes.get(outcome.code, 0) + 1
        bogus.close()

    threads = [threading.Thread(target=worker, args=(FLOOD // 8,)) for _ in range(8)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes, time.time() - start


def main():
    _, admin = r.new_user("auditor", role="PlatformAdmin")
    before_entries = len(audit_entries(admin))
    before_bytes = storage_bytes()
    codes, seconds = flood()
    r.check("all %d bogus-token calls fail UNAUTHENTICATED (%.1f s)" % (FLOOD, seconds),
            codes == {grpc.StatusCode.UNAUTHENTICATED: FLOOD}, repr(codes))
    time.sleep(WINDOW_SECS + 1.5)  # the last window closes and its summary is saved
    entries = audit_entries(admin)
    after_bytes = storage_bytes()
    added = len(entries) - before_entries
    failures = [e for e in entries if e.message.startswith("authenticate to get_function")]
    summaries = [e for e in entries if "failed authentications not audited one by one" in
                 e.message]
    counted = sum(int(re.search(r"(\d+) more failed", e.message).group(1)) for e in summaries)
    windows = int(seconds / WINDOW_SECS) + 2
    print("audit: %d bogus requests -> %d entries (%d one by one, %d summaries counting %d), "
          "storage +%d bytes" % (FLOOD, added, len(failures), len(summaries), counted,
                                 after_bytes - before_bytes), flush=True)
    r.check("every failure is accounted for: %d one by one + %d counted = %d" %
            (len(failures), counted, FLOOD), len(failures) + counted == FLOOD)
    r.check("at most %d entries one by one per window" % PER_WINDOW,
            len(failures) <= PER_WINDOW * windows, "%d in %d windows" % (len(failures), windows))
    r.check("the flood added a bounded number of entries (%d <= %d)" %
            (added, (PER_WINDOW + 1) * windows + 2), added <= (PER_WINDOW + 1) * windows + 2)
    r.check("the flood added few storage bytes (%d < 100 000; ~720 000 before)" %
            (after_bytes - before_bytes), after_bytes - before_bytes < 100000)
    r.check("summaries are failures with the caller's address",
            summaries and all(not e.result and len(e.ip) == 16 for e in summaries))

    # Retention: audited calls beyond it leave about RETENTION entries.
    for _ in range(RETENTION + 100):
        admin.call("GetFunction", fe_pb2.GetFunctionRequest(
            function_id="function-00000000-0000-0000-0000-000000000000"))
    kept = audit_entries(admin)
    slack = max(RETENTION // 16, 16)
    r.check("retention keeps about %d entries (%d, at most %d)" % (RETENTION, len(kept),
                                                                  RETENTION + slack + 1),
            RETENTION <= len(kept) <= RETENTION + slack + 1)
    r.check("the newest entries are kept, newest first",
            kept[0].message.startswith("get_function") and
            all(a.microsecond >= b.microsecond for a, b in zip(kept, kept[1:])))
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
