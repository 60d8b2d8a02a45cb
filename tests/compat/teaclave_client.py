#!/usr/bin/python3
"""A Teaclave-style client, independent of Steep's C code, for acceptance.

It does what Teaclave's Python SDK (sdk/python/teaclave.py) does, on
Debian's python3-grpcio with message classes generated from our .proto
files: before sending anything it fetches each service's RA-TLS
certificate and checks it the way the SDK does -- the RA extension is the
FIRST extension, the report is signed (RSA-PKCS1-SHA256) by a certificate
that chains to as_root_ca_cert.pem, quote bytes 368..432 equal the
certificate's P-256 key, and bytes 112..144 / 176..208 equal the
enclave_info.toml entry of teaclave_<name>_service. Then it walks the flows
of Teaclave's Python examples for the built-ins Steep has.

Environment: STEEP_DIR (platform made by steep up), PORT_BASE, FILES_URL,
FILES_DIR, STEEP_BUILD_DIR (for build/python/*_pb2.py).
"""
import base64
import json
import os
import socket
import ssl
import sys
import time
import tomllib

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from OpenSSL import crypto as ossl

sys.path.insert(0, os.path.join(os.environ["STEEP_BUILD_DIR"], "python"))
import teaclave_authentication_service_pb2 as auth_pb2  # noqa: E402
import teaclave_common_pb2 as common_pb2  # noqa: E402
import teaclave_frontend_service_pb2 as fe_pb2  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402

RA_OID = "2.16.840.1.113730.1.13"
PLATFORM = os.environ["STEEP_DIR"]
BASE = int(os.environ["PORT_BASE"])
FILES_URL = os.environ["FILES_URL"]
FILES_DIR = os.environ["FILES_DIR"]
ZERO_KEY = bytes(16)

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print("ok      " + name)
    else:
        failed += 1
        print("FAILED  %s %s" % (name, detail))


def fetch_certificate(port):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20")
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("localhost", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "h2", "server did not select ALPN h2"
            return tls.getpeercert(binary_form=True)


def verify_ra_cert(der, service, enclave_info=None):
    """Teaclave SDK's _verify_report, step by step; raises on any mismatch."""
    cert = x509.load_der_x509_certificate(der)
    extensions = list(cert.extensions)
    if not extensions or extensions[0].oid.dotted_string != RA_OID:
        raise ValueError("the RA-TLS extension is not the first extension")
    payload = json.loads(bytes(extensions[0].value.value))
    report = bytes(payload["report"])
    signature = bytes(payload["signature"])
    signing_cert = x509.load_der_x509_certificate(bytes(payload["certs"][0]))

    # The signing certificate must chain to the attestation root.
    with open(os.path.join(PLATFORM, "as_root_ca_cert.pem"), "rb") as f:
        root = ossl.load_certificate(ossl.FILETYPE_PEM, f.read())
    store = ossl.X509Store()
    store.add_cert(root)
    ossl.X509StoreContext(store, ossl.X509.from_cryptography(signing_cert)).verify_certificate()
    signing_cert.public_key().verify(signature, report, padding.PKCS1v15(), hashes.SHA256())

    body = json.loads(report)
    quote = base64.b64decode(body["isvEnclaveQuoteBody"])
    point = cert.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    if not isinstance(cert.public_key(), ec.EllipticCurvePublicKey) or point[0] != 4:
        raise ValueError("certificate key is not an uncompressed EC point")
    if quote[368:432] != point[1:]:
        raise ValueError("report_data does not bind the certificate key")
    with open(enclave_info or os.path.join(PLATFORM, "enclave_info.toml"), "rb") as f:
        info = tomllib.load(f)["teaclave_%s_service" % service]
    if quote[112:144].hex() != info["mr_enclave"] or quote[176:208].hex() != info["mr_signer"]:
        raise ValueError("measurement differs from enclave_info.toml")
    return body


reported = set()


def channel(port, service, options=()):
    der = fetch_certificate(port)
    body = verify_ra_cert(der, service)  # every connection, as the SDK does
    if service not in reported:
        reported.add(service)
        check("%s's RA-TLS certificate verifies (status %s, simulated %s)" % (
            service, body.get("isvEnclaveQuoteStatus"), body.get("steepSimulated")),
            body.get("isvEnclaveQuoteStatus") == "OK")
    pem = ssl.DER_cert_to_PEM_cert(der).encode()
    credentials = grpc.ssl_channel_credentials(root_certificates=pem)
    # The RA-TLS certificate names no host (subject CN is "CN=Teaclave"), so
    # the pinned certificate is checked against that name.
    return grpc.secure_channel("localhost:%d" % port, credentials,
                               options=[("grpc.ssl_target_name_override", "CN=Teaclave")]
                               + list(options))


class Authentication:
    def __init__(self):
        self.channel = channel(BASE, "authentication")
        self.metadata = None

    def call(self, method, request, response_type, metadata=True):
        stub = self.channel.unary_unary(
            "/teaclave_authentication_service_proto.TeaclaveAuthenticationApi/" + method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString)
        return stub(request, metadata=self.metadata if metadata else None, timeout=30)

    def login(self, user, password):
        token = self.call("UserLogin", auth_pb2.UserLoginRequest(id=user, password=password),
                          auth_pb2.UserLoginResponse, metadata=False).token
        self.metadata = (("id", user), ("token", token))
        return token

    def register(self, user, password, role, attribute=""):
        try:
            self.call("UserRegister", auth_pb2.UserRegisterRequest(
                id=user, password=password, role=role, attribute=attribute), empty_pb2.Empty)
        except grpc.RpcError as error:
            if "user id exist" not in (error.details() or ""):
                raise


class Frontend:
    def __init__(self, metadata, options=()):
        self.channel = channel(BASE + 1, "frontend", options)
        self.metadata = metadata

    def call(self, method, request, response_type):
        stub = self.channel.unary_unary(
            "/teaclave_frontend_service_proto.TeaclaveFrontend/" + method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString)
        return stub(request, metadata=self.metadata, timeout=30)

    def register_function(self, name, arguments=(), inputs=(), outputs=(), public=True):
        request = fe_pb2.RegisterFunctionRequest(
            name=name, description=name, executor_type="builtin", public=public,
            arguments=[fe_pb2.FunctionArgument(key=k, default_value="", allow_overwrite=True)
                       for k in arguments],
            inputs=[fe_pb2.FunctionInput(name=n, description="") for n in inputs],
            outputs=[fe_pb2.FunctionOutput(name=n, description="") for n in outputs],
            usage_quota=-1)
        return self.call("RegisterFunction", request, fe_pb2.RegisterFunctionResponse).function_id

    def create_task(self, function_id, arguments, inputs=(), outputs=()):
        request = fe_pb2.CreateTaskRequest(
            function_id=function_id, function_arguments=json.dumps(arguments), executor="builtin",
            inputs_ownership=[fe_pb2.OwnerList(data_name=n, uids=u) for n, u in inputs],
            outputs_ownership=[fe_pb2.OwnerList(data_name=n, uids=u) for n, u in outputs])
        return self.call("CreateTask", request, fe_pb2.CreateTaskResponse).task_id

    def input_file(self, rel, schema="teaclave-file-128", key=ZERO_KEY, iv=b"", cmac=None,
                   url=None):
        if cmac is None:
            with open(os.path.join(FILES_DIR, rel), "rb") as f:
                cmac = f.read()[80:96]
        request = fe_pb2.RegisterInputFileRequest(
            url=url or "%s/%s" % (FILES_URL, rel), cmac=cmac,
            crypto_info=common_pb2.FileCryptoInfo(schema=schema, key=key, iv=iv))
        return self.call("RegisterInputFile", request, fe_pb2.RegisterInputFileResponse).data_id

    def output_file(self, rel):
        request = fe_pb2.RegisterOutputFileRequest(
            url="%s/%s" % (FILES_URL, rel),
            crypto_info=common_pb2.FileCryptoInfo(schema="teaclave-file-128", key=ZERO_KEY))
        return self.call("RegisterOutputFile", request, fe_pb2.RegisterOutputFileResponse).data_id

    def assign(self, task_id, inputs=(), outputs=()):
        self.call("AssignData", fe_pb2.AssignDataRequest(
            task_id=task_id, inputs=[fe_pb2.DataMap(data_name=n, data_id=i) for n, i in inputs],
            outputs=[fe_pb2.DataMap(data_name=n, data_id=i) for n, i in outputs]),
            empty_pb2.Empty)

    def approve(self, task_id):
        self.call("ApproveTask", fe_pb2.ApproveTaskRequest(task_id=task_id), empty_pb2.Empty)

    def invoke(self, task_id):
        self.call("InvokeTask", fe_pb2.InvokeTaskRequest(task_id=task_id), empty_pb2.Empty)

    def result(self, task_id):
        """get_task_result of the SDK: poll GetTask until the task ends."""
        deadline = time.time() + 60
        while time.time() < deadline:
            task = self.call("GetTask", fe_pb2.GetTaskRequest(task_id=task_id),
                             fe_pb2.GetTaskResponse)
            if task.status == common_pb2.Finished:
                return task.result.Ok.return_value
            if task.status in (common_pb2.Canceled, common_pb2.Failed):
                raise RuntimeError("Failed to get task result (Error: %s)"
                                   % task.result.Err.reason)
            time.sleep(0.05)
        raise RuntimeError("task did not finish")


def user(name, password, role="PlatformAdmin", attribute=""):
    admin = Authentication()
    admin.login("admin", "teaclave")
    admin.register(name, password, role, attribute)
    auth = Authentication()
    auth.login(name, password)
    return Frontend(auth.metadata)


def builtin_echo():
    admin = user("admin", "teaclave")
    function_id = admin.register_function("builtin-echo", arguments=["message"])
    task_id = admin.create_task(function_id, {"message": "Hello, Teaclave!"})
    admin.invoke(task_id)
    result = admin.result(task_id)
    check("builtin_echo.py: function return b'Hello, Teaclave!'", result == b"Hello, Teaclave!",
          result)


def builtin_ordered_set_intersect():
    user0 = user("py_user0", "password")
    user1 = user("py_user1", "password")
    function_id = user0.register_function(
        "builtin-ordered-set-intersect", arguments=["order"],
        inputs=["input_data1", "input_data2"], outputs=["output_result1", "output_result2"])
    task_id = user0.create_task(function_id, {"order": "ascending"},
                                inputs=[("input_data1", ["py_user0"]),
                                        ("input_data2", ["py_user1"])],
                                outputs=[("output_result1", ["py_user0"]),
                                         ("output_result2", ["py_user1"])])
    run = str(time.time_ns())
    os.makedirs(os.path.join(FILES_DIR, "outputs", run), exist_ok=True)
    for i, client in enumerate((user0, user1)):
        data = client.input_file("fixtures/functions/ordered_set_intersect/psi%d.txt.enc" % i)
        out = client.output_file("outputs/%s/output_psi%d.enc" % (run, i))
        client.assign(task_id, [("input_data%d" % (i + 1), data)],
                      [("output_result%d" % (i + 1), out)])
    for client in (user0, user1):
        client.approve(task_id)
    user0.invoke(task_id)
    for i, client in enumerate((user0, user1)):
        result = client.result(task_id)
        check("builtin_ordered_set_intersect.py: user%d sees 3 common items" % i,
              result == b"3 common items", result)


def builtin_private_join_and_compute():
    users = [user("py_pjc%d" % i, "password") for i in range(4)]
    function_id = users[3].register_function(
        "builtin-private-join-and-compute", arguments=["num_user"],
        inputs=["input_data%d" % i for i in range(3)],
        outputs=["output_data%d" % i for i in range(3)])
    task_id = users[3].create_task(
        function_id, {"num_user": 3},
        inputs=[("input_data%d" % i, ["py_pjc%d" % i]) for i in range(3)],
        outputs=[("output_data%d" % i, ["py_pjc%d" % i]) for i in range(3)])
    run = str(time.time_ns())
    os.makedirs(os.path.join(FILES_DIR, "outputs", run), exist_ok=True)
    for i, bank in enumerate(("bank_a", "bank_b", "bank_c")):
        data = users[i].input_file(
            "fixtures/functions/private_join_and_compute/three_party_data/%s.enc" % bank)
        out = users[i].output_file("outputs/%s/user%d_output.enc" % (run, i))
        users[i].assign(task_id, [("input_data%d" % i, data)], [("output_data%d" % i, out)])
    for client in users:
        client.approve(task_id)
    users[3].invoke(task_id)
    for i in range(3):
        result = users[i].result(task_id)
        check("builtin_private_join_and_compute.py: user%d sees 3 users" % i,
              result == b"3 users join the task in total.", result)


def builtin_password_check():
    user0 = user("py_pwc0", "password")
    user1 = user("py_pwc1", "password")
    function_id = user1.register_function("builtin-password-check",
                                          inputs=["password", "exposed_passwords"])
    task_id = user0.create_task(function_id, {}, inputs=[("password", ["py_pwc0"]),
                                                         ("exposed_passwords", ["py_pwc1"])])
    password = user0.input_file(None, schema="aes-gcm-128", key=bytes(16), iv=bytes(12),
                                cmac=bytes.fromhex("e84748f7ad380e183062b9b4b3942b7d"),
                                url="data:text/plain;base64,c+mpvRfZ0fboR0j3rTgOGDBiubSzlCt9")
    exposed = user1.input_file("fixtures/functions/password_check/exposed_passwords.txt.enc")
    user0.assign(task_id, [("password", password)])
    user1.assign(task_id, [("exposed_passwords", exposed)])
    user0.approve(task_id)
    user1.approve(task_id)
    user0.invoke(task_id)
    for name, client in (("user0", user0), ("user1", user1)):
        result = client.result(task_id)
        check("builtin_password_check.py: %s prints true" % name, result == b"true", result)


def builtin_rsa_sign():
    user1 = user("rsa_sign_user1", "password1")
    user2 = user("rsa_sign_user2", "password2")
    function_id = user2.register_function("builtin-rsa-sign", arguments=["data"],
                                          inputs=["rsa_key"])
    task_id = user2.create_task(function_id, {"data": "test data"},
                                inputs=[("rsa_key", ["rsa_sign_user1"])])
    key = user1.input_file("fixtures/functions/rsa_sign/rsakey.enc")
    user1.assign(task_id, [("rsa_key", key)])
    user1.approve(task_id)
    user2.approve(task_id)
    user2.invoke(task_id)
    result = user2.result(task_id)
    with open(os.path.join(FILES_DIR, "fixtures/functions/rsa_sign/expected_rsasign.txt"),
              "rb") as f:
        expected = f.read().strip()
    check("builtin_rsa_sign.py: signature equals expected_rsasign.txt", result == expected, result)


def refused_without_credentials():
    frontend = Frontend(None)
    try:
        frontend.call("ListFunctions", fe_pb2.ListFunctionsRequest(user_id="admin"),
                      fe_pb2.ListFunctionsResponse)
        check("frontend refuses a call without credentials", False, "call succeeded")
    except grpc.RpcError as error:
        check("frontend refuses a call without credentials",
              error.code() == grpc.StatusCode.UNAUTHENTICATED, error.code())


def refuses_wrong_measurement():
    """A client pinned to another measurement must refuse the frontend."""
    with open(os.path.join(PLATFORM, "enclave_info.toml")) as f:
        text = f.read()
    info = tomllib.loads(text)["teaclave_frontend_service"]
    forged = text.replace(info["mr_enclave"], "00" * 32)
    path = os.path.join(FILES_DIR, "forged_enclave_info.toml")
    with open(path, "w") as f:
        f.write(forged)
    try:
        verify_ra_cert(fetch_certificate(BASE + 1), "frontend", path)
        check("a client pinned to another measurement refuses the frontend", False, "accepted")
    except ValueError as error:
        check("a client pinned to another measurement refuses the frontend",
              "measurement" in str(error), error)


def audit_log_query():
    admin = user("admin", "teaclave")
    response = admin.call("QueryAuditLogs", fe_pb2.QueryAuditLogsRequest(query="invoke_task",
                                                                         limit=5),
                          fe_pb2.QueryAuditLogsResponse)
    check("QueryAuditLogs returns the newest invoke_task entries",
          0 < len(response.logs) <= 5 and all("invoke_task" in e.message for e in response.logs)
          and all(len(e.ip) == 16 for e in response.logs), response)


def main():
    for flow in (refused_without_credentials, refuses_wrong_measurement, builtin_echo, builtin_ordered_set_intersect,
                 builtin_private_join_and_compute, builtin_password_check, builtin_rsa_sign, audit_log_query):
        try:
            flow()
        except Exception as error:  # a broken flow is a failure, not a crash of the suite
            check(flow.__name__, False, "%s: %s" % (type(error).__name__, error))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
