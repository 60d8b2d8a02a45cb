#!/usr/bin/env bash
# steep.toml(5) documents exactly the configuration keys the code reads.
# The code's keys are the "section.key" string literals of the C sources of
# lib/, services/ and executors/ whose section is a table of steep.toml
# (that is how every getter, steep_config_get_*(cfg, "execution.slots", ...),
# and Teaclave's validation in lib/core/config.c name them); the page's keys
# are its ".TP" entries written ".B section.key". Each list must contain the
# other. internal_endpoints.NAME.* is built from the endpoint names at run
# time and is documented as one entry.
set -euo pipefail
src=${STEEP_SOURCE_DIR:-$PWD}
page=$src/man/steep.toml.5
# Teaclave's tables, plus every table a getter is called on (so a new
# table, e.g. [log], is picked up without editing this test).
getter_sections=$(grep -rhoE --include='*.c' 'steep_config_get_[a-z_]+\([^,]+,[[:space:]]*"[a-z0-9_]+\.' \
                    "$src/lib" "$src/services" "$src/executors" | sed -E 's/.*"([a-z0-9_]+)\.$/\1/' | sort -u)
# [admin] is read through a table of its keys (lib/service/ops.c), not a getter call.
sections=$(printf '%s\n' api_endpoints internal_endpoints audit attestation mount admin $getter_sections \
             | sort -u | paste -sd'|')
code_keys=$(grep -rhoE --include='*.c' "\"($sections)\.[a-z0-9_]+(\.[a-z0-9_]+)*\"" \
              "$src/lib" "$src/services" "$src/executors" | tr -d '"' | grep -vE '\.(c|h)$' | sort -u)
page_keys=$(awk 'prev == ".TP" && $1 == ".B" && NF == 2 { print $2 } { prev = $1 }' "$page" \
              | sed 's/\\-/-/g' | sort -u)
[ -n "$code_keys" ] || { echo "no keys found in the code (pattern broken?)"; exit 1; }
[ "$(wc -l <<<"$code_keys")" -ge 40 ] || { echo "only $(wc -l <<<"$code_keys") keys found in the code"; exit 1; }
undocumented=$(comm -23 <(echo "$code_keys") <(echo "$page_keys"))
stale=$(comm -13 <(echo "$code_keys") <(echo "$page_keys"))
status=0
if [ -n "$undocumented" ]; then
  echo "FAILED  keys read by the code but missing from man/steep.toml.5:"; sed 's/^/    /' <<<"$undocumented"
  echo "  where:"; for k in $undocumented; do grep -rnF --include='*.c' "\"$k\"" "$src/lib" "$src/services" "$src/executors" | sed 's/^/    /' | head -n 2; done
  status=1
fi
if [ -n "$stale" ]; then
  echo "FAILED  keys in man/steep.toml.5 that no code reads:"; sed 's/^/    /' <<<"$stale"; status=1
fi
# The internal endpoints are documented by pattern; the names it lists must be the code's.
for name in access_control authentication management storage execution scheduler; do
  grep -q "^\.BR.*\b$name\b\|^\.BR.*\b$name\b" "$page" || { echo "FAILED  internal endpoint $name not named"; status=1; }
done
# The page renders without warnings.
warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
[ -z "$warnings" ] || { echo "FAILED  man warnings:"; echo "$warnings"; status=1; }
[ $status = 0 ] && echo "ok      $(wc -l <<<"$code_keys") keys, code and steep.toml(5) agree"
exit $status
