#!/usr/bin/python3
"""Server-streaming calls of lib/rpc's client (steep_rpc_stream_*, added for
etcd's Watch) against python3-grpcio playing etcdserverpb.Watch/Watch over
TLS: messages in order and the end of the stream, an error status after
messages, a client that closes an endless stream (the server sees the
cancellation), a reader that falls behind (RESOURCE_EXHAUSTED, bounded
memory), and a deadline with no message. rpc_stream_client drives each."""
import concurrent.futures
import datetime
import os
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BUILD = os.environ.get("STEEP_BUILD_DIR", "build")
sys.path.insert(0, os.path.join(BUILD, "python"))
import etcd_rpc_pb2  # noqa: E402

failures = []
cancelled = threading.Event()


def check(name, condition, detail=""):
    print(("ok " if condition else "FAIL ") + name + ("" if condition else ": " + str(detail)))
    sys.stdout.flush()
    if not condition:
        failures.append(name)


def identity(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path = os.path.join(directory, "ca.pem")
    open(path, "wb").write(cert_pem)
    return cert_pem, key_pem, path


def watch(requests, context):
    create = next(requests).create_request
    case = create.key.decode()
    if case == "many":
        for i in range(int(create.range_end or b"500")):
            yield etcd_rpc_pb2.WatchResponse(watch_id=i)
    elif case == "error":
        yield etcd_rpc_pb2.WatchResponse(watch_id=0)
        yield etcd_rpc_pb2.WatchResponse(watch_id=1)
        context.abort(grpc.StatusCode.NOT_FOUND, "gone")
    elif case == "close":
        context.add_callback(cancelled.set)
        i = 0
        while context.is_active():
            yield etcd_rpc_pb2.WatchResponse(watch_id=i)
            i += 1
            time.sleep(0.01)
    elif case == "slow":
        big = etcd_rpc_pb2.Event(kv=etcd_rpc_pb2.KeyValue(value=b"x" * (1 << 20)))
        for i in range(64):
            if not context.is_active():
                return
            yield etcd_rpc_pb2.WatchResponse(watch_id=i, events=[big])
    elif case == "deadline":
        time.sleep(3)


def main():
    with tempfile.TemporaryDirectory() as directory:
        cert_pem, key_pem, ca = identity(directory)
        server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=8),
                             options=[("grpc.max_send_message_length", 8 << 20)])
        handler = grpc.method_handlers_generic_handler("etcdserverpb.Watch", {
            "Watch": grpc.stream_stream_rpc_method_handler(
                watch, request_deserializer=etcd_rpc_pb2.WatchRequest.FromString,
                response_serializer=etcd_rpc_pb2.WatchResponse.SerializeToString)})
        server.add_generic_rpc_handlers((handler,))
        port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
        server.start()
        client = os.path.join(BUILD, "bin", "rpc_stream_client")
        address = f"127.0.0.1:{port}"
        for case in (["many", "500"], ["error"], ["close"], ["slow"], ["deadline"]):
            run = subprocess.run([client, address, ca] + case, capture_output=True, text=True,
                                 timeout=60)
            check(case[0], run.returncode == 0 and f"ok {case[0]}" in run.stdout,
                  run.stdout + run.stderr[-2000:])
            if case[0] == "close":
                check("the server sees the closed stream cancelled", cancelled.wait(5))
        server.stop(1)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
