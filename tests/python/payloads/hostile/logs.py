import logging

import numpy


def entrypoint(argv):
    print("hello from print", len(argv))
    logging.getLogger("payload").warning("hello from logging")
    try:
        1 / 0
    except ZeroDivisionError:
        logging.exception("caught")
    numpy.float64(1.0) / 0
    return None
