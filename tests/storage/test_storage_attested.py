#!/usr/bin/python3
"""steep-storage as a real process with attestation, from its config.

Key material and enclave_info are made with steep-tee (as an operator
would). Copies of storage_peer with different trailing bytes play the
management, scheduler and frontend services (the sim back-end measures the
executable). Checks: management and scheduler are served; frontend and an
unlisted peer are refused; SIGTERM stops the service cleanly; data survives
a restart and a SIGKILL; a different sealing master key, a corrupt store and bad limits
stop the service from starting, with a message.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("STEEP_BIN", "build/bin")
TEE = os.path.join(BIN, "steep-tee")
STORAGE = os.path.join(BIN, "steep-storage")
PEER = os.path.join(BIN, "storage_peer")
failures = []


def run(*args):
    return subprocess.run(list(args), check=True, capture_output=True, text=True)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_platform(root):
    run(TEE, "authority", "init", "--dir", os.path.join(root, "authority"))
    run(TEE, "platform-key", "init", "--dir", root)
    run(TEE, "master-key", "init", "--out", os.path.join(root, "master.key"))
    run(TEE, "auditor", "keygen", "auditor", "--dir", root)
    os.makedirs(os.path.join(root, "bin"))
    peers = {}
    for name in ["management", "scheduler", "frontend", "stranger"]:
        path = os.path.join(root, "bin", name)
        shutil.copyfile(PEER, path)
        with open(path, "ab") as f:
            f.write(b"\0steep-storage-test-peer-" + name.encode())
        os.chmod(path, 0o755)
        peers[name] = path
    entries = ["--entry", "teaclave_storage_service=" + STORAGE]
    for name in ["management", "scheduler", "frontend"]:
        entries += ["--entry", "teaclave_%s_service=%s" % (name, peers[name])]
    info = os.path.join(root, "enclave_info.toml")
    run(TEE, "enclave-info", "--signer-pub", os.path.join(root, "platform_signing.pub.pem"),
        "--out", info, *entries)
    run(TEE, "auditor", "sign", "--key", os.path.join(root, "auditor.private.pem"), info,
        "--out", os.path.join(root, "auditor.sign.sha256"))
    return peers


def write_config(root, port, extra=""):
    ports = {name: free_port() for name in
             ["authentication", "management", "access_control", "execution", "scheduler"]}
    ports["storage"] = port
    lines = ["[api_endpoints]",
             'authentication = { listen_address = "127.0.0.1:%d" }' % free_port(),
             'frontend = { listen_address = "127.0.0.1:%d" }' % free_port(),
             "", "[internal_endpoints]"]
    for name, p in ports.items():
        lines.append('%s = { listen_address = "127.0.0.1:%d", advertised_address = '
                     '"https://localhost:%d" }' % (name, p, p))
    lines += ["", "[audit]", 'enclave_info = { path = "enclave_info.toml" }',
              'auditor_signatures = [ { path = "auditor.sign.sha256" } ]',
              "", "[attestation]", 'algorithm = "sim"',
              "", "[steep]", 'data_dir = "data"',
              "", "[tee]", 'backend = "sim"', "allow_simulation = true",
              'as_root_ca_cert = "authority/as_root_ca_cert.pem"',
              'authority_key = "authority/authority_signing.key.pem"',
              'authority_cert = "authority/authority_signing.cert.pem"',
              'platform_public_key = "platform_signing.pub.pem"',
              'master_key = "master.key"',
              'auditor_public_keys = ["auditor.public.pem"]', "", extra, ""]
    path = os.path.join(root, "steep.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


class Storage:
    def __init__(self, config, port):
        self.proc = subprocess.Popen([STORAGE, "--config", config], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        while time.time() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("steep-storage did not start: " + self.proc.communicate()[1])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, err


def peer(exe, config, name, *args):
    p = subprocess.run([exe, config, name, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def start_fails(config):
    p = subprocess.run([STORAGE, "--config", config], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stderr


def main():
    root = tempfile.mkdtemp(prefix="steep-storage-attested-")
    try:
        peers = make_platform(root)
        port = free_port()
        config = write_config(root, port)
        storage = Storage(config, port)

        rc, _, err = peer(peers["management"], config, "teaclave_management_service",
                          "put", "task-1", "staged")
        check(rc == 0, "management may Put (%s)" % err.strip()[-200:])
        rc, out, _ = peer(peers["scheduler"], config, "teaclave_scheduler_service",
                          "get", "task-1")
        check(rc == 0 and out == "value staged\n", "scheduler may Get (%r)" % out)
        rc, _, _ = peer(peers["scheduler"], config, "teaclave_scheduler_service",
                        "get", "task-2")
        check(rc == 3, "a missing key is NOT_FOUND")
        rc, out, err = peer(peers["frontend"], config, "teaclave_frontend_service",
                            "get", "task-1")
        check(rc == 1 and "value" not in out, "frontend is refused (%s)" % err.strip()[-200:])
        rc, out, _ = peer(peers["stranger"], config, "teaclave_management_service",
                          "get", "task-1")
        check(rc != 0 and "value" not in out, "a peer not in enclave_info is refused")

        code, err = storage.stop()
        check(code == 0 and "stopping on signal" in err, "SIGTERM stops it cleanly")
        check("staged" not in err, "values never reach the log")

        storage = Storage(config, port)
        rc, out, _ = peer(peers["management"], config, "teaclave_management_service",
                          "get", "task-1")
        check(rc == 0 and out == "value staged\n", "data survives a restart")
        rc, _, _ = peer(peers["management"], config, "teaclave_management_service",
                        "put", "task-2", "acknowledged")
        storage.proc.kill()
        storage.proc.communicate(timeout=20)
        storage = Storage(config, port)
        rc2, out, _ = peer(peers["scheduler"], config, "teaclave_scheduler_service",
                           "get", "task-2")
        check(rc == 0 and rc2 == 0 and out == "value acknowledged\n",
              "an acknowledged Put survives SIGKILL of steep-storage")
        storage.stop()

        # A different master key derives a different sealing key: refused.
        master = os.path.join(root, "master.key")
        shutil.move(master, master + ".saved")
        run(TEE, "master-key", "init", "--out", master)
        rc, err = start_fails(config)
        check(rc != 0 and "sealed under a different key" in err,
              "a store sealed under another key is refused (%s)" % err.strip()[-200:])
        shutil.move(master + ".saved", master)

        # A corrupt store directory is refused, never reset.
        store_dir = os.path.join(root, "data", "storage")
        os.remove(os.path.join(store_dir, "CURRENT"))
        rc, err = start_fails(config)
        check(rc != 0 and "cannot open store" in err,
              "a corrupt store is refused (%s)" % err.strip()[-200:])
        check(len(os.listdir(store_dir)) > 0, "the corrupt store was left in place")

        bad = write_config(root, port, "[storage]\nmax_key_bytes = 0\n")
        rc, err = start_fails(bad)
        check(rc != 0 and "max_key_bytes" in err, "a bad limit stops the start")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


main()
