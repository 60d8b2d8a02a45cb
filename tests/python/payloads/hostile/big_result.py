def entrypoint(argv):
    return "x" * (100 << 20)
