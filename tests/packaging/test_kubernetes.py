#!/usr/bin/python3
"""The Kubernetes manifests (packaging/kubernetes) against what they name:
every document parses and is namespaced; the ConfigMap's steep.toml parses
and every key in it is documented in steep.toml(5); every container runs a
binary the build makes; every port a pod declares is one its service
listens on in that config (and nothing the config listens on is left out),
every Service reaches a declared port of the pods it selects, and every
advertised internal address names such a Service and port; every file the
config names under a mounted Secret is a key of that Secret, mounted where
the config expects it; the execution DaemonSet keeps exactly the
capabilities of the systemd unit."""
import glob
import os
import re
import sys
import tomllib

import yaml

src = os.environ.get("STEEP_SOURCE_DIR", os.getcwd())
bin_dir = os.environ.get("STEEP_BIN") or os.path.join(os.environ.get("STEEP_BUILD_DIR", "build"), "bin")
failures = []


def check(ok, what):
    print(("ok      " if ok else "FAILED  ") + what)
    if not ok:
        failures.append(what)


docs = []
for path in sorted(glob.glob(os.path.join(src, "packaging/kubernetes/*.yaml"))):
    try:
        loaded = [d for d in yaml.safe_load_all(open(path)) if d]
    except yaml.YAMLError as e:
        check(False, f"{os.path.basename(path)} parses: {e}")
        continue
    check(bool(loaded), f"{os.path.basename(path)} parses")
    docs += loaded
for d in docs:
    named = all(k in d for k in ("apiVersion", "kind", "metadata")) and d["metadata"].get("name")
    check(bool(named) and (d["kind"] == "Namespace" or d["metadata"].get("namespace") == "steep"),
          f"{d.get('kind')} {d.get('metadata', {}).get('name')}: apiVersion, kind, name, namespace steep")

by_kind = lambda kind: [d for d in docs if d["kind"] == kind]
config_maps = [d for d in by_kind("ConfigMap") if d["metadata"]["name"] == "steep-config"]
check(len(config_maps) == 1, "one ConfigMap steep-config")
config = tomllib.loads(config_maps[0]["data"]["steep.toml"])

# Keys: Steep's tables as steep.toml(5) lists them (".B table.key").
page = open(os.path.join(src, "man/steep.toml.5")).read()
documented = set(re.findall(r"^\.B ([a-z_]+\.[a-z0-9_]+)$", page, re.M))
teaclave = {"api_endpoints", "internal_endpoints", "audit", "attestation", "mount"}
for table, keys in config.items():
    for key in keys:
        if table in teaclave:
            check(re.search(rf"\b{table}\b", page) is not None and re.search(rf"\b{key}\b", page) is not None,
                  f"[{table}] {key} is named in steep.toml(5)")
        else:
            check(f"{table}.{key}" in documented, f"[{table}] {key} is documented in steep.toml(5)")


def port_of(address):
    return int(address.rsplit(":", 1)[1])


# What each service listens on, by its pod name.
listens = {
    "steep-storage": {port_of(config["internal_endpoints"]["storage"]["listen_address"])},
    "steep-access-control": {port_of(config["internal_endpoints"]["access_control"]["listen_address"])},
    "steep-authentication": {port_of(config["api_endpoints"]["authentication"]["listen_address"]),
                             port_of(config["internal_endpoints"]["authentication"]["listen_address"])},
    "steep-management": {port_of(config["internal_endpoints"]["management"]["listen_address"])},
    "steep-scheduler": {port_of(config["internal_endpoints"]["scheduler"]["listen_address"])},
    "steep-frontend": {port_of(config["api_endpoints"]["frontend"]["listen_address"])},
    "steep-execution": set(),  # never listens
}
workloads = by_kind("Deployment") + by_kind("DaemonSet")
check({w["metadata"]["name"] for w in workloads} == set(listens),
      "a workload for every service: " + ", ".join(sorted(listens)))
pods = {}
for w in workloads:
    name = w["metadata"]["name"]
    spec = w["spec"]["template"]["spec"]
    labels = w["spec"]["template"]["metadata"]["labels"]
    check(w["spec"]["selector"]["matchLabels"].items() <= labels.items(), f"{name}: its selector matches its pods")
    declared = set()
    for c in spec["containers"]:
        exe = c["command"][0]
        check(os.access(os.path.join(bin_dir, os.path.basename(exe)), os.X_OK),
              f"{name}: {exe} is a binary the build makes")
        check(c["command"][1:3] == ["--config", "/etc/steep/steep.toml"], f"{name}: reads /etc/steep/steep.toml")
        declared |= {p["containerPort"] for p in c.get("ports", [])}
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in spec["volumes"]}
        check(volumes.get(mounts.get("/etc/steep/steep.toml"), {}).get("configMap", {}).get("name") == "steep-config",
              f"{name}: /etc/steep/steep.toml is the ConfigMap")
        # every file of the config under a mounted Secret is a key of it
        secrets = {path: volumes[vol]["secret"]["secretName"] for path, vol in mounts.items()
                   if "secret" in volumes.get(vol, {})}
        files = re.findall(r'"(/etc/steep/[^"]+)"', config_maps[0]["data"]["steep.toml"])
        for f in files:
            directory, base = os.path.split(f)
            if directory == "/etc/steep/etcd" and name != "steep-storage":
                continue  # only storage talks to etcd
            secret_name = secrets.get(directory)
            secret = [s for s in by_kind("Secret") if s["metadata"]["name"] == secret_name]
            check(bool(secret) and base in secret[0].get("stringData", secret[0].get("data", {})),
                  f"{name}: {f} comes from a Secret key")
    check(declared == listens[name], f"{name}: declares ports {sorted(declared)}, listens on {sorted(listens[name])}")
    pods[name] = (labels, declared)

for s in by_kind("Service"):
    selector = s["spec"]["selector"]
    targets = set().union(*[ports for labels, ports in pods.values() if selector.items() <= labels.items()] or [set()])
    for p in s["spec"]["ports"]:
        check(p["targetPort"] in targets, f"Service {s['metadata']['name']}: port {p['targetPort']} reaches a pod")
services = {s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]} for s in by_kind("Service")}
for name, endpoint in config["internal_endpoints"].items():
    if name == "execution":
        continue  # advertised only
    m = re.fullmatch(r"https://([^:/]+):(\d+)", endpoint["advertised_address"])
    check(bool(m) and int(m.group(2)) in services.get(m.group(1), set()),
          f"internal endpoint {name}: {endpoint['advertised_address']} is a Service and port")

unit = open(os.path.join(src, "packaging/systemd/steep-execution.service.in")).read()
unit_caps = set(re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1).split())
daemon = by_kind("DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0]
added = {"CAP_" + c for c in daemon["securityContext"]["capabilities"]["add"]}
check(added == unit_caps, f"execution keeps the systemd unit's capabilities {sorted(unit_caps)}")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
