#!/usr/bin/python3
"""The authority step for hardware evidence (lib/tee/hw/endorse.h) checked by
an independent verifier written here with python3-cryptography only: each
real quote the policy accepts becomes an IAS v4 report whose RSA signature
verifies under the authority's signing certificate, which chains to the
authority's root; whose status is IAS's name for the expected TCB status;
whose 432-byte quote body carries the evidence's report data at 368 (and
for SGX the quote's own header and body); and which is not marked
simulated. A quote the policy refuses, or a mutated one, gets no report."""
import base64
import json
import os
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

SHARED = os.environ.get("STEEP_SHARED_DIR", "../shared")
FIX = os.path.join(SHARED, "fixtures", "hw-attestation")
TOOL = os.path.join(os.environ.get("STEEP_BIN", "build/bin"), "hw_endorse_tool")
VECTORS = json.load(open(os.path.join(FIX, "expected.json")))["vectors"]
IAS = {"UpToDate": "OK", "ConfigurationAndSWHardeningNeeded":
       "CONFIGURATION_AND_SW_HARDENING_NEEDED", "SWHardeningNeeded": "SW_HARDENING_NEEDED"}
failures = 0


def check(cond, what):
    global failures
    print(("ok      " if cond else "FAILED  ") + what)
    failures += 0 if cond else 1


def verify(out, authority):
    """Independent check of an endorsed report; returns the parsed report."""
    root = x509.load_pem_x509_certificate(
        open(os.path.join(authority, "as_root_ca_cert.pem"), "rb").read())
    signer = x509.load_der_x509_certificate(open(os.path.join(out, "signer.der"), "rb").read())
    root.public_key().verify(signer.signature, signer.tbs_certificate_bytes, padding.PKCS1v15(),
                             signer.signature_hash_algorithm)
    report = open(os.path.join(out, "report.json"), "rb").read()
    signature = open(os.path.join(out, "report.sig"), "rb").read()
    signer.public_key().verify(signature, report, padding.PKCS1v15(), hashes.SHA256())
    return json.loads(report)


with tempfile.TemporaryDirectory() as tmp:
    authority = os.path.join(tmp, "authority")
    for name, v in VECTORS.items():
        if "file" not in v:
            continue
        evidence = os.path.join(FIX, v["file"])
        out = os.path.join(tmp, name)
        os.mkdir(out)
        args = [TOOL, authority, os.path.join(FIX, name), evidence, v["pinned_time"], out]
        intel = not name.startswith("snp")
        status = v.get("expected_tcb_status", "NotApplicable")
        if status not in ("UpToDate", "NotApplicable", "NotSupported"):
            args += [status] + v["expected_advisory_ids"]
        debug = not intel and int(v["report"]["policy"], 16) & (1 << 19)
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if status == "NotSupported" or debug:
            check(p.returncode == 1 and "not endorsed" in p.stderr,
                  f"{name}: refused ({p.stderr.strip()})")
            continue
        check(p.returncode == 0, f"{name}: endorsed ({p.stderr.strip()})")
        if p.returncode != 0:
            continue
        try:
            report = verify(out, authority)
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            check(False, f"{name}: independent signature check: {e!r}")
            continue
        check(report["version"] == 4 and "steepSimulated" not in report,
              f"{name}: IAS v4, not simulated")
        want = IAS.get(status, "OK")
        check(report["isvEnclaveQuoteStatus"] == want, f"{name}: status {want}")
        check(report["advisoryIDs"] == v.get("expected_advisory_ids", []), f"{name}: advisories")
        body = base64.b64decode(report["isvEnclaveQuoteBody"])
        check(len(body) == 432, f"{name}: 432-byte quote body")
        data = open(evidence, "rb").read()
        if intel:
            rd = bytes.fromhex(v["body"]["reportdata"]["value"])
        else:
            rd = bytes.fromhex(v["report"]["report_data"])
        check(body[368:432] == rd, f"{name}: report data at 368")
        if name.startswith("sgx"):
            check(body == data[:432], f"{name}: the quote's own header and body")
        # The same quote mutated: no report.
        bad = bytearray(data)
        bad[v["body"]["reportdata"]["offset"] if intel else 0x50] ^= 1
        badfile = os.path.join(tmp, name + ".bad")
        open(badfile, "wb").write(bytes(bad))
        out2 = os.path.join(tmp, name + ".out2")
        os.mkdir(out2)
        args[3], args[5] = badfile, out2
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        check(p.returncode == 1 and not os.path.exists(os.path.join(out2, "report.json")),
              f"{name}: mutated evidence refused ({p.stderr.strip()})")
    # A forged report: one byte changed fails the independent check.
    out = os.path.join(tmp, "tdx_v4_dcapqvl")
    if os.path.exists(os.path.join(out, "report.json")):
        text = open(os.path.join(out, "report.json"), "rb").read().replace(b'"OK"', b'"Ok"')
        open(os.path.join(out, "report.json"), "wb").write(text)
        try:
            verify(out, authority)
            check(False, "a changed report is refused by the independent check")
        except Exception:  # noqa: BLE001
            check(True, "a changed report is refused by the independent check")
print(f"{failures} failed")
sys.exit(1 if failures else 0)
