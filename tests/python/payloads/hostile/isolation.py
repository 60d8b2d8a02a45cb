# Run many times at once: no task sees another's module state, globals or
# files. Each marks the shared-looking places and reports what it found.
import logging
import math
import time

seen_at_import = hasattr(math, "steep_marker")


def entrypoint(argv):
    args = dict(zip(argv[0::2], argv[1::2]))
    me = args["id"]
    found = []
    if seen_at_import or hasattr(math, "steep_marker"):
        found.append("module")
    if "steep_global" in globals():
        found.append("global")
    math.steep_marker = me
    globals()["steep_global"] = me
    time.sleep(0.3)
    if math.steep_marker != me:
        found.append("changed")
    fds = 0
    for fd in range(256):
        try:
            logging.os.fstat(fd)
            fds += 1
        except OSError:
            pass
    return "%s fds=%d %s" % (me, fds, " ".join(found) or "clean")
