# The MesaPy file API on one input (a text file) and one output: every
# reading call, the refused modes and ids, and writing. Returns what it saw.
from teaclave import open


def entrypoint(argv):
    seen = []
    for mode in ("r", "w", "ab"):
        try:
            open("input", mode)
        except RuntimeError as e:
            seen.append("mode %s: %s" % (mode, e.message))
    try:
        teaclave_open("no_such_file", "rb")
    except RuntimeError as e:
        seen.append("unknown id: " + e.message)
    with open("input", "rb") as f:
        head = f.read(5)
        first = f.readline()
        buf = bytearray(4)
        n = f.readinto(buf)
        two = f.readlines(1)
        rest = list(f)
        try:
            f.seek(0)
        except OSError as e:
            seen.append("seek: %s" % type(e).__name__)
    whole = teaclave_open("input", "rb").readall()
    assert head + first + bytes(buf[:n]) + b"".join(two) + b"".join(rest) == whole
    seen.append("lines: %d" % whole.count(b"\n"))
    seen.append("first: %s" % (head + first).decode().rstrip())
    with open("output", "wb") as out:
        out.write(b"copied ")
        out.write(memoryview(whole[:16]))
    try:
        out.write(b"x")
    except ValueError as e:
        seen.append("closed: %s" % e)
    return "\n".join(seen)
