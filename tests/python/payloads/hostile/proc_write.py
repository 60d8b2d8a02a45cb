# Writing to /proc (here the process's own OOM score).
import logging


def entrypoint(argv):
    with logging.io.open("/proc/self/oom_score_adj", "w") as f:
        f.write("-1000")
    return "wrote /proc"
