# A path lookup through stat (newfstatat with a path) is refused.
import logging


def entrypoint(argv):
    return str(logging.os.stat("/etc/passwd"))
