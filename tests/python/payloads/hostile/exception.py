def check(argv):
    raise ValueError("bad input: %d arguments" % len(argv))


def entrypoint(argv):
    return check(argv)
