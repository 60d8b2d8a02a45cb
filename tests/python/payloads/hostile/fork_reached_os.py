# os reached through a module that uses it: its process functions are gone.
import logging


def entrypoint(argv):
    while True:
        logging.os.fork()
