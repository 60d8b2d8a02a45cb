# Shows argv as the payload receives it.
def entrypoint(argv):
    return repr(argv)
