# Who the task runs as: refused, or anything but root.
import logging


def entrypoint(argv):
    return "uid %d" % logging.os.getuid()
