#!/usr/bin/python3
"""Small HTTP file server for the execution tests.

Serves files below ROOT (argv[1]) on 127.0.0.1 at a free port, printed as the
first line on stdout. GET /slow/<name> waits 0.5 s first; GET /redirect/<name>
answers 302 to /<name>; GET /drip/<n> sends n bytes, one every 0.2 s (a
stalling server); PUT /created/<name> stores the body but answers 201
(Teaclave counts only 200 as success); any other PUT stores the body and
answers 200. Missing files answer 404. Stops when stdin closes.
"""
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def local(self, path):
        name = path.split("?", 1)[0].lstrip("/")
        for prefix in ("slow/", "created/", "redirect/"):
            if name.startswith(prefix):
                name = name[len(prefix):]
        return os.path.join(ROOT, os.path.basename(name))

    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path[len("/redirect/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/drip/"):
            count = int(self.path[len("/drip/"):])
            self.send_response(200)
            self.send_header("Content-Length", str(count))
            self.end_headers()
            try:
                for _ in range(count):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass  # the client gave up, as it should
            return
        if self.path.startswith("/slow/"):
            time.sleep(0.5)
        path = self.local(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        length = int(self.headers.get("Content-Length", "0"))
        ctype = self.headers.get("Content-Type", "")
        data = self.rfile.read(length)
        path = self.local(self.path)
        with open(path, "wb") as f:
            f.write(data)
        with open(path + ".content-type", "w") as f:
            f.write(ctype)
        self.send_response(201 if self.path.startswith("/created/") else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
server.shutdown()
