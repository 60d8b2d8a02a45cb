def down(n):
    return down(n + 1) + 1


def entrypoint(argv):
    return str(down(0))
