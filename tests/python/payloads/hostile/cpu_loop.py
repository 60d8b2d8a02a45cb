# Spins until the sandbox's CPU limit stops it.
def entrypoint(argv):
    n = 0
    while True:
        n += 1
