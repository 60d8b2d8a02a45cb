# Teaclave's mesapy_echo_payload, written again: argv is the flat sorted
# [key, value, ...] list; the result is argv[1].
def entrypoint(argv):
    assert argv[0] == "message"
    assert argv[1] is not None
    return argv[1]
