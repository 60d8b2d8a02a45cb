#!/usr/bin/python3
"""An independent RA-TLS verifier written from the spec (teaclave-api.md §9.1,
§9.3 and the Python SDK's checks) accepts Steep's SIMULATED certificates,
and `steep-tee attest` gives the right verdicts and exit codes.

Only python3-cryptography and python3-openssl are used; nothing from Steep's
C code is trusted here except to produce the certificate under test.
"""
import base64
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from OpenSSL import crypto

BIN = os.environ.get("STEEP_BIN", "build/bin")
TEE = os.path.join(BIN, "steep-tee")
SHARED = os.environ.get("STEEP_SHARED_DIR", "../shared")
RA_OID = "2.16.840.1.113730.1.13"
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class Refused(Exception):
    pass


def verify_ratls(cert_der, root_pem, enclave_info, allow_simulation):
    """Teaclave-style client verification; returns the matching service name."""
    cert = x509.load_der_x509_certificate(cert_der)
    if not cert.extensions or cert.extensions[0].oid.dotted_string != RA_OID:
        raise Refused("RA extension is not the first extension")
    payload = json.loads(cert.extensions[0].value.value)
    report = bytes(payload["report"])
    signature = bytes(payload["signature"])
    certs = [crypto.load_certificate(crypto.FILETYPE_ASN1, bytes(c)) for c in payload["certs"]]
    store = crypto.X509Store()
    store.add_cert(crypto.load_certificate(crypto.FILETYPE_PEM, root_pem))
    try:
        crypto.X509StoreContext(store, certs[0], certs[1:]).verify_certificate()
    except crypto.X509StoreContextError as e:
        raise Refused("signing certificate does not chain: %s" % e)
    signer = certs[0].to_cryptography().public_key()
    try:
        signer.verify(signature, report, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        raise Refused("report signature does not verify")
    body = json.loads(report)
    if body.get("version") != 4:
        raise Refused("report version is not 4")
    if body.get("isvEnclaveQuoteStatus") != "OK":
        raise Refused("quote status")
    if body.get("steepSimulated") and not allow_simulation:
        raise Refused("simulated")
    quote = base64.b64decode(body["isvEnclaveQuoteBody"])
    if len(quote) != 432:
        raise Refused("quote length")
    numbers = cert.public_key().public_numbers()
    xy = numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
    if quote[368:432] != xy:
        raise Refused("report_data does not bind the certificate key")
    for name, entry in enclave_info.items():
        if (quote[112:144].hex() == entry["mr_enclave"]
                and quote[176:208].hex() == entry["mr_signer"]):
            return name, body
    raise Refused("measurement not in enclave_info")


def layout_checks(cert_der):
    cert = x509.load_der_x509_certificate(cert_der)
    check(cert.version == x509.Version.v3 and cert.serial_number == 1, "v3, serial 1")
    check(cert.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.3.2",
          "signed ecdsa-with-SHA256")
    issuer = cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    subject = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    check(len(cert.issuer) == 1 and issuer[0].value == "Teaclave"
          and issuer[0]._type == x509.name._ASN1Type.UTF8String, "issuer CN UTF8String Teaclave")
    check(len(cert.subject) == 1 and subject[0].value == "CN=Teaclave"
          and subject[0]._type == x509.name._ASN1Type.UTF8String,
          "subject CN UTF8String CN=Teaclave")
    days = (cert.not_valid_after - cert.not_valid_before).days
    age = abs((datetime.datetime.utcnow() - cert.not_valid_before).total_seconds())
    check(days == 90 and age < 300, "valid from now for 90 days")
    key = cert.public_key()
    check(isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1",
          "P-256 key")
    check(len(cert.extensions) == 1 and cert.extensions[0].oid.dotted_string == RA_OID
          and not cert.extensions[0].critical, "exactly one extension, the RA one, not critical")
    raw = cert.extensions[0].value.value
    check(raw.startswith(b'{"report":[') and b'"signature":[' in raw and b'"certs":[[' in raw,
          "extension value is the raw JSON with byte arrays")
    key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    check(True, "self-signature verifies")
    teaclave = x509.load_der_x509_certificate(
        open(os.path.join(SHARED, "fixtures/teaclave/tls_ra_cert_v4.der"), "rb").read())
    check(cert.issuer.public_bytes() == teaclave.issuer.public_bytes()
          and cert.subject.public_bytes() == teaclave.subject.public_bytes(),
          "issuer and subject DER identical to Teaclave's certificate")


def main():
    work = tempfile.mkdtemp(prefix="steep-tee-python-")
    server = None
    try:
        run = lambda *a: subprocess.run(list(a), check=True, capture_output=True, text=True)
        run(TEE, "authority", "init", "--dir", os.path.join(work, "authority"), "--bits", "2048")
        run(TEE, "platform-key", "init", "--dir", work, "--bits", "2048")
        signer = os.path.join(work, "platform_signing.pub.pem")
        root_path = os.path.join(work, "authority", "as_root_ca_cert.pem")
        root = open(root_path, "rb").read()
        cert_pem = os.path.join(work, "cert.pem")
        run(TEE, "ratls-cert", "--authority-dir", os.path.join(work, "authority"),
            "--platform-pub", signer, "--cert-out", cert_pem,
            "--key-out", os.path.join(work, "key.pem"))
        info_path = os.path.join(work, "enclave_info.toml")
        run(TEE, "enclave-info", "--signer-pub", signer, "--entry",
            "teaclave_tool_service=" + os.path.realpath(TEE), "--out", info_path)
        info = tomllib.load(open(info_path, "rb"))
        der = x509.load_pem_x509_certificate(open(cert_pem, "rb").read()).public_bytes(
            serialization.Encoding.DER)

        layout_checks(der)
        name, body = verify_ratls(der, root, info, allow_simulation=True)
        check(name == "teaclave_tool_service", "independent verifier accepts, as the tool")
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}", body["timestamp"]) is not None
              and body["steepSimulated"] is True and len(body["id"]) == 32,
              "IAS v4 fields (timestamp format, id, steepSimulated)")
        try:
            verify_ratls(der, root, info, allow_simulation=False)
            check(False, "hardware-only policy refuses simulated evidence")
        except Refused as e:
            check("simulated" in str(e), "hardware-only policy refuses simulated evidence")
        # The independent verifier is not a rubber stamp: a changed report fails.
        cert = x509.load_der_x509_certificate(der)
        payload = json.loads(cert.extensions[0].value.value)
        report = bytearray(payload["report"])
        i = report.index(b'"OK"')
        report[i + 1] = ord("K")
        try:
            certs = [crypto.load_certificate(crypto.FILETYPE_ASN1, bytes(c))
                     for c in payload["certs"]]
            certs[0].to_cryptography().public_key().verify(
                bytes(payload["signature"]), bytes(report), padding.PKCS1v15(), hashes.SHA256())
            check(False, "a changed report fails the signature check")
        except Exception:
            check(True, "a changed report fails the signature check")
        fixture = open(os.path.join(SHARED, "fixtures/teaclave/tls_ra_cert_v4.der"), "rb").read()
        try:
            verify_ratls(fixture, root, info, allow_simulation=True)
            check(False, "Teaclave's certificate does not chain to our root")
        except Refused as e:
            check("chain" in str(e), "Teaclave's certificate does not chain to our root")

        # steep-tee attest against steep-tee serve (the same executable, so
        # enclave_info's teaclave_tool_service entry names it).
        server = subprocess.Popen([TEE, "serve", "--listen", "127.0.0.1:0", "--authority-dir",
                                   os.path.join(work, "authority"), "--platform-pub", signer],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = server.stdout.readline()
        port = re.search(r"listening on port (\d+)", line).group(1)
        address = "127.0.0.1:" + port
        p = subprocess.run([TEE, "attest", address, "--root", root_path, "--enclave-info",
                            info_path, "--allow-simulation"], capture_output=True, text=True)
        check(p.returncode == 0 and "ACCEPTED as teaclave_tool_service" in p.stdout
              and "SIMULATED" in p.stdout and "ALPN h2" in p.stdout,
              "steep-tee attest accepts with --allow-simulation (exit 0)")
        p = subprocess.run([TEE, "attest", address, "--root", root_path, "--enclave-info",
                            info_path], capture_output=True, text=True)
        check(p.returncode == 1 and "REFUSED: simulated evidence refused" in p.stdout,
              "steep-tee attest refuses simulated evidence by default (exit 1)")
        other = os.path.join(work, "other.toml")
        run(TEE, "enclave-info", "--signer-pub", signer, "--entry",
            "teaclave_other_service=" + root_path, "--out", other)
        p = subprocess.run([TEE, "attest", address, "--root", root_path, "--enclave-info", other,
                            "--allow-simulation"], capture_output=True, text=True)
        check(p.returncode == 1 and "measurement not accepted" in p.stdout
              and "(not in enclave_info)" in p.stdout,
              "steep-tee attest refuses an unknown measurement (exit 1)")
        p = subprocess.run([TEE, "attest", "127.0.0.1:1", "--root", root_path, "--enclave-info",
                            info_path], capture_output=True, text=True)
        check(p.returncode == 2 and "cannot connect" in p.stderr,
              "steep-tee attest: no connection is an error (exit 2)")
        p = subprocess.run([TEE, "attest", "--help"], capture_output=True, text=True)
        check(p.returncode == 0 and "attest HOST:PORT" in p.stdout, "steep-tee attest --help")
    finally:
        if server:
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (checks - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
