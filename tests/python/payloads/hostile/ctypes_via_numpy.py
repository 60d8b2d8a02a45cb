# numpy's ctypes helpers exist, but ctypes was never loaded.
import numpy


def entrypoint(argv):
    lib = numpy.ctypeslib.ctypes
    if lib is None:
        raise ImportError("numpy.ctypeslib has no ctypes")
    return str(lib.CDLL(None).getpid())
