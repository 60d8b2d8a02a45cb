# The fcntl(F_SETOWN/F_SETSIG) finding: no way to reach fcntl.
import fcntl


def entrypoint(argv):
    fcntl.fcntl(3, fcntl.F_SETOWN, 1)
    return "owner set"
