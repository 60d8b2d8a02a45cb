#!/usr/bin/python3
"""Syntax check of the Gramine manifest templates (packaging/gramine): one per
service executable Steep builds; each renders (with Gramine's template
variables given plausible values, any other placeholder being an error) to
TOML that parses, runs its own executable, attests with DCAP, is not a
debug enclave, measures its executable, and seals persistent mounts to
MRSIGNER. Whether Gramine accepts them beyond that needs Gramine and an SGX
machine, neither of which is here (Gramine is not packaged for Debian)."""
import os
import re
import sys
import tomllib

SRC = os.environ.get("STEEP_SOURCE_DIR", ".")
DIR = os.path.join(SRC, "packaging", "gramine")
VALUES = {
    "steep_bindir": "/usr/bin",
    "arch_libdir": "/lib/x86_64-linux-gnu",
    "log_level": "error",
    "gramine.runtimedir()": "/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc",
}
# The services, as lib/tee/enclave_info.c names their executables.
text = open(os.path.join(SRC, "lib", "tee", "enclave_info.c")).read()
services = re.findall(r'\{"(steep-[a-z-]+)", "teaclave_[a-z_]+"\}', text)
failures = 0


def check(cond, what):
    global failures
    print(("ok      " if cond else "FAILED  ") + what)
    failures += 0 if cond else 1


check(len(services) == 7, f"seven services in enclave_info.c ({len(services)})")
templates = sorted(f for f in os.listdir(DIR) if f.endswith(".manifest.template"))
check(sorted(s + ".manifest.template" for s in services) == templates,
      "one template per service, and no other")
for exe in services:
    path = os.path.join(DIR, exe + ".manifest.template")
    if not os.path.exists(path):
        continue
    raw = open(path).read()
    unknown = [m for m in re.findall(r"\{\{\s*(.*?)\s*\}\}", raw) if m not in VALUES]
    check(not unknown, f"{exe}: only known template variables ({unknown})")
    rendered = re.sub(r"\{\{\s*(.*?)\s*\}\}", lambda m: VALUES.get(m.group(1), "?"), raw)
    try:
        manifest = tomllib.loads(rendered)
    except tomllib.TOMLDecodeError as e:
        check(False, f"{exe}: TOML: {e}")
        continue
    libos, sgx, loader = manifest["libos"], manifest["sgx"], manifest["loader"]
    entry = libos["entrypoint"]
    check(entry == "/usr/bin/" + exe, f"{exe}: entrypoint {entry}")
    check(loader["argv"][0] == exe and "--config" in loader["argv"], f"{exe}: argv")
    check(sgx["remote_attestation"] == "dcap", f"{exe}: DCAP attestation")
    check(sgx["debug"] is False, f"{exe}: not a debug enclave")
    check("file:" + entry in sgx["trusted_files"], f"{exe}: its executable is measured")
    for mount in manifest["fs"]["mounts"]:
        if mount.get("type") == "encrypted":
            check(mount.get("key_name") == "_sgx_mrsigner",
                  f"{exe}: {mount['path']} sealed to MRSIGNER")
print(f"{failures} failed")
sys.exit(1 if failures else 0)
