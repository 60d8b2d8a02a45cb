#!/usr/bin/env bash
# steep-access-control refuses to start on a bad policy, printing
# file:line:column, and on a missing policy directory; usage errors exit 2.
set -euo pipefail
bin=${STEEP_BIN:?}/steep-access-control
dir=$(mktemp -d /tmp/steep-acs-bad-XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/policies"
touch "$dir/enclave_info.toml"
cat >"$dir/steep.toml" <<TOML
[api_endpoints]
authentication = { listen_address = "127.0.0.1:0" }
frontend = { listen_address = "127.0.0.1:0" }
[internal_endpoints]
access_control = { listen_address = "127.0.0.1:0", advertised_address = "https://localhost:1" }
authentication = { listen_address = "127.0.0.1:0", advertised_address = "https://localhost:1" }
management = { listen_address = "127.0.0.1:0", advertised_address = "https://localhost:1" }
storage = { listen_address = "127.0.0.1:0", advertised_address = "https://localhost:1" }
execution = { listen_address = "127.0.0.1:0", advertised_address = "https://localhost:1" }
scheduler = { listen_address = "127.0.0.1:0", advertised_address = "https://localhost:1" }
[audit]
enclave_info = { path = "enclave_info.toml" }
auditor_signatures = []
[attestation]
algorithm = "sim"
[steep]
data_dir = "data"
[access_control]
policy_dir = "policies"
TOML
printf '[requests]\nr = a\n[matchers]\nr = r.b == "x"\n' >"$dir/policies/bad.policy"

status=0
"$bin" --config "$dir/steep.toml" 2>"$dir/err" || status=$?
[ "$status" = 1 ] || { echo "bad policy: exit $status, expected 1"; cat "$dir/err"; exit 1; }
grep -q "policies/bad.policy:4:5: request 'r' has no field 'b'" "$dir/err" ||
  { echo "bad policy: message missing"; cat "$dir/err"; exit 1; }

rm "$dir/policies/bad.policy"
status=0
"$bin" --config "$dir/steep.toml" 2>"$dir/err" || status=$?
[ "$status" = 1 ] && grep -q "no \*.policy file in" "$dir/err" ||
  { echo "empty policy dir: exit $status"; cat "$dir/err"; exit 1; }

status=0
"$bin" 2>/dev/null || status=$?
[ "$status" = 2 ] || { echo "usage: exit $status, expected 2"; exit 1; }
echo "bad_policy: ok"
