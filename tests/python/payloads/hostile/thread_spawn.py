# A thread (clone) through a module that already loaded threading.
import logging


def entrypoint(argv):
    logging.threading.Thread(target=print).start()
    return "started a thread"
