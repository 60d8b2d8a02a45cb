#!/usr/bin/env bash
# The systemd units as `cmake --install` writes them (packaging/systemd/*.in
# filled in with the install's prefix) pass `systemd-analyze verify`: syntax,
# known options, existing executables, and the man pages their
# Documentation= names, found among the installed pages. Then what verify
# does not know: every service unit is Type=notify with a watchdog and a
# restart policy, hardened, and only the execution unit keeps capabilities.
set -euo pipefail
build=${STEEP_BUILD_DIR:?}
prefix=$(mktemp -d /tmp/steep-units.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
units=$prefix/lib/systemd/system
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAILED  $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

services="storage access-control authentication management scheduler frontend execution"
# Hardware platforms only: installed and hardened like the others, not wanted by steep.target.
optional="attestation-authority"
for s in $services $optional; do [ -f "$units/steep-$s.service" ] || fail "steep-$s.service not installed"; done
[ -f "$units/steep.target" ] || fail "steep.target not installed"

if out=$(MANPATH=$prefix/share/man SYSTEMD_LOG_LEVEL=notice \
           systemd-analyze verify --man=yes "$units"/steep-*.service "$units/steep.target" 2>&1) \
   && [ -z "$out" ]; then
  ok "systemd-analyze verify: no complaint about any unit"
else
  fail "systemd-analyze verify" "$out"
fi

key() { sed -n "s/^$2=//p" "$units/$1"; }
for s in $services $optional; do
  u=steep-$s.service
  [ "$(key "$u" Type)" = notify ] && [ -n "$(key "$u" WatchdogSec)" ] \
    && [ "$(key "$u" Restart)" = on-failure ] && [ "$(key "$u" ProtectSystem)" = strict ] \
    && [ "$(key "$u" NoNewPrivileges)" = yes ] && [ "$(key "$u" PrivateTmp)" = yes ] \
    && [ "$(key "$u" StateDirectory)" = steep ] && [ "$(key "$u" PartOf)" = steep.target ] \
    && [ -x "$(key "$u" ExecStart | cut -d' ' -f1)" ] \
    && ok "$u: notify, watchdog, restart, hardened, runs $(key "$u" ExecStart | cut -d' ' -f1 | xargs basename)" \
    || fail "$u settings" "$(grep -E '^(Type|WatchdogSec|Restart|ProtectSystem|NoNewPrivileges|PrivateTmp|StateDirectory|PartOf|ExecStart)=' "$units/$u")"
  caps=$(key "$u" CapabilityBoundingSet)
  if [ "$s" = execution ]; then
    want="CAP_SYS_ADMIN CAP_SYS_CHROOT CAP_SETUID CAP_SETGID"
    missing=""; for c in $want; do grep -qw "$c" <<<"$caps" || missing="$missing $c"; done
    [ -z "$missing" ] && ! grep -q '^RestrictNamespaces=' "$units/$u" \
      && ok "$u keeps the sandbox's capabilities and namespaces" || fail "$u sandbox needs:$missing"
  else
    [ -z "$caps" ] && grep -q '^CapabilityBoundingSet=$' "$units/$u" && grep -q '^RestrictNamespaces=yes' "$units/$u" \
      && ok "$u has no capabilities" || fail "$u capabilities: '$caps'"
  fi
done
wants=$(key steep.target Wants)
for s in $services; do grep -qw "steep-$s.service" <<<"$wants" || fail "steep.target does not want steep-$s"; done
ok "steep.target wants every service"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
