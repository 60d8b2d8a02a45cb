# Slow at import time (module level), before entrypoint: the wall clock still holds.
import time

time.sleep(3600)


def entrypoint(argv):
    return "never"
