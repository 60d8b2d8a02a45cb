# Who the task runs as: the sandbox user (uid and gid 65534 by default),
# mapped to itself in the task's own user namespace, never root.
import logging


def entrypoint(argv):
    os = logging.os
    return "uid %d euid %d gid %d egid %d" % (os.getuid(), os.geteuid(), os.getgid(),
                                              os.getegid())
