import ctypes


def entrypoint(argv):
    return str(ctypes.CDLL(None).getpid())
