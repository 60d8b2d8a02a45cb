# io.open reached through logging: the openat syscall is refused.
import logging


def entrypoint(argv):
    return logging.io.open("/etc/passwd", "rb").read()
