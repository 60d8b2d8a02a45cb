#!/usr/bin/python3
"""Interop of Steep's gRPC layer with python3-grpcio (gRPC C-core), both ways.

1. Our server (rpc-echo-server) <- grpcio client: calls, metadata both ways,
   status + message, every refusal followed by a working call, big messages,
   concurrency; mutual TLS with the verify hook (accepted, refused, missing
   certificate); raw TLS 1.2-only and TLS 1.3 clients from Python's ssl with
   Teaclave's cipher string speaking minimal HTTP/2; the server's own
   grpc-timeout enforcement (raw client, handler ignoring cancellation);
   peers without ALPN h2.
2. Our client (rpc-interop-client) -> grpcio server: its own list of checks.

Certificates are generated here (P-256, self-signed) in a temporary dir.
"""
import concurrent.futures
import datetime
import os
import resource
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BUILD = os.environ.get("STEEP_BUILD_DIR", "build")
SOURCE = os.environ.get("STEEP_SOURCE_DIR", ".")
BIN = os.path.join(BUILD, "bin")
SAY = "/steep_test.Echo/Say"
LIMIT = 4 * 1024 * 1024
failures = []


def check(name, condition, detail=""):
    print(("ok " if condition else "FAIL ") + name + ("" if condition else ": " + str(detail)))
    sys.stdout.flush()
    if not condition:
        failures.append(name)


def make_identity(directory, common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_path = os.path.join(directory, common_name + ".crt")
    key_path = os.path.join(directory, common_name + ".key")
    with open(cert_path, "wb") as f:
        f.write(cert_pem)
    with open(key_path, "wb") as f:
        f.write(key_pem)
    return {"cert": cert_pem, "key": key_pem, "cert_path": cert_path, "key_path": key_path}


def load_echo_pb2(directory):
    subprocess.run(["protoc", "--python_out=" + directory, "-I", os.path.join(SOURCE, "tests/rpc"),
                    "echo.proto"], check=True)
    sys.path.insert(0, directory)
    import echo_pb2
    return echo_pb2


class EchoServer:
    """rpc-echo-server as a child process."""

    def __init__(self, identity, *extra, max_files=None):
        def limit_files():
            if max_files:
                resource.setrlimit(resource.RLIMIT_NOFILE, (max_files, max_files))
        self.process = subprocess.Popen(
            [os.path.join(BIN, "rpc-echo-server"), "--cert", identity["cert_path"],
             "--key", identity["key_path"], *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=limit_files)
        line = self.process.stdout.readline()
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=20)
        check("echo server exits cleanly", self.process.returncode == 0, self.process.returncode)


def channel_to(port, root, identity=None):
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=identity["key"] if identity else None,
        certificate_chain=identity["cert"] if identity else None)
    return grpc.secure_channel("localhost:%d" % port, credentials)


def stub(channel, pb2, path=SAY, raw_request=False):
    return channel.unary_unary(
        path,
        request_serializer=(lambda b: b) if raw_request else pb2.EchoRequest.SerializeToString,
        response_deserializer=pb2.EchoReply.FromString)


def expect_code(name, call, code):
    try:
        call()
    except grpc.RpcError as error:
        check(name, error.code() == code, "%s %s" % (error.code(), error.details()))
        return error
    check(name, False, "call succeeded")
    return None


def grpcio_client_checks(pb2, server_identity, port):
    channel = channel_to(port, server_identity["cert"])
    say = stub(channel, pb2)
    works = lambda what: check("works after " + what,
                               say(pb2.EchoRequest(message="again"), timeout=10).message == "again")

    reply = say(pb2.EchoRequest(message="hello"), timeout=10)
    check("grpcio -> ours: simple call", reply.message == "hello", reply)

    reply, call = say.with_call(pb2.EchoRequest(message="md", echo_metadata="x-token"),
                                metadata=[("x-token", "abc.def"), ("id", "user")], timeout=10)
    initial = dict(call.initial_metadata())
    check("grpcio -> ours: metadata both ways",
          reply.metadata_value == "abc.def" and initial.get("x-echo") == "abc.def",
          (reply, initial))
    check("grpcio -> ours: grpc-timeout seen by the handler", 0 < reply.remaining_ms <= 11000,
          reply.remaining_ms)

    message = "not allowed: 100% \u00e9t\u00e9"
    error = expect_code("grpcio -> ours: status code",
                        lambda: say(pb2.EchoRequest(error_code=7, error_message=message),
                                    timeout=10), grpc.StatusCode.PERMISSION_DENIED)
    check("grpcio -> ours: percent-encoded message", error and error.details() == message,
          error and error.details())
    works("an error status")

    expect_code("grpcio -> ours: unknown method",
                lambda: stub(channel, pb2, "/steep_test.Echo/Nope")(pb2.EchoRequest(), timeout=10),
                grpc.StatusCode.UNIMPLEMENTED)
    works("unknown method")

    expect_code("grpcio -> ours: undecodable message",
                lambda: stub(channel, pb2, raw_request=True)(b"\x08\x2a", timeout=10),
                grpc.StatusCode.INVALID_ARGUMENT)
    works("undecodable message")

    start = time.monotonic()
    expect_code("grpcio -> ours: deadline exceeded",
                lambda: say(pb2.EchoRequest(sleep_ms=3000), timeout=0.3),
                grpc.StatusCode.DEADLINE_EXCEEDED)
    check("grpcio -> ours: deadline is prompt", time.monotonic() - start < 2.0)
    works("deadline exceeded")

    big = LIMIT - 64
    reply = say(pb2.EchoRequest(payload=b"p" * big, payload_size=big), timeout=30)
    check("grpcio -> ours: message near the limit both ways",
          reply.payload_received == big and len(reply.payload) == big)
    expect_code("grpcio -> ours: oversize request",
                lambda: say(pb2.EchoRequest(payload=b"p" * (LIMIT + 1)), timeout=30),
                grpc.StatusCode.RESOURCE_EXHAUSTED)
    works("oversize request")

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(say, pb2.EchoRequest(message=str(i), sleep_ms=20), timeout=20)
                   for i in range(200)]
        results = [f.result().message for f in futures]
    check("grpcio -> ours: 200 concurrent calls", results == [str(i) for i in range(200)])
    channel.close()


def mutual_tls_checks(pb2, server_identity, client_identity, stranger_identity, port):
    with channel_to(port, server_identity["cert"], client_identity) as channel:
        reply = stub(channel, pb2)(pb2.EchoRequest(message="mutual"), timeout=10)
        check("mutual TLS: verify hook names the peer", reply.peer_name == "client", reply)
    with channel_to(port, server_identity["cert"], stranger_identity) as channel:
        expect_code("mutual TLS: refused certificate",
                    lambda: stub(channel, pb2)(pb2.EchoRequest(), timeout=5),
                    grpc.StatusCode.UNAVAILABLE)
    with channel_to(port, server_identity["cert"]) as channel:
        expect_code("mutual TLS: missing client certificate",
                    lambda: stub(channel, pb2)(pb2.EchoRequest(), timeout=5),
                    grpc.StatusCode.UNAVAILABLE)
    with channel_to(port, server_identity["cert"], client_identity) as channel:
        reply = stub(channel, pb2)(pb2.EchoRequest(message="again"), timeout=10)
        check("mutual TLS: works after refusals", reply.message == "again")


# ---- minimal HTTP/2 over Python's ssl, to choose TLS versions and ciphers ----

def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def raw_h2_call(context, port, body, extra_headers=()):
    """Sends one gRPC request; returns (tls version, cipher, response DATA bytes, ended)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            headers = b"".join(literal(n, v) for n, v in [
                (b":method", b"POST"), (b":scheme", b"https"), (b":path", SAY.encode()),
                (b":authority", b"localhost"), (b"content-type", b"application/grpc"),
                (b"te", b"trailers")] + list(extra_headers))
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") +
                        frame(1, 4, 1, headers) + frame(0, 1, 1, body))
            received, data, ended = b"", b"", False
            while not ended:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                received += chunk
                while len(received) >= 9:
                    length = int.from_bytes(received[:3], "big")
                    if len(received) < 9 + length:
                        break
                    kind, flags = received[3], received[4]
                    stream = int.from_bytes(received[5:9], "big") & 0x7fffffff
                    payload, received = received[9:9 + length], received[9 + length:]
                    if kind == 4 and not flags & 1:
                        tls.sendall(frame(4, 1, 0, b""))
                    if stream == 1 and kind == 0:
                        data += payload
                    if stream == 1 and kind in (0, 1) and flags & 1:
                        ended = True
            return tls.version(), tls.cipher()[0], data, ended


def tls_version_checks(pb2, port):
    body_message = pb2.EchoRequest(message="raw").SerializeToString()
    body = b"\x00" + struct.pack(">I", len(body_message)) + body_message
    teaclave_python = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"
    for label, version, ciphers in [
            ("TLS 1.2 only, Teaclave Python cipher string", ssl.TLSVersion.TLSv1_2, teaclave_python),
            ("TLS 1.2 only, ECDHE-ECDSA-CHACHA20-POLY1305", ssl.TLSVersion.TLSv1_2,
             "ECDHE-ECDSA-CHACHA20-POLY1305"),
            ("TLS 1.3", ssl.TLSVersion.TLSv1_3, None)]:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = context.maximum_version = version
        if ciphers:
            context.set_ciphers(ciphers)
        context.set_alpn_protocols(["h2"])
        try:
            negotiated, cipher, data, ended = raw_h2_call(context, port, body)
            reply = pb2.EchoReply.FromString(data[5:]) if len(data) > 5 else None
            check("raw client " + label,
                  ended and reply is not None and reply.message == "raw" and
                  negotiated == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                 ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version],
                  (negotiated, cipher, data))
        except (OSError, ssl.SSLError) as error:
            check("raw client " + label, False, error)
    # A TLS 1.2 suite without forward secrecy or AEAD is refused.
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-SHA256:AES128-GCM-SHA256")
    context.set_alpn_protocols(["h2"])
    try:
        raw_h2_call(context, port, body)
        check("weak TLS 1.2 suites refused", False, "handshake succeeded")
    except (OSError, ssl.SSLError):
        check("weak TLS 1.2 suites refused", True)


def server_deadline_check(pb2, port):
    """The server itself answers when grpc-timeout passes, even though the
    handler keeps sleeping (this raw client enforces no deadline)."""
    message = pb2.EchoRequest(sleep_ms=3000, ignore_cancel=True).SerializeToString()
    body = b"\x00" + struct.pack(">I", len(message)) + message
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    start = time.monotonic()
    _, _, data, ended = raw_h2_call(context, port, body, [(b"grpc-timeout", b"200m")])
    took = time.monotonic() - start
    check("server answers at grpc-timeout", ended and data == b"" and 0.15 < took < 1.5,
          (ended, data, took))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descriptor_exhaustion_check(pb2, identity):
    """Out of file descriptors, the server pauses accepting instead of
    spinning on its listener, and serves again once descriptors free up."""
    server = EchoServer(identity, max_files=48)
    try:
        sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(80)]
        time.sleep(0.2)
        before = cpu_seconds(server.process.pid)
        time.sleep(0.5)
        spent = cpu_seconds(server.process.pid) - before
        check("out of descriptors: no busy loop", spent < 0.25, "%.2f s CPU in 0.5 s" % spent)
        for sock in sockets:
            sock.close()
        time.sleep(0.3)
        with channel_to(server.port, identity["cert"]) as channel:
            reply = stub(channel, pb2)(pb2.EchoRequest(message="after"), timeout=10)
            check("out of descriptors: serves again", reply.message == "after")
    finally:
        server.stop()


def alpn_checks(port):
    for label, protocols in [("no ALPN", None), ("ALPN http/1.1 only", ["http/1.1"])]:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if protocols:
            context.set_alpn_protocols(protocols)
        refused = False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                with context.wrap_socket(sock, server_hostname="localhost") as tls:
                    tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
                    refused = tls.recv(1024) == b""
        except (OSError, ssl.SSLError):
            refused = True
        check("peer with " + label + " refused", refused)


# ---- our client -> grpcio server ----

def start_grpcio_server(pb2, identity):
    def say(request, context):
        for _ in range(request.sleep_ms // 10):
            if not context.is_active():
                break
            time.sleep(0.01)
        if request.error_code:
            context.abort(grpc.StatusCode(
                [c for c in grpc.StatusCode if c.value[0] == request.error_code][0]),
                request.error_message)
        reply = pb2.EchoReply(message=request.message, payload_received=len(request.payload))
        if request.echo_metadata:
            value = dict(context.invocation_metadata()).get(request.echo_metadata, "")
            reply.metadata_value = value
            context.send_initial_metadata([("x-echo", value)])
            context.set_trailing_metadata([("x-trailer", "t")])
        if request.payload_size:
            reply.payload = b"x" * request.payload_size
        return reply

    handler = grpc.method_handlers_generic_handler("steep_test.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(
            say, request_deserializer=pb2.EchoRequest.FromString,
            response_serializer=pb2.EchoReply.SerializeToString)})
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=120),
                         options=[("grpc.max_send_message_length", 16 * LIMIT)])
    server.add_generic_rpc_handlers((handler,))
    credentials = grpc.ssl_server_credentials([(identity["key"], identity["cert"])])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, port


def main():
    with tempfile.TemporaryDirectory(prefix="steep-rpc-interop-") as directory:
        pb2 = load_echo_pb2(directory)
        server_identity = make_identity(directory, "server")
        client_identity = make_identity(directory, "client")
        stranger_identity = make_identity(directory, "stranger")

        server = EchoServer(server_identity)
        try:
            grpcio_client_checks(pb2, server_identity, server.port)
            tls_version_checks(pb2, server.port)
            server_deadline_check(pb2, server.port)
            alpn_checks(server.port)
            reply = stub(channel_to(server.port, server_identity["cert"]), pb2)(
                pb2.EchoRequest(message="end"), timeout=10)
            check("works after TLS and ALPN refusals", reply.message == "end")
        finally:
            server.stop()

        descriptor_exhaustion_check(pb2, server_identity)

        server = EchoServer(server_identity, "--require-client-cert", "--allow", "client")
        try:
            mutual_tls_checks(pb2, server_identity, client_identity, stranger_identity,
                              server.port)
        finally:
            server.stop()

        grpc_server, port = start_grpcio_server(pb2, server_identity)
        try:
            result = subprocess.run(
                [os.path.join(BIN, "rpc-interop-client"), "127.0.0.1:%d" % port,
                 "--ca", server_identity["cert_path"], "--server-name", "localhost"],
                stdout=subprocess.PIPE, text=True, timeout=120)
            for line in result.stdout.splitlines():
                print("ours -> grpcio: " + line)
            check("ours -> grpcio: all checks", result.returncode == 0, result.returncode)
        finally:
            grpc_server.stop(0)

    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all interop checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
