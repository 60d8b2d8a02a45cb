#!/usr/bin/python3
"""steep-attestation-authority as users run it, checked from outside: the
binary started with a steep.toml whose Intel collateral comes from a
PCCS-compatible server on loopback (tests/tee/pccs_server.py, the fixtures'
real collateral) and whose AMD collateral is a directory, verifying at the
fixtures' pinned instant. An independent client (python3-grpcio over TLS,
trusting only as_root_ca_cert.pem) sends each real quote / report to
Endorse; an independent checker (python3-cryptography) accepts every
answer: the signing certificate chains to the root, the RSA signature
verifies over the exact report bytes, the status is IAS's name for the
expected TCB status, the advisories are the expected ones, the quote body
carries the evidence's report data at 368, and nothing is marked simulated.
A mutated quote, an empty request and a TCB the policy does not accept are
refused with their reasons; --version answers; SIGTERM stops it cleanly."""
import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

SOURCE = os.environ.get("STEEP_SOURCE_DIR", ".")
BUILD = os.environ.get("STEEP_BUILD_DIR", "build")
FIX = os.path.join(os.environ.get("STEEP_SHARED_DIR", "../shared"), "fixtures", "hw-attestation")
sys.path.insert(0, os.path.join(BUILD, "python"))
import steep_attestation_pb2 as pb  # noqa: E402

BIN = os.path.join(BUILD, "bin")
failures = 0


def check(cond, what):
    global failures
    print(("ok      " if cond else "FAILED  ") + what)
    failures += 0 if cond else 1


def report_data(raw):
    version = int.from_bytes(raw[0:2], "little")
    if len(raw) == 0x4A0 or version == 2:  # SEV-SNP report
        return raw[0x50:0x90]
    if version == 3:
        return raw[368:432]
    return raw[568:632] if version == 4 else raw[574:638]


def endorse(stub, evidence):
    return stub.Endorse(pb.EndorseRequest(evidence=evidence), timeout=20)


def main():
    out = subprocess.run([os.path.join(BIN, "steep-attestation-authority"), "--version"],
                         capture_output=True, text=True)
    check(out.returncode == 0 and out.stdout.startswith("steep-attestation-authority "),
          "--version: " + out.stdout.strip())
    work = tempfile.mkdtemp(prefix="steep-aa-")
    subprocess.run([os.path.join(BIN, "steep-tee"), "authority", "init", "--dir",
                    os.path.join(work, "authority"), "--bits", "2048"], check=True,
                   capture_output=True)
    open(os.path.join(work, "enclave_info.toml"), "w").close()
    port_file = os.path.join(work, "pccs.port")
    pccs = subprocess.Popen(["/usr/bin/python3", os.path.join(SOURCE, "tests/tee/pccs_server.py"),
                             port_file, os.path.join(work, "pccs.log"),
                             os.path.join(FIX, "sgx_v3_dcapqvl"),
                             os.path.join(FIX, "tdx_v4_dcapqvl")])
    authority = None
    try:
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.1)
        pccs_port = int(open(port_file).read())
        endpoints = "".join(
            f'{n} = {{ listen_address = "127.0.0.1:{p}", advertised_address = '
            f'"https://localhost:{p}" }}\n'
            for n, p in [("authentication", 17776), ("management", 17777), ("storage", 17778),
                         ("access_control", 17779), ("execution", 17770),
                         ("scheduler", 17780)])
        config = os.path.join(work, "steep.toml")
        with open(config, "w") as f:
            f.write(f"""[api_endpoints]
authentication = {{ listen_address = "127.0.0.1:7776" }}
frontend = {{ listen_address = "127.0.0.1:7777" }}
[internal_endpoints]
{endpoints}[audit]
enclave_info = {{ path = "enclave_info.toml" }}
auditor_signatures = []
[attestation]
algorithm = "sim"
[tee]
as_root_ca_cert = "authority/as_root_ca_cert.pem"
authority_key = "authority/authority_signing.key.pem"
authority_cert = "authority/authority_signing.cert.pem"
collateral_dir = "{os.path.join(FIX, 'snp_milan_virtee')}"
pccs_url = "http://127.0.0.1:{pccs_port}"
hw_accepted_statuses = ["ConfigurationAndSWHardeningNeeded"]
hw_accepted_advisories = ["INTEL-SA-00289", "INTEL-SA-00615"]
[attestation_authority]
listen_address = "127.0.0.1:0"
insecure_verification_time = "2025-07-01T00:00:00Z"
""")
        log = open(os.path.join(work, "authority.log"), "w+")
        authority = subprocess.Popen([os.path.join(BIN, "steep-attestation-authority"),
                                      "--config", config], stdout=log, stderr=log)
        port = None
        for _ in range(200):
            log.seek(0)
            m = re.search(r"attestation authority listening on .* \(port (\d+)\)", log.read())
            if m or authority.poll() is not None:
                port = m and int(m.group(1))
                break
            time.sleep(0.1)
        log.seek(0)
        text = log.read()
        check(port is not None, "the authority listens")
        check("FIXED time 2025-07-01T00:00:00Z" in text, "the fixed verification time is loud")
        if port is None:
            print(text)
            return
        root_pem = open(os.path.join(work, "authority/as_root_ca_cert.pem"), "rb").read()
        root = x509.load_pem_x509_certificate(root_pem)
        signer_cn = x509.load_pem_x509_certificate(
            open(os.path.join(work, "authority/authority_signing.cert.pem"), "rb").read()
        ).subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        channel = grpc.secure_channel(
            f"127.0.0.1:{port}", grpc.ssl_channel_credentials(root_certificates=root_pem),
            options=[("grpc.ssl_target_name_override", signer_cn),
                     ("grpc.default_authority", "localhost")])
        stub = channel.unary_unary(
            "/steep_attestation_proto.SteepAttestation/Endorse",
            request_serializer=pb.EndorseRequest.SerializeToString,
            response_deserializer=pb.EndorseResponse.FromString)

        class Stub:
            Endorse = staticmethod(stub)

        expected = json.load(open(os.path.join(FIX, "expected.json")))["vectors"]
        ias = {"UpToDate": "OK", "ConfigurationAndSWHardeningNeeded":
               "CONFIGURATION_AND_SW_HARDENING_NEEDED"}
        for name, file, kind in [("sgx_v3_dcapqvl", "quote.bin", "sgx"),
                                 ("tdx_v4_dcapqvl", "quote.bin", "tdx"),
                                 ("snp_milan_virtee", "report.bin", "snp")]:
            raw = open(os.path.join(FIX, name, file), "rb").read()
            reply = endorse(Stub, raw)
            signer = x509.load_der_x509_certificate(reply.certs[0])
            try:
                root.public_key().verify(signer.signature, signer.tbs_certificate_bytes,
                                         padding.PKCS1v15(), signer.signature_hash_algorithm)
                signer.public_key().verify(reply.signature, reply.report, padding.PKCS1v15(),
                                           hashes.SHA256())
                signed = True
            except Exception as e:  # noqa: BLE001
                print("   ", e)
                signed = False
            check(signed, f"{name}: the report is signed by a certificate of the root")
            report = json.loads(reply.report)
            status = expected[name].get("expected_tcb_status", "UpToDate")
            want = "OK" if kind == "snp" else ias.get(status, status)
            check(report["isvEnclaveQuoteStatus"] == want and report["version"] == 4,
                  f"{name}: IAS status {report['isvEnclaveQuoteStatus']}")
            body = base64.b64decode(report["isvEnclaveQuoteBody"])
            check(len(body) == 432 and body[368:432] == report_data(raw),
                  f"{name}: the quote body carries the evidence's report data")
            if kind == "sgx":
                check(body == raw[:432], f"{name}: the SGX quote's own header and body")
                check(sorted(report["advisoryIDs"]) == ["INTEL-SA-00289", "INTEL-SA-00615"],
                      f"{name}: advisories {report['advisoryIDs']}")
            check(report.get("steepSimulated") is not True and report["steepEvidenceKind"] == kind,
                  f"{name}: {kind} evidence, not simulated")
            check(reply.kind == kind and reply.valid_until > 1751328000,
                  f"{name}: kind and validity in the answer")

        def refused(evidence, code, words, what):
            try:
                endorse(Stub, evidence)
                check(False, what + ": endorsed")
            except grpc.RpcError as e:
                check(e.code() == code and all(w in e.details() for w in words),
                      f"{what}: {e.code().name}: {e.details()}")

        raw = bytearray(open(os.path.join(FIX, "tdx_v4_dcapqvl", "quote.bin"), "rb").read())
        raw[568] ^= 1
        refused(bytes(raw), grpc.StatusCode.PERMISSION_DENIED, ["not endorsed", "signature"],
                "a flipped REPORTDATA byte")
        refused(b"", grpc.StatusCode.INVALID_ARGUMENT, ["no evidence"], "an empty request")
        refused(open(os.path.join(FIX, "tdx_v4_gotdx", "quote.bin"), "rb").read(),
                grpc.StatusCode.UNAVAILABLE, ["PCCS", "404"],
                "a platform the PCCS does not know")
        requests = open(os.path.join(work, "pccs.log")).read()
        check(requests.count("/sgx/certification/v4/tcb?fmspc=00a067110000") == 1 and
              requests.count("/tdx/certification/v4/tcb?fmspc=b0c06f000000") == 1,
              "PCCS asked once per platform")
        channel.close()
        authority.send_signal(signal.SIGTERM)
        check(authority.wait(timeout=20) == 0, "SIGTERM stops it with status 0")
        authority = None
    finally:
        if authority:
            authority.kill()
            authority.wait()
        pccs.terminate()
        pccs.wait()
        subprocess.run(["rm", "-rf", work])


main()
print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
