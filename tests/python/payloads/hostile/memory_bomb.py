# Allocates without bound.
def entrypoint(argv):
    hoard = []
    while True:
        hoard.append(bytearray(1 << 20))
