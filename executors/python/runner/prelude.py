# Steep's Python sandbox prelude, compiled into steep-python-runner and run
# once in the zygote, before any task exists.
#
# It loads everything a task may import (the allow-list below), then shuts
# the import system: after the fork each task process is confined (seccomp,
# no file system), so a module that was not loaded here could not be read
# anyway. The import guard turns that into a clean ImportError naming the
# module instead of a sandbox violation, and refuses modules outside the
# allow-list even when something else already loaded them (os, sys, ...).
# The process sandbox is the security boundary; this is the API layer:
# dangerous modules are never loaded at all (numpy falls back without
# ctypes), and os/posix lose their process and file-system functions, as
# they stay reachable through other modules (logging.os, ...). An audit
# hook makes every file open a PermissionError, and linecache serves only
# the payload's own lines, so tracebacks and warnings never touch a file.
#
# Each task then calls run_task() in its own fresh fork: the MesaPy API
# (entrypoint(argv), teaclave_open, `from teaclave import open`,
# _numpypy), print/logging into the task log, and failures formatted as
# "<Type>: <message>" followed by the script's traceback lines.

import builtins
import json
import sys

import _teaclave

# Modules a payload may import. MesaPy offered marshal, math, binascii,
# itertools and _numpypy; CPython users also get these pure-computation
# modules and numpy. Not: os, sys, io, ctypes, subprocess, socket,
# multiprocessing, threading, signal, pickle (loads arbitrary callables),
# importlib, gc, inspect.
ALLOWED = (
    "_numpypy", "array", "base64", "binascii", "bisect", "cmath", "collections",
    "copy", "csv", "dataclasses", "datetime", "decimal", "enum", "fractions",
    "functools", "hashlib", "heapq", "hmac", "itertools", "json", "logging",
    "marshal", "math", "numbers", "numpy", "operator", "random", "re",
    "statistics", "string", "struct", "teaclave", "textwrap", "time", "typing",
    "unicodedata", "zlib",
)
# Never loaded in the zygote, so nothing can reach them later.
NEVER = (
    "ctypes", "_ctypes", "socket", "_socket", "ssl", "_ssl", "subprocess",
    "_posixsubprocess", "multiprocessing", "_multiprocessing", "mmap", "fcntl",
    "pty", "termios", "resource", "select", "selectors", "asyncio",
    "concurrent", "urllib.request", "http.client", "http.server", "ftplib",
    "smtplib", "webbrowser",
)
# Process, privilege and file-system functions of os/posix.
OS_REMOVED = (
    "fork", "forkpty", "vfork", "system", "popen", "execl", "execle", "execlp",
    "execlpe", "execv", "execve", "execvp", "execvpe", "spawnl", "spawnle",
    "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe",
    "posix_spawn", "posix_spawnp", "kill", "killpg", "open", "openpty",
    "remove", "unlink", "rmdir", "removedirs", "mkdir", "makedirs", "rename",
    "renames", "replace", "chmod", "fchmod", "lchmod", "chown", "fchown",
    "lchown", "link", "symlink", "truncate", "chdir", "fchdir", "chroot",
    "setuid", "setgid", "seteuid", "setegid", "setreuid", "setregid",
    "setresuid", "setresgid", "setgroups", "putenv", "unsetenv", "mkfifo",
    "mknod", "listdir", "scandir", "walk", "fwalk", "register_at_fork",
    "pidfd_open", "memfd_create", "eventfd", "sched_setaffinity",
    "setpriority", "nice",
)
TRACEBACK_FRAMES = 6  # the last frames kept in a failure reason
PAYLOAD = "<payload>"
PRELUDE = "<steep prelude>"  # this file's name in tracebacks


class _Refused:
    """Meta-path finder: modules are loaded only before the first task."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        raise ImportError(
            f"module '{name}' is not available in the sandbox "
            "(only modules loaded before the task started)", name=name)

    @staticmethod
    def invalidate_caches():
        pass


class _Never:
    """Meta-path finder used while the zygote loads: NEVER stays unloaded."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if any(name == never or name.startswith(never + ".") for never in NEVER):
            raise ImportError(f"import of '{name}' is not allowed in the sandbox", name=name)
        return None


def _load():
    sys.meta_path.insert(0, _Never)
    import importlib
    for name in ALLOWED:
        if name not in ("_numpypy", "teaclave"):
            importlib.import_module(name)
    import gc
    import io
    import linecache
    import logging
    import numpy
    import numpy.core.multiarray
    import numpy.core.umath
    import os
    import posix
    import random
    import types
    # The MesaPy micronumpy names, thin over numpy.
    numpypy = types.ModuleType("_numpypy", "MesaPy's micronumpy names over numpy")
    numpypy.multiarray = numpy.core.multiarray
    numpypy.umath = numpy.core.umath
    sys.modules["_numpypy"] = numpypy
    teaclave = types.ModuleType("teaclave", "Teaclave's file API for functions")
    teaclave.open = teaclave_open
    teaclave.teaclave_open = teaclave_open
    teaclave.TeaclaveFile = TeaclaveFile
    teaclave.TeaclaveError = TeaclaveError
    sys.modules["teaclave"] = teaclave
    os.environ.clear()
    for module in (os, posix):
        for attr in OS_REMOVED:
            if hasattr(module, attr):
                delattr(module, attr)
    builtins.teaclave_open = teaclave_open
    # Tracebacks and warnings (logging.exception, numpy's RuntimeWarning)
    # read source lines through linecache, which stats files: the payload's
    # lines come from the task instead, no other file is looked up.
    linecache.getline = _source_line
    linecache.getlines = _source_lines
    linecache.updatecache = lambda filename, module_globals=None: _source_lines(filename)
    linecache.checkcache = lambda filename=None: None
    linecache.lazycache = lambda filename, module_globals: False
    # Every file open Python audits (open(), io.open, os.open, the source
    # line of a SyntaxError, ...) fails cleanly instead of reaching the
    # refused syscall; what is not audited still meets the seccomp filter.
    sys.addaudithook(_refuse_open)
    # Close the import system: only sys.modules from here on.
    sys.meta_path[:] = [_Refused]
    sys.path_hooks.clear()
    sys.path_importer_cache.clear()
    sys.path[:] = []
    global _original_import, _gc, _io, _logging, _numpy, _random
    _original_import = builtins.__import__
    builtins.__import__ = _guarded_import
    _gc, _io, _logging, _numpy, _random = gc, io, logging, numpy, random


def _source_lines(filename, module_globals=None):
    return [line + "\n" for line in _state["lines"]] if filename == PAYLOAD else []


def _source_line(filename, lineno, module_globals=None):
    lines = _state["lines"]
    return lines[lineno - 1] + "\n" if filename == PAYLOAD and 0 < lineno <= len(lines) else ""


def _refuse_open(event, args):
    if event == "open":
        raise PermissionError("open: the sandbox has no file system; "
                              "use teaclave_open(file_id, 'rb' or 'wb') for the task's files")


def _importer_is_module(globals_):
    """True when the import comes from a loaded module's own code."""
    if not isinstance(globals_, dict):
        return False
    module = sys.modules.get(globals_.get("__name__"))
    return module is not None and getattr(module, "__dict__", None) is globals_ and \
        globals_.get("__name__") != "__main__"


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and not _importer_is_module(globals):
        top = name.partition(".")[0]
        if top not in ALLOWED:
            raise ImportError(f"import of '{name}' is not allowed in the sandbox", name=name)
        if top == "_numpypy":
            _numpypy_printing()
    return _original_import(name, globals, locals, fromlist, level)


def _numpypy_printing():
    # micronumpy printed floats as repr(): [1.0 0.0], numpy prints [1. 0.].
    _numpy.set_printoptions(formatter={"float_kind": lambda x: repr(float(x))})


# ---- the MesaPy file API -------------------------------------------------


class TeaclaveError(RuntimeError):
    """RuntimeError with MesaPy's texts; .message as in Python 2 scripts."""

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.message = message
        self.reason = reason


def teaclave_open(file_id, mode="rb"):
    if mode == "rb":
        opener = _teaclave.open_input
    elif mode == "wb":
        opener = _teaclave.create_output
    else:
        raise TeaclaveError("Teaclave Not Supported")
    try:
        handle = opener(str(file_id))
    except OSError as error:
        raise TeaclaveError("fileio_init: teaclave_ffi_error", str(error)) from None
    return TeaclaveFile(handle, mode)


class TeaclaveFile:
    """A task file: read/readline/readlines/readinto/readall or write, no seek."""

    def __init__(self, handle, mode):
        self._handle = handle
        self.mode = mode
        self.name = handle
        self._buffer = b""
        self.closed = False

    def _check(self, reading):
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if reading != (self.mode == "rb"):
            what = "fileio_read" if reading else "fileio_write"
            raise TeaclaveError(f"{what}: file not open for {'reading' if reading else 'writing'}")

    def _raw(self, size):
        try:
            return _teaclave.read(self._handle, size)
        except OSError as error:
            raise TeaclaveError(f"fileio_read: {error}") from None

    def readable(self):
        return self.mode == "rb"

    def writable(self):
        return self.mode == "wb"

    def seekable(self):
        return False

    def seek(self, *args):
        raise _io.UnsupportedOperation("seek")

    def tell(self):
        raise _io.UnsupportedOperation("tell")

    def read(self, size=-1):
        self._check(True)
        if size is None or size < 0:
            return self.readall()
        if self._buffer:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data
        return self._raw(size)

    def readall(self):
        self._check(True)
        chunks = [self._buffer]
        self._buffer = b""
        while True:
            chunk = self._raw(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def readinto(self, target):
        view = memoryview(target).cast("B")
        data = self.read(len(view))
        view[:len(data)] = data
        return len(data)

    def readline(self, size=-1):
        self._check(True)
        while b"\n" not in self._buffer and (size < 0 or len(self._buffer) < size):
            chunk = self._raw(65536)
            if not chunk:
                break
            self._buffer += chunk
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if size >= 0:
            end = min(end, size)
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

    def readlines(self, hint=-1):
        lines, total = [], 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def write(self, data):
        self._check(False)
        try:
            return _teaclave.write(self._handle, data)
        except OSError as error:
            raise TeaclaveError(f"fileio_write: {error}") from None

    def flush(self):
        pass

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                _teaclave.close(self._handle)
            except OSError as error:
                raise TeaclaveError(f"fileio_close: {error}") from None

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---- one task ------------------------------------------------------------


class _LogStream:
    """print() and logging go here: one task log line per text line."""

    def __init__(self):
        self._pending = ""

    def write(self, text):
        text = str(text)
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            _teaclave.log(line)
        return len(text)

    def flush(self):
        if self._pending:
            _teaclave.log(self._pending)
            self._pending = ""

    def isatty(self):
        return False


def _flat_argv(arguments):
    """Teaclave's into_vec(): sorted keys, strings raw, the rest as JSON."""
    values = json.loads(arguments) if arguments else {}
    argv = []
    for key in sorted(values):
        value = values[key]
        argv.append(key)
        # serde_json's compact text: sorted keys, UTF-8 kept.
        argv.append(value if isinstance(value, str) else
                    json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False))
    return argv


def run_task(source, arguments):
    """Runs entrypoint(argv) of the payload; returns the result bytes."""
    # Every fork starts with the zygote's generator states: fresh seeds
    # from the kernel, or each task would draw the same "random" numbers.
    _random.seed()
    _numpy.random.seed()
    stream = _LogStream()
    sys.stdout = sys.stderr = stream
    root = _logging.getLogger()
    handler = _logging.StreamHandler(stream)
    handler.setFormatter(_logging.Formatter("[%(levelname)s %(name)s] %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(_logging.INFO)
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _PayloadError(f"the payload is not UTF-8 Python source ({error})") from None
    code = compile(text, PAYLOAD, "exec", dont_inherit=True)
    _state["lines"] = text.splitlines()
    scope = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(code, scope)
        entrypoint = scope.get("entrypoint")
        if not callable(entrypoint):
            raise _PayloadError("the payload defines no function entrypoint(argv)")
        result = entrypoint(_flat_argv(arguments))
    finally:
        stream.flush()
    if result is None:
        return b""
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result)
    if not isinstance(result, str):
        result = str(result)
    return result.encode("utf-8", "surrogateescape")


class _PayloadError(Exception):
    pass


_state = {"lines": []}


def format_failure(error):
    """The task's failure reason: what went wrong first, then where."""
    if isinstance(error, _PayloadError):
        return str(error)
    if isinstance(error, SyntaxError) and error.filename == PAYLOAD:
        return (f"SyntaxError: {error.msg} (payload line {error.lineno}, "
                f"column {error.offset})")
    head = f"{type(error).__name__}: {error}".rstrip(": ") if str(error) else type(error).__name__
    frames = []
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename != PRELUDE:
            frames.append((code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    lines = [head, "Traceback (most recent call last):"]
    if len(frames) > TRACEBACK_FRAMES:
        lines.append(f"  ... {len(frames) - TRACEBACK_FRAMES} earlier frames")
        frames = frames[-TRACEBACK_FRAMES:]
    for filename, lineno, name in frames:
        lines.append(f'  File "{filename}", line {lineno}, in {name}')
        if filename == PAYLOAD and 0 < lineno <= len(_state["lines"]):
            lines.append("    " + _state["lines"][lineno - 1].strip())
    return "\n".join(lines)


def is_memory_error(error):
    return isinstance(error, MemoryError)


_load()
