#!/usr/bin/python3
"""`steep attest --evidence FILE --collateral DIR [--at TIME] [--json]` on the
real vectors of fixtures/hw-attestation: each at its pinned instant gives
expected.json's status and advisories and the exit code its policy implies
(0 accepted, 1 refused); outside its window, with another vector's
collateral, or altered, it is refused with a reason; the policy options
widen exactly what they name; bad usage exits 2."""
import json
import os
import subprocess
import sys
import tempfile

SHARED = os.environ.get("STEEP_SHARED_DIR", "../shared")
FIX = os.path.join(SHARED, "fixtures", "hw-attestation")
STEEP = os.path.join(os.environ.get("STEEP_BIN", "build/bin"), "steep")
EXPECTED = json.load(open(os.path.join(FIX, "expected.json")))
VECTORS = EXPECTED["vectors"]
failures = 0


def check(cond, what):
    global failures
    print(("ok      " if cond else "FAILED  ") + what)
    if not cond:
        failures += 1


def attest(evidence, collateral, at, *extra):
    args = [STEEP, "attest", "--evidence", evidence, "--collateral", collateral, "--json"]
    if at:
        args += ["--at", at]
    p = subprocess.run(args + list(extra), capture_output=True, text=True, timeout=60)
    try:
        out = json.loads(p.stdout) if p.stdout.strip() else None
    except ValueError:
        out = None
    return p.returncode, out, p.stderr


def evidence_of(name):
    return os.path.join(FIX, VECTORS[name]["file"])


for name, v in VECTORS.items():
    if "file" not in v:
        continue  # the Turin chain has no report
    ev, col, at = evidence_of(name), os.path.join(FIX, name), v["pinned_time"]
    rc, out, err = attest(ev, col, at)
    intel = not name.startswith("snp")
    if intel:
        status = v["expected_tcb_status"]
        check(out is not None and out["status"] == status, f"{name}: status {status}")
        check(out is not None and out["advisories"] == v["expected_advisory_ids"],
              f"{name}: advisories {v['expected_advisory_ids']}")
        kind = "sgx" if name.startswith("sgx") else "tdx"
        want_rc = 0 if status == "UpToDate" else 1
    else:
        kind = "snp"
        debug = bool(int(v["report"]["policy"], 16) & (1 << 19))
        check(out is not None and out["debug"] == debug, f"{name}: debug {debug}")
        check(out is not None and out["measurements"]["measurement"] == v["report"]["measurement"],
              f"{name}: measurement")
        want_rc = 1 if debug else 0
    check(out is not None and out["kind"] == kind, f"{name}: kind {kind}")
    check(rc == want_rc, f"{name}: exit {want_rc} (got {rc}; {out and out.get('reason')})")
    check(out is not None and (out["reason"] is None) == (want_rc == 0),
          f"{name}: a reason exactly when refused")
    if kind == "tdx" and out:
        check(out["measurements"]["mr_td"] == v["body"]["mrtd"]["value"], f"{name}: mr_td")
    if kind == "sgx" and out:
        check(out["measurements"]["mr_enclave"] == v["body"]["mrenclave"]["value"],
              f"{name}: mr_enclave")
    # Outside the window: refused, with the reason.
    rc, out, _ = attest(ev, col, "2001-01-01T00:00:00Z")
    check(rc == 1 and out and out["status"] is None and "not" in out["reason"],
          f"{name}: refused in 2001 ({out and out['reason']})")
    rc, out, _ = attest(ev, col, "2060-01-01T00:00:00Z")
    check(rc == 1 and out is not None and ("expired" in out["reason"] or "stale" in out["reason"]),
          f"{name}: refused in 2060 ({out and out['reason']})")

# The SGX vector is accepted only with its status and both advisories listed.
sgx = "sgx_v3_dcapqvl"
ev, col, at = evidence_of(sgx), os.path.join(FIX, sgx), VECTORS[sgx]["pinned_time"]
st = ["--accept-status", "ConfigurationAndSWHardeningNeeded"]
rc, out, _ = attest(ev, col, at, *st, "--accept-advisory", "INTEL-SA-00289")
check(rc == 1 and "INTEL-SA-00615" in out["reason"], "sgx: one advisory missing is refused")
rc, out, _ = attest(ev, col, at, *st, "--accept-advisory", "INTEL-SA-00289",
                    "--accept-advisory", "INTEL-SA-00615")
check(rc == 0 and out["accepted"], "sgx: status and both advisories listed: accepted")
rc, out, err = attest(ev, col, at, "--accept-status", "Revoked")
check(rc == 2 and "can never be accepted" in err, "Revoked cannot be listed (usage error)")
rc, out, err = attest(ev, col, "yesterday")
check(rc == 2 and "RFC 3339" in err, "a bad --at is a usage error")

# Debug: the gosev guest is accepted only with --allow-debug.
g = "snp_milan_gosev"
rc, out, _ = attest(evidence_of(g), os.path.join(FIX, g), VECTORS[g]["pinned_time"],
                    "--allow-debug")
check(rc == 0, "snp_milan_gosev: accepted with --allow-debug")

# Measurements pinned by --enclave-info.
tdx = "tdx_v4_dcapqvl"
with tempfile.TemporaryDirectory() as tmp:
    info = os.path.join(tmp, "enclave_info.toml")
    mrtd = VECTORS[tdx]["body"]["mrtd"]["value"]
    with open(info, "w") as f:
        f.write(f'[tdx_guest]\ntdx_mrtd = "{mrtd}"\n')
    ev, col, at = evidence_of(tdx), os.path.join(FIX, tdx), VECTORS[tdx]["pinned_time"]
    rc, out, _ = attest(ev, col, at, "--enclave-info", info)
    check(rc == 0, "tdx: accepted with its MRTD pinned")
    with open(info, "w") as f:
        f.write(f'[tdx_guest]\ntdx_mrtd = "{"0" * 96}"\n')
    rc, out, _ = attest(ev, col, at, "--enclave-info", info)
    check(rc == 1 and "measurement not accepted: MRTD" in out["reason"],
          "tdx: another MRTD pinned: refused")
    # Collateral of another platform, and an altered quote.
    rc, out, _ = attest(ev, os.path.join(FIX, "tdx_v5_gotdx"), at)
    check(rc == 1 and out["status"] is None, f"tdx: another vector's collateral refused "
          f"({out and out['reason']})")
    data = bytearray(open(ev, "rb").read())
    data[VECTORS[tdx]["body"]["reportdata"]["offset"]] ^= 1
    bad = os.path.join(tmp, "quote.bin")
    open(bad, "wb").write(bytes(data))
    rc, out, _ = attest(bad, col, at)
    check(rc == 1 and "quote signature does not verify" in out["reason"] and out["kind"] == "tdx",
          "tdx: altered quote refused, kind still told")
    open(bad, "wb").write(b"not evidence at all")
    rc, out, _ = attest(bad, col, at)
    check(rc == 1 and out["kind"] == "unknown", "garbage: kind unknown, refused")

# Text output names the verdict.
p = subprocess.run([STEEP, "attest", "--evidence", evidence_of(tdx), "--collateral",
                    os.path.join(FIX, tdx), "--at", VECTORS[tdx]["pinned_time"]],
                   capture_output=True, text=True)
check(p.returncode == 0 and "verdict       ACCEPTED" in p.stdout and "UpToDate" in p.stdout,
      "text output: status and verdict")
p = subprocess.run([STEEP, "attest", "--evidence", evidence_of(tdx)], capture_output=True,
                   text=True)
check(p.returncode == 2, "--evidence without --collateral is a usage error")

print(f"{failures} failed")
sys.exit(1 if failures else 0)
