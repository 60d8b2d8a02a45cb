# Teaclave's optional-files payload, written again: the first line of the
# optional input input_data1, or a note that the task has none (an unknown
# file id raises RuntimeError with MesaPy's text).
def entrypoint(argv):
    try:
        with teaclave_open("input_data1", "rb") as f:
            return f.readline().rstrip(b"\n")
    except RuntimeError as e:
        if e.message != "fileio_init: teaclave_ffi_error":
            raise
        return "input_data1 does not exist"
