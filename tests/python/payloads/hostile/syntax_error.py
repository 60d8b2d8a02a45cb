def entrypoint(argv):
    return argv[1] +* 2
