#!/usr/bin/env python3
"""`steep serve-files` against hostile HTTP heads (issue 14, item 20).

The server once parsed its heads with sscanf/strstr/strtoll: a signed or
junk Content-Length was taken for what strtoll made of it, two different
Content-Lengths were accepted (the last winning: one request read two ways),
a bare LF hid a header in the previous line. Each is now a 400; ordinary
GET, PUT, HEAD, keep-alive and pipelining still work, and paths cannot leave
the served directory."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

STEEP = os.path.join(os.environ["STEEP_BIN"], "steep")
failures = []


def check(name, cond, detail=""):
    print(("ok      " if cond else "FAILED  ") + name + ("" if cond else f": {detail}"))
    if not cond:
        failures.append(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(port, data, timeout=5):
    """Sends data, returns everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
    return out


def statuses(reply):
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", reply)]


with tempfile.TemporaryDirectory() as root:
    with open(os.path.join(root, "a.txt"), "wb") as f:
        f.write(b"hello\n")
    port = free_port()
    server = subprocess.Popen([STEEP, "serve-files", "--root", root, "--port", str(port)],
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        reply = exchange(port, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"PUT /up/b.txt HTTP/1.1\r\ncontent-length: 3\r\n"
                               b"Connection: keep-alive, close\r\n\r\nabc")
        check("GET, HEAD and PUT pipelined on one connection", statuses(reply) == [200, 200, 200],
              reply[:300])
        check("GET returns the file", b"\r\n\r\nhello\n" in reply)
        with open(os.path.join(root, "up", "b.txt"), "rb") as f:
            check("PUT wrote the body", f.read() == b"abc")

        hostile = {
            "negative Content-Length": b"PUT /n HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
            "signed Content-Length": b"PUT /n HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
            "junk after Content-Length": b"PUT /n HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc",
            "two Content-Lengths": b"PUT /n HTTP/1.1\r\nContent-Length: 3\r\n"
                                   b"Content-Length: 30\r\n\r\nabc",
            "bare LF": b"PUT /n HTTP/1.1\nContent-Length: 3\r\n\r\nabc",
            "space before colon": b"PUT /n HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc",
            "folded header": b"GET /a.txt HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            "unknown version": b"GET /a.txt HTTP/9.9\r\n\r\n",
            "over-long method": b"G" * 40 + b" /a.txt HTTP/1.1\r\n\r\n",
        }
        for name, request in hostile.items():
            got = statuses(exchange(port, request))
            check(f"{name} refused with 400", got == [400], got)
        check("nothing was written by a refused PUT", not os.path.exists(os.path.join(root, "n")))
        got = statuses(exchange(port, b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
        check("chunked bodies still 501", got == [501], got)
        for target in (b"/%2e%2e/etc/passwd", b"/a/..%2f..%2fetc", b"/a%00b", b"/a%5c..", b"/%zz"):
            got = statuses(exchange(port, b"GET " + target + b" HTTP/1.1\r\n\r\n"))
            check(f"path {target.decode()} forbidden", got == [403], got)
        check("the server is still up", server.poll() is None)
    finally:
        server.terminate()
        server.wait(timeout=10)

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
