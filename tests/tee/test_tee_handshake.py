#!/usr/bin/python3
"""Mutually attested handshakes between real processes over lib/rpc.

Copies of tests/tee/tee_rpc_peer with different trailing bytes are different
"services" (the sim back-end measures the executable). The key material and
enclave_info are made with steep-tee, as an operator would. Checks: an
allowed peer connects and is named; a listed but not inbound peer, an
unlisted one, a plain self-signed certificate and no certificate are
refused; a client pinned to another service refuses the server; one-way
endpoints ask for no certificate; evidence renews while a connection stays
up; a bad or missing auditor signature stops the server from starting.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("STEEP_BIN", "build/bin")
TEE = os.path.join(BIN, "steep-tee")
PEER = os.path.join(BIN, "tee_rpc_peer")
failures = []


def run(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def make_keys(root):
    run(TEE, "authority", "init", "--dir", os.path.join(root, "authority"), "--bits", "2048")
    run(TEE, "platform-key", "init", "--dir", root, "--bits", "2048")
    run(TEE, "master-key", "init", "--out", os.path.join(root, "master.key"))
    run(TEE, "auditor", "keygen", "auditor", "--dir", root, "--bits", "2048")
    os.makedirs(os.path.join(root, "bin"))
    exes = {}
    for name in ["frontend", "storage", "management", "access_control", "stranger"]:
        path = os.path.join(root, "bin", name)
        shutil.copyfile(PEER, path)
        with open(path, "ab") as f:
            f.write(b"\0steep-test-service-" + name.encode())
        os.chmod(path, 0o755)
        exes[name] = path
    entries = []
    for name in ["frontend", "storage", "management", "access_control"]:
        entries += ["--entry", "teaclave_%s_service=%s" % (name, exes[name])]
    info = os.path.join(root, "enclave_info.toml")
    run(TEE, "enclave-info", "--signer-pub", os.path.join(root, "platform_signing.pub.pem"),
        "--out", info, *entries)
    run(TEE, "auditor", "sign", "--key", os.path.join(root, "auditor.private.pem"), info,
        "--out", os.path.join(root, "auditor.sign.sha256"))
    return exes


class Server:
    def __init__(self, exe, keys, name, inbound, validity=0):
        self.proc = subprocess.Popen([exe, "server", keys, name, inbound, str(validity)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            self.proc.wait(10)
            raise RuntimeError("server did not start: " + line + self.proc.stderr.read())
        self.address = "127.0.0.1:" + line.split()[1]

    def stop(self):
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=20)
        return out, err


def client(exe, keys, address, pin, calls=1, pause_ms=0, mode="attested"):
    p = subprocess.run([exe, "client", keys, address, pin, str(calls), str(pause_ms), mode],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def main():
    work = tempfile.mkdtemp(prefix="steep-tee-handshake-")
    try:
        keys = work
        exes = make_keys(keys)
        storage = Server(exes["storage"], keys, "teaclave_storage_service",
                         "teaclave_frontend_service,teaclave_management_service", validity=2)
        pin = "teaclave_storage_service"

        rc, out, err = client(exes["frontend"], keys, storage.address, pin)
        check(rc == 0 and "reply teaclave_frontend_service" in out,
              "allowed peer connects and is named teaclave_frontend_service (%r)" % out)
        rc, out, _ = client(exes["management"], keys, storage.address, pin)
        check(rc == 0 and "reply teaclave_management_service" in out,
              "second inbound peer is named teaclave_management_service")

        rc, out, _ = client(exes["access_control"], keys, storage.address, pin)
        check(rc != 0 and "reply" not in out, "listed but not inbound peer is refused")
        rc, out, _ = client(exes["stranger"], keys, storage.address, pin)
        check(rc != 0 and "reply" not in out, "peer not in enclave_info is refused")
        rc, out, _ = client(exes["frontend"], keys, storage.address, pin, mode="plain")
        check(rc != 0 and "reply" not in out, "plain self-signed certificate is refused")
        rc, out, _ = client(exes["frontend"], keys, storage.address, pin, mode="nocert")
        check(rc != 0 and "reply" not in out, "client without a certificate is refused")

        rc, out, err = client(exes["frontend"], keys, storage.address,
                              "teaclave_management_service")
        check(rc != 0 and "reply" not in out and "measurement not accepted" in err,
              "client pinned to another service refuses the server")

        # Renewal: the server's evidence validity is 2 s (renewed at 1.8 s).
        rc, out, _ = client(exes["frontend"], keys, storage.address, pin, calls=3,
                            pause_ms=1300)
        check(rc == 0 and out.count("reply teaclave_frontend_service") == 3
              and "verify-runs 1" in out,
              "three calls on one connection across a renewal (%r)" % out)
        first = [l for l in out.splitlines() if l.startswith("server-cert")]
        rc, out, _ = client(exes["frontend"], keys, storage.address, pin)
        second = [l for l in out.splitlines() if l.startswith("server-cert")]
        check(rc == 0 and first and second and first[0] != second[0],
              "a new connection gets the renewed certificate")
        out, err = storage.stop()
        generations = [int(l.split()[1]) for l in out.splitlines() if l.startswith("generation")]
        check(generations and generations[0] >= 2, "server renewed its evidence (%r)" % out)
        check("peer attestation refused" in err, "refusals are logged with their reason")

        public = Server(exes["frontend"], keys, "teaclave_frontend_service", "-")
        rc, out, _ = client(exes["stranger"], keys, public.address, "teaclave_frontend_service")
        check(rc == 0 and "reply \n" in out + "\n",
              "one-way endpoint serves a client it does not attest")
        public.stop()

        bad = os.path.join(work, "auditor.sign.sha256")
        sig = bytearray(open(bad, "rb").read())
        sig[10] ^= 1
        open(bad, "wb").write(bytes(sig))
        p = subprocess.run([exes["storage"], "server", keys, "teaclave_storage_service",
                            "teaclave_frontend_service"], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode != 0 and "does not verify" in p.stderr,
              "bad auditor signature: the service refuses to start")
        os.unlink(bad)
        p = subprocess.run([exes["storage"], "server", keys, "teaclave_storage_service",
                            "teaclave_frontend_service"], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode != 0 and "auditor.sign.sha256" in p.stderr,
              "missing auditor signature: the service refuses to start")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = 14
    print("%d passed, %d failed" % (total - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
