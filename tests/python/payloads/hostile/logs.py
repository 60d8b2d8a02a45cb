import logging


def entrypoint(argv):
    print("hello from print", len(argv))
    logging.getLogger("payload").warning("hello from logging")
    return None
