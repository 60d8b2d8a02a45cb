# Teaclave's mesapy_deadloop_payload: never returns.
def entrypoint(argv):
    while True:
        pass
